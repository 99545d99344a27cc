"""Learning-rate schedules the optimizer evaluates at every step: `optimizer.schedule` of `type: keras`
(a class of keras.optimizers.schedules) and `type: cyclic` with `unit: steps`.

They are the optimizer's `learning_rate`, so their position is the optimizer's step count, which is
kept with the optimizer's state (a resumed run goes on where it stopped). The rules over epochs are
in train/schedules.py.

Imports Keras: only the training stage imports this module.
"""

from __future__ import annotations

import keras

from dlrun.spec.models import CyclicSchedule, KerasSchedule, OptimizerSpec

INITIAL_RATE = "initial_learning_rate"


@keras.saving.register_keras_serializable(package="dlrun")
class TriangularCyclic(keras.optimizers.schedules.LearningRateSchedule):
    """A triangular cyclic rate over optimizer steps: `low` at step 0, `high` at `step_size`, `low`
    again at 2 · step_size; `mode` triangular2 halves the height of every later cycle
    (train/schedules.py `cyclic_rate` is the same rule over epochs).

    Example:
        >>> rate = TriangularCyclic(0.1, 0.5, 2)
        >>> [round(float(rate(step)), 4) for step in range(5)]
        [0.1, 0.3, 0.5, 0.3, 0.1]
    """

    def __init__(self, low: float, high: float, step_size: int, mode: str = "triangular"):
        self.low, self.high, self.step_size, self.mode = float(low), float(high), int(step_size), mode

    def __call__(self, step):
        ops = keras.ops
        position = ops.cast(step, "float32") / float(self.step_size)
        cycle = ops.floor(1.0 + position / 2.0)
        distance = ops.abs(position - 2.0 * cycle + 1.0)
        scale = 1.0 if self.mode == "triangular" else ops.power(0.5, cycle - 1.0)
        return self.low + (self.high - self.low) * ops.maximum(0.0, 1.0 - distance) * scale

    def get_config(self) -> dict:
        return {"low": self.low, "high": self.high, "step_size": self.step_size, "mode": self.mode}


def step_schedule(optimizer: OptimizerSpec):
    """The optimizer's learning rate as a per-step schedule object, or None when it is a number (no
    schedule, or one over epochs, which a LearningRateScheduler callback sets)."""
    schedule = optimizer.schedule
    if isinstance(schedule, KerasSchedule):
        cls = getattr(keras.optimizers.schedules, schedule.name)
        args = dict(schedule.args)
        if INITIAL_RATE in _params(cls):
            args.setdefault(INITIAL_RATE, optimizer.learning_rate)
        return cls(**args)
    if isinstance(schedule, CyclicSchedule) and not schedule.by_epoch:
        return TriangularCyclic(optimizer.learning_rate, schedule.max_learning_rate, schedule.step_size, schedule.mode)
    return None


def _params(cls) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters)
