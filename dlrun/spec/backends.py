"""The Keras backends a spec may name, and whether each is installed (checked without importing it)."""

from __future__ import annotations

import importlib.util

BACKENDS = ("tensorflow", "jax")  # each backend's Python module has its name
_EXTRAS = {"tensorflow": 'pip install "dlrun" (TensorFlow is a core dependency)', "jax": 'pip install "dlrun[jax]"'}


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_backend(name: str) -> str | None:
    """Why backend `name` cannot run here (not installed: which extra to install), or None."""
    if name not in BACKENDS:
        return f"backend {name!r} is not one dlrun runs on; use one of: {', '.join(BACKENDS)}"
    if not installed(name):
        return f"{name} is not installed here; install it with {_EXTRAS[name]}"
    return None


def backend_problems(spec) -> list[tuple[tuple, str]]:
    """Environment problems of a valid spec, placed at the setting to change: its backend is not
    installed, or a feature it asks for needs a package its backend does not bring."""
    backend = spec.training.backend
    problem = missing_backend(backend)
    if problem:
        return [(("training", "backend"), problem + ", or choose another backend")]
    kind = spec.data.kind
    if kind.folder_of_files and spec.split.group:
        return [(("split", "group"), f"a {kind.scheme} folder has no columns to group rows by; remove "
                                     f"split.group (and use kfold or stratified_kfold)")]
    if backend not in kind.backends:
        return [(("data", "source"), f"{kind.scheme}: sources are streamed with tf.data, on the TensorFlow "
                                     f"backend; set training.backend: tensorflow")]
    if spec.data.vectorize == "tf_idf" and not kind.texts:
        return [(("data", "vectorize"), "tf_idf is for text:FOLDER sources; keras:imdb|reuters take multi_hot or "
                                        "sequence")]
    if kind.needs is not None and not installed(kind.needs[0]):
        return [(("data", "source"), f"{kind.scheme}: sources are read with {kind.needs[0]}, which is not installed: "
                                     f"{kind.needs[1]}")]
    if spec.callbacks.tensorboard and backend != "tensorflow" and not installed("tensorflow"):
        return [(("callbacks", "tensorboard"), f"TensorBoard logs are written with TensorFlow, which is not installed "
                                               f"next to {backend}; install tensorflow or set "
                                               f"callbacks.tensorboard: false")]
    if spec.tracking.mlflow is not None and not installed("mlflow"):
        return [(("tracking", "mlflow"), 'runs are tracked with MLflow, which is not installed: '
                                         'pip install "dlrun[mlflow]" (or remove tracking.mlflow)')]
    return []
