"""Checking a sweep before any trial runs: every parameter path must be one `--set` accepts, the
spec must stay valid at both ends of every range and for every choice, and the objective, the
algorithm and the evaluation must fit the spec. Problems are located at their line in the sweep
section, as `validate` reports spec mistakes."""

from __future__ import annotations

import importlib.util
import json

from dlrun.errors import SpecError
from dlrun.spec.load import LoadedSpec, load_spec
from dlrun.spec.split_forms import CV_PROTOCOLS
from dlrun.spec.sweep_forms import SweepSpec, override_path, split_path

Found = list[tuple[tuple, str]]


def trial_overrides(params: dict[str, object]) -> list[str]:
    """`--set` overrides for one trial's parameter values.

    Example:
        >>> trial_overrides({"model.layers[0].Dense.units": 16})
        ['model.layers.0.Dense.units=16']
    """
    return [f"{override_path(path)}={json.dumps(value)}" for path, value in params.items()]


def check_sweep(loaded: LoadedSpec, overrides: list[str] = ()) -> SweepSpec:
    """The spec's sweep section, or one SpecError listing everything wrong with it."""
    sweep = loaded.spec.sweep
    if sweep is None:
        raise loaded.error([((), "this spec has no `sweep:` section (objective, params, trials) to run")])
    found = _param_problems(loaded, sweep, list(overrides)) + _setting_problems(loaded, sweep)
    if found:
        raise loaded.error(found)
    return sweep


def _param_problems(loaded: LoadedSpec, sweep: SweepSpec, overrides: list[str]) -> Found:
    found: Found = []
    for path, param in sweep.params.items():
        try:
            split_path(path)
        except ValueError as exc:
            found.append((("sweep", "params", path), f"{path}: {exc}"))
            continue
        for value in param.ends():
            try:
                load_spec(loaded.path, [*overrides, *trial_overrides({path: value})])
            except SpecError as exc:
                first = exc.problems[0]
                found.append((("sweep", "params", path), f"{path} = {value!r} does not give a valid spec: "
                                                          f"{first.path}: {first.message}"))
                break
    return found


def _setting_problems(loaded: LoadedSpec, sweep: SweepSpec) -> Found:
    spec, found = loaded.spec, []
    cross_validated = spec.split.protocol in CV_PROTOCOLS
    if sweep.evaluate == "kfold" and not cross_validated:
        found.append((("sweep", "evaluate"), f"evaluate: kfold needs a cross-validation split (split.protocol: "
                                             f"{' | '.join(CV_PROTOCOLS)}), not {spec.split.protocol}"))
    if sweep.evaluate == "holdout" and cross_validated:
        found.append((("sweep", "evaluate"), f"split.protocol is {spec.split.protocol}: use evaluate: kfold, or a "
                                             f"holdout split for evaluate: holdout"))
    metric = sweep.objective.metric
    if sweep.evaluate == "holdout" and metric.startswith("val_") and spec.split.validation == 0:
        found.append((("sweep", "objective", "metric"), f"'{metric}' needs validation rows but split.validation is "
                                                        f"0; set split.validation (the test set never chooses)"))
    if sweep.retrain_best and spec.split.test == 0:
        found.append((("sweep", "retrain_best"), "retrain_best scores the test set once, but split.test is 0"))
    needs = {"cmaes": ("cmaes", 'pip install "dlrun[sweep]"'), "gp": ("torch", "pip install torch")}
    if sweep.algorithm in needs:
        module, install = needs[sweep.algorithm]
        if importlib.util.find_spec(module) is None:
            found.append((("sweep", "algorithm"), f"algorithm {sweep.algorithm} needs the '{module}' package, which "
                                                  f"is not installed: {install}"))
    if sweep.algorithm == "grid" and sweep.trials is not None and sweep.trials > sweep.grid_size():
        found.append((("sweep", "trials"), f"the grid has {sweep.grid_size()} combinations; trials "
                                           f"({sweep.trials}) cannot be more"))
    return found
