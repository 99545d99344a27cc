"""Device choice, seeding and precision: everything set on TensorFlow before a model exists."""

from __future__ import annotations

import contextlib
import os
import sys

from dlrun.errors import UserError
from dlrun.spec.models import TrainingSpec


def quiet_tensorflow(verbose: bool) -> None:
    """Hide TensorFlow's C++ log noise unless --verbose (must run before TensorFlow is imported)."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    else:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


@contextlib.contextmanager
def _stderr_silenced(active: bool):
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ start-up lines bypass Python's logging."""
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


def import_tensorflow():
    """Import TensorFlow (and list its devices) without its C++ start-up noise, unless --verbose."""
    quiet = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") not in ("0", "")
    with _stderr_silenced(quiet):
        import keras  # noqa: F401 - imported here so its start-up lines are silenced too
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    if quiet:
        tf.get_logger().setLevel("ERROR")  # e.g. retracing notices: noise for a user of a runner
    return tf


def setup_runtime(training: TrainingSpec, seed: int) -> dict:
    """Pick the device, seed Python/NumPy/TensorFlow, and set determinism and precision.

    Returns what was chosen, for run.json: {"device": "cpu", "gpus": 0, ...}.
    """
    tf = import_tensorflow()
    import keras

    gpus = tf.config.list_physical_devices("GPU")
    if training.device == "gpu" and not gpus:
        raise UserError("training.device is gpu, but TensorFlow sees no GPU on this machine "
                        "(install dlrun[gpu] and the NVIDIA driver, or set training.device: auto or cpu)")
    use_gpu = bool(gpus) and training.device != "cpu"
    if not use_gpu and gpus:
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # already initialised in this process: keep going on whatever is set
            pass
    keras.utils.set_random_seed(seed)
    if training.deterministic:
        tf.config.experimental.enable_op_determinism()
    notes = []
    if training.mixed_precision:
        if use_gpu:
            keras.mixed_precision.set_global_policy("mixed_float16")
        else:
            notes.append("mixed_precision is ignored on CPU (it only speeds up GPUs)")
    return {"device": "gpu" if use_gpu else "cpu", "gpus": len(gpus) if use_gpu else 0,
            "mixed_precision": bool(training.mixed_precision and use_gpu),
            "deterministic": training.deterministic, "notes": notes}
