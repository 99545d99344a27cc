"""Which Keras backend a process runs on, chosen by dlrun before Keras is imported, and importing
it quietly.

Keras 3 reads its backend once, at import, from KERAS_BACKEND or ~/.keras/keras.json. dlrun sets
KERAS_BACKEND itself from the spec (`training.backend`, or `--backend`), so a user's environment
saying `torch` or `jax` cannot change what a spec runs on; a setting that differs is overridden
with a one-line note. With backend jax nothing here imports TensorFlow.

TensorFlow's and XLA's C++ start-up lines bypass Python's logging, so they are silenced at the
file-descriptor level unless --verbose.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from dlrun.errors import UserError
from dlrun.spec.backends import missing_backend

_notes: list[str] = []


def quiet_tensorflow(verbose: bool) -> None:
    """Hide TensorFlow's and XLA's C++ log noise unless --verbose (must run before they are imported)."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    else:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


def _quiet() -> bool:
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") not in ("0", "")


@contextlib.contextmanager
def native_output_quiet():
    """Hide what native runtimes (LiteRT, ONNX Runtime, TensorFlow's converters) print straight to the
    terminal, and their Python warnings, unless --verbose."""
    import logging
    import warnings

    if not _quiet():
        yield
        return
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), _stderr_silenced(True):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


@contextlib.contextmanager
def _stderr_silenced(active: bool):
    """Send file descriptor 2 to /dev/null: C++ start-up lines bypass Python's logging."""
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def keras_json_backend() -> tuple[Path, str] | None:
    """The backend named in Keras's own config file (KERAS_HOME or ~/.keras/keras.json), if any."""
    folder = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    path = Path(folder) / "keras.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return (path, value) if isinstance(value, str) else None


def running_backend() -> str | None:
    """The backend Keras already runs on in this process, or None if Keras is not imported yet."""
    if "keras" not in sys.modules:
        return None
    return sys.modules["keras"].backend.backend()


def activate(name: str, device: str = "auto", deterministic: bool = False, threads: int | None = None) -> list[str]:
    """Make `name` the backend of this process (before Keras is imported); returns the notes for the
    user (a differing environment or keras.json setting that was overridden). Repeating it is cheap.

    JAX reads its settings at first use, so the device choice (`device: cpu` hides GPUs), GPU
    determinism and the thread count of a k-fold worker are set here, as XLA options.
    """
    running = running_backend()
    if running is not None:
        if running != name:
            raise UserError(f"Keras is already running on {running} in this process, and a process cannot switch "
                            f"backends; run backend {name} in a fresh process (the dlrun command does)")
        return list(_notes)
    problem = missing_backend(name)
    if problem:
        raise UserError(problem)
    notes: list[str] = []
    env = os.environ.get("KERAS_BACKEND")
    if env and env != name:
        notes.append(f"KERAS_BACKEND={env} in the environment is overridden: this run uses {name} (training.backend)")
    elif not env:  # keras.json: Keras writes "tensorflow" there itself, so only another choice is the user's
        configured = keras_json_backend()
        if configured and configured[1] not in (name, "tensorflow"):
            notes.append(f"{configured[0]} says backend {configured[1]}; overridden: this run uses {name} "
                         f"(training.backend)")
    os.environ["KERAS_BACKEND"] = name
    if name == "jax":
        _jax_settings(device, deterministic, threads)
    _notes.extend(note for note in notes if note not in _notes)
    return list(_notes)


def activation_notes() -> list[str]:
    """The notes of this process's backend choice (an overridden KERAS_BACKEND or keras.json)."""
    return list(_notes)


def limit_threads(training, threads: int | None) -> None:
    """Size the backend of a spec's `training` section for a worker's share of the cores (before the
    backend starts): a k-fold or sweep worker process, or a Ray task. `threads` None: leave it be."""
    if not threads:
        return
    name, device, deterministic = training.backend, training.device, training.deterministic
    if name == "jax":
        activate(name, device, deterministic, threads)
        return
    activate(name, device, deterministic)
    tf = import_tensorflow()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _jax_settings(device: str, deterministic: bool, threads: int | None) -> None:
    flags = os.environ.get("XLA_FLAGS", "").split()
    if deterministic:
        flags.append("--xla_gpu_deterministic_ops=true")
    if threads == 1:  # a k-fold worker's share of the cores
        flags += ["--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1"]
    if flags:
        os.environ["XLA_FLAGS"] = " ".join(dict.fromkeys(flags))
    if device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"


def import_keras():
    """Import Keras on the activated backend without its C++ start-up noise, unless --verbose."""
    with _stderr_silenced(_quiet()):
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
        elif keras.backend.backend() == "jax":
            import jax

            jax.devices()
    return keras


def seed_everything(seed: int, tensorflow_too: bool) -> None:
    """keras.utils.set_random_seed (Python, NumPy, Keras's global seed), without importing TensorFlow
    unless `tensorflow_too`: Keras seeds TensorFlow whenever it is installed, which on JAX would load
    it (and its memory) for nothing."""
    import keras

    blocked = not tensorflow_too and "tensorflow" not in sys.modules
    if blocked:
        sys.modules["tensorflow"] = None  # an import of it fails, so Keras skips it
    try:
        keras.utils.set_random_seed(seed)
    finally:
        if blocked and sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]


def import_tensorflow():
    """Import TensorFlow (and list its devices) quietly: for the TensorFlow backend, or for a feature
    that needs TensorFlow on another backend (TensorBoard)."""
    import_keras()
    with _stderr_silenced(_quiet()):
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    if _quiet():
        tf.get_logger().setLevel("ERROR")  # e.g. retracing notices: noise for a user of a runner
    return tf


def backend_facts() -> dict:
    """The backend this process runs on, for the run record: {"backend": "jax", "backend_version": ...}."""
    import keras

    name = keras.backend.backend()  # the backend's module has the backend's name
    version = getattr(sys.modules.get(name), "__version__", None)
    return {"backend": name, "backend_version": version, "keras_version": keras.__version__}
