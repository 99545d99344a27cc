"""Which way is better for a monitored quantity: the one rule every part of dlrun asks.

Modelled on Keras's `MonitorCallback`: the direction is decided once, from `mode` when it says
min or max, else from the monitor's name (accuracy-like up, loss-like down), and every
comparison afterwards goes through it — the best epoch, the best checkpoint, a sweep's
objective, its ranking of trials and the Optuna study's direction. Only finite values ever
count as a best. Nothing here imports TensorFlow or Keras.

Example:
    >>> Direction.of("val_accuracy").mode, Direction.of("val_loss").optuna
    ('max', 'minimize')
    >>> Direction.of("val_loss").best([0.5, float("nan"), 0.3])
    0.3
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar

MAX_IS_BETTER = ("acc", "auc", "precision", "recall", "f1", "r2", "iou")  # in a monitor's name: higher is better
MODES = ("min", "max")
OPTUNA = {"min": "minimize", "max": "maximize"}

T = TypeVar("T")


def _finite(value: Any) -> bool:
    """A number that is neither NaN nor infinite (None and text are not numbers here)."""
    try:
        return math.isfinite(value)
    except TypeError:
        return False


@dataclass(frozen=True)
class Direction:
    """min (lower is better) or max (higher is better), for one monitored quantity."""

    mode: str  # 'min' or 'max'

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"a direction is 'min' or 'max', not {self.mode!r}")

    @classmethod
    def of(cls, monitor: str, mode: str = "auto") -> Direction:
        """The direction `mode` names; 'auto' reads it from the monitor's name (accuracy up, loss down)."""
        if mode == "auto":
            mode = "max" if any(k in monitor for k in MAX_IS_BETTER) else "min"
        return cls(mode)

    @classmethod
    def from_optuna(cls, direction: Any) -> Direction:
        """From Optuna's 'maximize' / 'minimize', or a `StudyDirection` (study.direction)."""
        name = str(getattr(direction, "name", direction)).lower()
        found = {optuna: mode for mode, optuna in OPTUNA.items()}.get(name)
        if found is None:
            raise ValueError(f"an Optuna direction is 'minimize' or 'maximize', not {direction!r}")
        return cls(found)

    @classmethod
    def from_record(cls, best: dict | None) -> Direction:
        """From a sweep's best.json record (its objective's "direction"); min when there is none."""
        if not best:
            return cls("min")
        return cls.from_optuna(best["objective"].get("direction", "minimize"))

    @property
    def maximize(self) -> bool:
        return self.mode == "max"

    @property
    def optuna(self) -> str:
        """'maximize' or 'minimize': Optuna's word for it (a study's direction, best.json)."""
        return OPTUNA[self.mode]

    @property
    def worst(self) -> float:
        """A start every finite value improves on: +inf for min, -inf for max."""
        return -math.inf if self.maximize else math.inf

    def better(self, value: float, reference: float) -> bool:
        """Whether `value` is strictly better than `reference` (a non-finite value never is)."""
        if not _finite(value):
            return False
        return value > reference if self.maximize else value < reference

    def sort_key(self, value: float) -> float:
        """A key that sorts the best value first (ascending)."""
        return -value if self.maximize else value

    def ranked(self, items: Iterable[T], value_of: Callable[[T], Any] = lambda v: v) -> list[T]:
        """The items with a finite value, best first; ties keep their order."""
        scored = [item for item in items if _finite(value_of(item))]
        return sorted(scored, key=lambda item: self.sort_key(value_of(item)))

    def first_best(self, items: Iterable[T], value_of: Callable[[T], Any] = lambda v: v) -> T | None:
        """The first item with the best finite value; None when no value is finite."""
        ranked = self.ranked(items, value_of)
        return ranked[0] if ranked else None

    def best(self, values: Iterable[float | None]) -> float | None:
        """The best finite value; None when there is none."""
        return self.first_best(values)
