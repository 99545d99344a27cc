"""The `sweep:` section: a hyperparameter search declared in the spec (run by `dlrun sweep`).

    sweep:
      objective: {metric: val_loss, mode: min}
      algorithm: tpe            # tpe | random | grid | cmaes | gp
      trials: 20
      seed: 7
      pruner: median            # none | median | hyperband
      evaluate: holdout         # holdout | kfold (objective = mean over folds)
      keep: best                # best | top3 | all: which trials keep their model files
      params:
        optimizer.learning_rate: {loguniform: [0.0001, 0.1]}
        model.layers[0].Dense.units: {int: [4, 64], step: 4}
        training.batch_size: {choice: [16, 32, 64]}

A parameter path is a `--set` path: `model.layers[0].Dense.units` or `model.layers.0.Dense.units`;
`split_path` below is the one reader of such paths, for `--set` (spec/load.py) and the sweep alike.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from dlrun.spec.section import Section

ALGORITHMS = ("tpe", "random", "grid", "cmaes", "gp")
PRUNERS = ("none", "median", "hyperband")
KEEP = ("best", "top3", "all")
_PART = re.compile(r"(?P<name>[^\[\]]+)(?P<indexes>(?:\[[0-9]+\])*)")  # one dotted part: name[0][1]...


def split_path(path: str) -> list[str]:
    """A dotted spec path, list items as `.N` or `[N]`, in its parts (list indexes as digit strings):
    the one reader of `--set` keys and sweep parameter paths. A malformed path is a ValueError
    saying which part is at fault.

    Example:
        >>> split_path("model.layers[0].Dense.units"), split_path("model.layers.0.Dense.units")
        (['model', 'layers', '0', 'Dense', 'units'], ['model', 'layers', '0', 'Dense', 'units'])
    """
    parts: list[str] = []
    for segment in path.split("."):
        if not segment:
            raise ValueError("the path has an empty part (two dots in a row, or a dot at an end)")
        match = _PART.fullmatch(segment)
        if match is None:
            raise ValueError(f"malformed part '{segment}': a list index is a whole number in brackets after a "
                             f"name, e.g. layers[0] (or layers.0)")
        parts.append(match["name"])
        parts.extend(re.findall(r"[0-9]+", match["indexes"]))
    return parts


def override_path(path: str) -> str:
    """A parameter path in `--set` form: `model.layers[0].Dense.units` -> `model.layers.0.Dense.units`
    (a malformed path is left as written, for `--set` to name it)."""
    try:
        return ".".join(split_path(path))
    except ValueError:
        return path


class ParamRange(Section):
    """One searched parameter: exactly one of loguniform, uniform, int (with an optional step) or choice."""

    model_config = ConfigDict(populate_by_name=True)

    loguniform: tuple[float, float] | None = Field(None, description="[low, high], both > 0, sampled on a log scale.")
    uniform: tuple[float, float] | None = Field(None, description="[low, high], sampled uniformly.")
    int_: tuple[int, int] | None = Field(None, alias="int", description="[low, high], whole numbers, both included.")
    step: int | float | None = Field(None, gt=0, description="With int (or uniform): the spacing of the values.")
    choice: list[Any] | None = Field(None, min_length=1, description="The values to choose among.")

    @model_validator(mode="after")
    def _one_kind(self) -> "ParamRange":
        kinds = [k for k in ("loguniform", "uniform", "int_", "choice") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of loguniform, uniform, int or choice")
        low_high = getattr(self, kinds[0]) if kinds[0] != "choice" else None
        if low_high is not None and low_high[0] > low_high[1]:
            raise ValueError(f"the range [{low_high[0]}, {low_high[1]}] runs backwards: put the low end first")
        if self.loguniform is not None and self.loguniform[0] <= 0:
            raise ValueError("a loguniform range must lie above 0")
        if self.step is not None and self.choice is not None:
            raise ValueError("step applies to int and uniform ranges, not to choice")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("loguniform", "uniform", "int", "choice")
                    if getattr(self, "int_" if k == "int" else k) is not None)

    def grid(self) -> list[Any]:
        """Every value a grid search tries: the choices, or the range from low to high by `step`
        (whole numbers by 1 when no step is given). A continuous range without a step has no grid."""
        if self.choice is not None:
            return list(self.choice)
        low, high = self.loguniform or self.uniform or self.int_
        if self.step is None and self.int_ is None:
            raise ValueError("a grid needs choice, int, or a step on a uniform range")
        step = self.step or 1
        count = int(round((high - low) / step)) + 1
        values = [low + i * step for i in range(count) if low + i * step <= high + 1e-12]
        return [int(v) for v in values] if self.int_ is not None else [round(v, 12) for v in values]

    def ends(self) -> list[Any]:
        """The values whose specs must all be valid before any trial runs: both ends of a range,
        every choice."""
        if self.choice is not None:
            return list(self.choice)
        low, high = self.loguniform or self.uniform or self.int_
        return [low, high]


class Objective(Section):
    """What the search optimises: a history column (val_loss, val_accuracy, ...) at the best epoch,
    or, with evaluate: kfold, its mean over folds."""

    metric: str = Field("val_loss", description="The quantity to optimise, e.g. val_loss or val_accuracy.")
    mode: Literal["auto", "min", "max"] = Field("auto", description="min or max; auto reads it from the name.")


class SweepSpec(Section):
    """A hyperparameter search over dotted spec paths (`dlrun sweep`)."""

    objective: Objective = Field(default_factory=Objective, description="What to optimise (never the test set).")
    algorithm: Literal["tpe", "random", "grid", "cmaes", "gp"] = Field(
        "tpe", description="The Optuna sampler: tpe, random, grid (every combination), cmaes, or gp "
                           "(Gaussian process; needs PyTorch).")
    trials: int | None = Field(None, ge=1, description="How many trials finish (default 20; grid: the grid's size).")
    seed: int = Field(0, ge=0, description="Seeds the sampler: the same seed gives the same parameter sequence.")
    pruner: Literal["none", "median", "hyperband"] = Field("median", description="Stops unpromising trials early "
                                                                                 "(fed every epoch).")
    pruner_startup_trials: int = Field(3, ge=0, description="Trials that finish before the pruner may stop one.")
    pruner_warmup_epochs: int = Field(1, ge=0, description="Epochs (k-fold: folds) every trial runs before it may "
                                                           "be pruned.")
    evaluate: Literal["holdout", "kfold"] = Field("holdout", description="holdout: the validation part decides; "
                                                                         "kfold: the mean over the spec's folds.")
    keep: Literal["best", "top3", "all"] = Field("best", description="Which trials keep their model files.")
    plots: bool = Field(True, description="The sweep's own plots (optimisation history, importances, slices); "
                                          "each trial's plots follow output.plots.")
    retrain_best: bool = Field(False, description="Retrain the best parameters on train + validation and score the "
                                                  "test set once.")
    params: dict[str, ParamRange] = Field(description="Dotted spec path (as --set takes) -> its range or choices.",
                                          min_length=1)

    @model_validator(mode="after")
    def _grid_needs_steps(self) -> "SweepSpec":
        if self.algorithm == "grid":
            for path, param in self.params.items():
                if param.choice is None and param.int_ is None and param.step is None:
                    raise ValueError(f"algorithm grid needs a finite set of values: give {path} a choice, an int "
                                     f"range or a step")
        return self

    def grid_size(self) -> int:
        size = 1
        for param in self.params.values():
            size *= len(param.grid())
        return size

    def trial_count(self) -> int:
        """How many trials the sweep runs to the end: `trials`, else the grid's size (grid) or 20."""
        if self.trials is not None:
            return self.trials
        return self.grid_size() if self.algorithm == "grid" else 20
