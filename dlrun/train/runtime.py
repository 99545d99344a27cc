"""Backend, device choice, seeding and precision: everything set before a model exists."""

from __future__ import annotations

import os

from dlrun.errors import UserError
from dlrun.model.backend import (activate, backend_facts, import_keras, import_tensorflow, running_backend,
                                 seed_everything)
from dlrun.spec.models import TrainingSpec
from dlrun.train.device_rule import JobSize, choose

_jax_gpu_hidden = False  # this process set JAX_PLATFORMS=cpu for a tiny job on a machine with JAX's GPU plugin


def _gpus(backend: str) -> int:
    if backend == "jax":
        import jax

        try:
            return len(jax.devices("gpu"))
        except RuntimeError:  # no GPU platform in this JAX (or hidden by device: cpu)
            return 0
    tf = import_tensorflow()
    return len(tf.config.list_physical_devices("GPU"))


def _jax_gpu_plugin() -> bool:
    """Whether JAX's CUDA or ROCm plugin is installed (asked without starting JAX)."""
    from importlib import metadata

    return any((dist.metadata["Name"] or "").lower().replace("_", "-").startswith(("jax-cuda", "jax-rocm"))
               for dist in metadata.distributions())


def platform_for(training: TrainingSpec, size: JobSize | None) -> None:
    """Before JAX starts (call it after `activate`): a tiny job (train/device_rule.py) on a machine with
    JAX's GPU plugin starts JAX on the CPU alone, so the GPU is never set up for it. TensorFlow's GPUs
    are hidden later, by setup_runtime, before its runtime starts."""
    global _jax_gpu_hidden
    if (training.backend == "jax" and running_backend() is None and training.device == "auto" and size is not None
            and size.tiny and os.environ.get("JAX_PLATFORMS", "") in ("", "cuda", "gpu") and _jax_gpu_plugin()):
        os.environ["JAX_PLATFORMS"] = "cpu"  # JAX reads it as it starts
        _jax_gpu_hidden = True


def setup_runtime(training: TrainingSpec, seed: int, tensorboard: bool = False, size: JobSize | None = None) -> dict:
    """Start the spec's backend, pick the device (`size`: what the `auto` rule of train/device_rule.py
    reads), seed Python/NumPy/the backend, and set determinism and precision. Returns what was chosen,
    for the run record: {"backend": "jax", "device": "cpu", "device_reason": ..., ...}.
    """
    backend = training.backend
    notes = activate(backend, training.device, training.deterministic)
    platform_for(training, size)
    keras = import_keras()
    gpus = _gpus(backend) or int(backend == "jax" and _jax_gpu_hidden)
    if training.device == "gpu" and not gpus:
        extra = "dlrun[gpu]" if backend == "tensorflow" else "jax[cuda12]"
        raise UserError(f"training.device is gpu, but {backend} sees no GPU on this machine "
                        f"(install {extra} and the NVIDIA driver, or set training.device: auto or cpu)")
    use_gpu, reason = choose(training.device, gpus, size)
    if backend == "jax" and _jax_gpu_hidden and use_gpu:
        use_gpu, reason = False, "JAX started on the CPU for an earlier tiny job in this process"
    if gpus and not use_gpu and training.device == "auto":
        notes = [*notes, f"device: cpu. {reason}"]
    if backend == "jax" and gpus and not _jax_gpu_hidden:  # JAX started with its GPU: place this job's arrays
        import jax

        jax.config.update("jax_default_device", None if use_gpu else jax.devices("cpu")[0])
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
    return {**backend_facts(), "device": "gpu" if use_gpu else "cpu", "device_reason": reason,
            "gpus": gpus if use_gpu else 0,
            "distribute": training.distribute, "replicas": replicas,
            "mixed_precision": bool(training.mixed_precision and use_gpu),
            "deterministic": training.deterministic, "notes": notes}
