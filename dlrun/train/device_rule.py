"""Which device `training.device: auto` trains on.

A GPU runs each training step as a string of kernel launches and copies whose cost hardly depends
on the step's size; a tiny network's step is over on a CPU before a GPU has launched its kernels.
So `auto` keeps a tiny job on the CPU even where a GPU is present:

    tiny = every layer is light (no convolution, recurrence, attention, embedding or pretrained
           backbone)
           and a training step holds at most TINY_STEP_VALUES numbers:
           batch_size x (input values per row + the layers' units)

Anything larger, and every `device: gpu`, trains on the GPU when there is one. The choice and its
reason are printed and kept in run.json (`runtime.device`, `runtime.device_reason`).

    >>> step_values(batch_size=5, row_values=4, units=[16, 16, 3])
    195
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dlrun.spec.model_forms import layer_entry

TINY_STEP_VALUES = 16_384
HEAVY_LAYERS = re.compile(r"Conv|LSTM|GRU|RNN|Bidirectional|Attention|Transformer|Application|Embedding")


@dataclass(frozen=True)
class JobSize:
    """What the device rule reads of a job: its layers' class names and units, a row's input values
    and the batch size."""

    layers: tuple[str, ...]
    units: tuple[int, ...]
    row_values: int
    batch_size: int

    @property
    def step_values(self) -> int:
        return step_values(self.batch_size, self.row_values, self.units)

    @property
    def heavy(self) -> list[str]:
        return [name for name in self.layers if HEAVY_LAYERS.search(name)]

    @property
    def tiny(self) -> bool:
        return not self.heavy and self.step_values <= TINY_STEP_VALUES


def step_values(batch_size: int, row_values: int, units) -> int:
    return batch_size * (row_values + sum(units))


def job_size(model, input_shapes, batch_size: int) -> JobSize:
    """The size of a job from its model spec (Sequential or graph) and each input's per-row shape."""
    items = model.layers if not model.is_graph else [node.model_extra or {} for node in model.nodes]
    entries = [entry for entry in map(layer_entry, items) if entry]
    units = [args["units"] for _, args in entries
             if isinstance(args, dict) and isinstance(args.get("units"), int) and not isinstance(args["units"], bool)]
    row_values = 0
    for shape in input_shapes:
        size = 1
        for dim in shape:
            size *= int(dim or 1)
        row_values += size
    return JobSize(tuple(name for name, _ in entries), tuple(units), row_values, batch_size)


def choose(requested: str, gpus: int, size: JobSize | None) -> tuple[bool, str]:
    """(train on the GPU?, why) for `training.device` = requested, with `gpus` GPUs visible."""
    if requested == "cpu":
        return False, "training.device is cpu"
    if not gpus:
        return False, "no GPU on this machine"
    if requested == "gpu":
        return True, "training.device is gpu"
    if size is not None and size.tiny:
        return False, (f"training.device auto keeps this tiny job on the CPU: a Dense-only network whose step holds "
                       f"{size.step_values:,} values (batch {size.batch_size} x {size.step_values // size.batch_size}; "
                       f"at most {TINY_STEP_VALUES:,} count as tiny) runs faster there than on a GPU; set "
                       f"training.device: gpu to use the GPU anyway")
    return True, "a GPU is present (training.device auto)"
