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
    if spec.data.scheme in ("images", "text") and spec.split.group:
        return [(("split", "group"), f"a {spec.data.scheme} folder has no columns to group rows by; remove "
                                     f"split.group (and use kfold or stratified_kfold)")]
    if spec.data.scheme == "images" and backend != "tensorflow":
        return [(("data", "source"), "image folders are streamed from disk with tf.data, on the TensorFlow "
                                     "backend; set training.backend: tensorflow")]
    if spec.data.scheme == "text" and not installed("tensorflow"):
        return [(("data", "source"), "text folders are vectorized with Keras's TextVectorization, which needs "
                                     "TensorFlow: pip install tensorflow")]
    if spec.data.vectorize == "tf_idf" and spec.data.scheme != "text":
        return [(("data", "vectorize"), "tf_idf is for text:FOLDER sources; keras:imdb|reuters take multi_hot or "
                                        "sequence")]
    if spec.data.scheme == "parquet" and not installed("pyarrow"):
        return [(("data", "source"), 'Parquet files are read with pyarrow, which is not installed: '
                                     'pip install "dlrun[parquet]"')]
    if spec.callbacks.tensorboard and backend != "tensorflow" and not installed("tensorflow"):
        return [(("callbacks", "tensorboard"), f"TensorBoard logs are written with TensorFlow, which is not installed "
                                               f"next to {backend}; install tensorflow or set "
                                               f"callbacks.tensorboard: false")]
    return []
