"""Backend, device choice, seeding and precision: everything set before a model exists."""

from __future__ import annotations

from dlrun.errors import UserError
from dlrun.model.backend import activate, backend_facts, import_keras, import_tensorflow, seed_everything
from dlrun.spec.models import TrainingSpec


def _gpus(backend: str) -> int:
    if backend == "jax":
        import jax

        try:
            return len(jax.devices("gpu"))
        except RuntimeError:  # no GPU platform in this JAX (or hidden by device: cpu)
            return 0
    tf = import_tensorflow()
    return len(tf.config.list_physical_devices("GPU"))


def setup_runtime(training: TrainingSpec, seed: int, tensorboard: bool = False) -> dict:
    """Start the spec's backend, pick the device, seed Python/NumPy/the backend, and set determinism
    and precision. Returns what was chosen, for the run record: {"backend": "jax", "device": "cpu", ...}.
    """
    backend = training.backend
    notes = activate(backend, training.device, training.deterministic)
    keras = import_keras()
    gpus = _gpus(backend)
    if training.device == "gpu" and not gpus:
        extra = "dlrun[gpu]" if backend == "tensorflow" else "jax[cuda12]"
        raise UserError(f"training.device is gpu, but {backend} sees no GPU on this machine "
                        f"(install {extra} and the NVIDIA driver, or set training.device: auto or cpu)")
    use_gpu = bool(gpus) and training.device != "cpu"
    if backend == "tensorflow":
        tf = import_tensorflow()
        if training.distribute == "mirrored" and not use_gpu:
            from dlrun.train.distribute import split_cpu

            split_cpu(training.cpu_replicas)
        if not use_gpu and gpus:
            try:
                tf.config.set_visible_devices([], "GPU")
            except RuntimeError:  # already initialised in this process: keep going on whatever is set
                pass
    seed_everything(seed, tensorflow_too=backend == "tensorflow" or tensorboard)
    if training.deterministic and backend == "tensorflow":
        tf.config.experimental.enable_op_determinism()
    if training.mixed_precision:
        if use_gpu:
            keras.mixed_precision.set_global_policy("mixed_float16")
        else:
            notes.append("mixed_precision is ignored on CPU (it only speeds up GPUs)")
    replicas = (gpus if use_gpu else training.cpu_replicas) if training.distribute == "mirrored" else 1
    return {**backend_facts(), "device": "gpu" if use_gpu else "cpu", "gpus": gpus if use_gpu else 0,
            "distribute": training.distribute, "replicas": replicas,
            "mixed_precision": bool(training.mixed_precision and use_gpu),
            "deterministic": training.deterministic, "notes": notes}
