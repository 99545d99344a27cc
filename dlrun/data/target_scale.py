"""Regression targets scaled for the fit, in the target's own units everywhere else.

A network whose output starts near 0 learns a target of mean 1,000 slowly: the output bias has to
walk there in learning-rate steps, and every weight update is sized by errors in the thousands.
dlrun fits a scale per regression target on the training part only and puts its inverse in the
model as a fixed layer after the output (model/output_init.py sets its constants): the layers
before it learn a target of mean 0 and spread 1, while the model, its loss and metrics, the
history, predictions and exports speak the target's own units. No TensorFlow here.

Example:
    >>> s = TargetScale.fit("y", np.array([990.0, 1000.0, 1010.0]), "standard")
    >>> round(s.offset, 3), round(s.scale, 3), round(s.to_scaled(1010.0), 3)
    (1000.0, 8.165, 1.225)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SCALED_ACTIVATIONS = (None, "linear")   # outputs with any other activation keep their own range


@dataclass(frozen=True)
class TargetScale:
    """One regression target's fitted scale: scaled = (value - offset) / scale."""

    target: str
    method: str        # standard | minmax
    offset: float      # standard: the training mean; minmax: the training minimum
    scale: float       # standard: the training std; minmax: the training range (1 when it is 0)

    @classmethod
    def fit(cls, target: str, values: np.ndarray, method: str) -> "TargetScale":
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if method == "minmax":
            offset, spread = float(values.min()), float(values.max() - values.min())
        else:
            offset, spread = float(values.mean()), float(values.std())
        return cls(target, method, offset, spread if spread > 0 else 1.0)

    def to_scaled(self, values):
        return (np.asarray(values, dtype=np.float64) - self.offset) / self.scale

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TargetScale":
        return cls(str(data["target"]), str(data["method"]), float(data["offset"]), float(data["scale"]))


def scaled_method(declared: str | None, activation) -> str | None:
    """The scaling a regression output gets: the declared `data.target_scale` (default standard),
    and none for an output whose activation bounds or shapes its range (relu, sigmoid, softplus…)."""
    method = declared or "standard"
    if method == "none" or activation not in SCALED_ACTIVATIONS:
        return None
    return method


def fit_target_scales(methods: dict[str, str | None], values: dict[str, np.ndarray],
                      rows: np.ndarray) -> dict[str, TargetScale]:
    """{target: TargetScale} for the targets given a method, fitted on `rows` (the training part)."""
    return {name: TargetScale.fit(name, np.asarray(values[name])[rows], method)
            for name, method in methods.items() if method is not None}


def skipped_note(declared: str | None, skipped: dict[str, str]) -> str | None:
    """Why an explicitly asked target_scale was not applied to some outputs (their activation)."""
    if declared in (None, "none") or not skipped:
        return None
    named = ", ".join(f"'{target}' (activation {activation})" for target, activation in skipped.items())
    return (f"data.target_scale: {declared} is not applied to {named}: a non-linear output activation keeps "
            f"the target's own range; use a linear output to have it scaled")
