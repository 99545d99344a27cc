"""Device choice, seeding and precision: everything set on TensorFlow before a model exists."""

from __future__ import annotations

from dlrun.errors import UserError
from dlrun.model.backend import import_tensorflow
from dlrun.spec.models import TrainingSpec


def setup_runtime(training: TrainingSpec, seed: int) -> dict:
    """Pick the device, seed Python/NumPy/TensorFlow, and set determinism and precision.

    Returns what was chosen, for the run record: {"device": "cpu", "gpus": 0, ...}.
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
