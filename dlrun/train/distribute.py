"""Several replicas of one model on one machine (`training.distribute: mirrored`): TensorFlow's
MirroredStrategy over the GPUs, or over `training.cpu_replicas` logical CPU devices when there
are none. The model is built and compiled inside the strategy's scope; Keras then splits each
global batch (`training.batch_size`) across the replicas and sums their gradients."""

from __future__ import annotations

import contextlib

from dlrun.errors import UserError
from dlrun.model.backend import import_tensorflow

_strategy = None  # the strategy this process made (TensorFlow allows its devices to be set up once)


def split_cpu(replicas: int) -> None:
    """Make `replicas` logical CPU devices; only possible before TensorFlow has started its devices."""
    tf = import_tensorflow()
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == replicas:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        if have != replicas:
            raise UserError(f"training.cpu_replicas is {replicas}, but TensorFlow already started in this process "
                            f"with {have} CPU device(s); run it in a fresh process (dlrun train …)") from None


def strategy(distribute: str, use_gpu: bool, cpu_replicas: int):
    """The MirroredStrategy to build under, or None for a single device."""
    global _strategy
    if distribute != "mirrored":
        return None
    if _strategy is None:
        tf = import_tensorflow()
        devices = None if use_gpu else [f"/cpu:{i}" for i in range(cpu_replicas)]
        _strategy = tf.distribute.MirroredStrategy(devices=devices)
    return _strategy


def scope(distribute: str, use_gpu: bool, cpu_replicas: int):
    """The scope to build and compile the model in (a no-op for a single device)."""
    found = strategy(distribute, use_gpu, cpu_replicas)
    return found.scope() if found is not None else contextlib.nullcontext()
