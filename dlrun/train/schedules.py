"""Learning-rate schedules over epochs (pure Python, so they are easy to test and to resume).

    >>> from dlrun.spec.models import StepDrop
    >>> [round(lr_at(StepDrop(type="step", drop=0.5, epochs_drop=2), 0.1, e, 6), 4) for e in range(5)]
    [0.1, 0.05, 0.05, 0.025, 0.025]
"""

from __future__ import annotations

import math

from dlrun.spec.models import CosineDecay, CyclicSchedule, ExponentialDecay, StepDrop, TimeBasedDecay


def cyclic_rate(low: float, high: float, step_size: int, mode: str, position: float) -> float:
    """The triangular cyclic rate at `position` (epochs or steps from the start): `low` at 0, `high` at
    `step_size`, `low` again at 2 · step_size; triangular2 halves the height of every later cycle.

        >>> [cyclic_rate(0.1, 0.5, 2, "triangular", e) for e in range(5)]
        [0.1, 0.30000000000000004, 0.5, 0.30000000000000004, 0.1]
        >>> cyclic_rate(0.1, 0.5, 2, "triangular2", 6)
        0.30000000000000004
    """
    cycle = math.floor(1 + position / (2 * step_size))
    distance = abs(position / step_size - 2 * cycle + 1)
    scale = 1.0 if mode == "triangular" else 1.0 / 2 ** (cycle - 1)
    return low + (high - low) * max(0.0, 1.0 - distance) * scale


def lr_at(schedule, lr0: float, epoch: int, total_epochs: int) -> float:
    """The learning rate for `epoch` (0-based)."""
    if isinstance(schedule, ExponentialDecay):
        power = epoch / schedule.decay_epochs
        return lr0 * schedule.decay_rate ** (math.floor(power) if schedule.staircase else power)
    if isinstance(schedule, StepDrop):
        return lr0 * schedule.drop ** math.floor((1 + epoch) / schedule.epochs_drop)
    if isinstance(schedule, TimeBasedDecay):
        return lr0 / (1.0 + schedule.decay * epoch)
    if isinstance(schedule, CosineDecay):
        if epoch < schedule.warmup_epochs:
            return lr0 * (epoch + 1) / schedule.warmup_epochs
        span = max(1, total_epochs - schedule.warmup_epochs - 1)
        progress = min(1.0, (epoch - schedule.warmup_epochs) / span)
        return lr0 * (schedule.alpha + (1 - schedule.alpha) * 0.5 * (1 + math.cos(math.pi * progress)))
    if isinstance(schedule, CyclicSchedule) and schedule.by_epoch:
        return cyclic_rate(lr0, schedule.max_learning_rate, schedule.step_size, schedule.mode, epoch)
    raise TypeError(f"not a schedule over epochs: {schedule!r}")
