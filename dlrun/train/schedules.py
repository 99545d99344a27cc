"""Learning-rate schedules over epochs (pure Python, so they are easy to test and to resume).

    >>> from dlrun.spec.models import StepDrop
    >>> [round(lr_at(StepDrop(type="step", drop=0.5, epochs_drop=2), 0.1, e, 6), 4) for e in range(5)]
    [0.1, 0.05, 0.05, 0.025, 0.025]
"""

from __future__ import annotations

import math

from dlrun.spec.models import CosineDecay, ExponentialDecay, StepDrop, TimeBasedDecay


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
    raise TypeError(f"unknown schedule {schedule!r}")
