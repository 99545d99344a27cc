"""Importing Keras and TensorFlow quietly: their C++ start-up lines bypass Python's logging, so
they are silenced at the file-descriptor level unless --verbose. Every module that needs
TensorFlow imports it through `import_tensorflow`."""

from __future__ import annotations

import contextlib
import os
import sys


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
