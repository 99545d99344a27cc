"""`sweep.retrain_best`: the best trial's parameters retrained on every row that helped choose
them (train + validation, or every cross-validated row) for the epochs the best trial settled
on, then scored on the test set — once, after the search, so the test set never chose anything.
"""

from __future__ import annotations

import numpy as np

from dlrun.data.split import Splits
from dlrun.protocols.admission import spec_to_resume
from dlrun.protocols.fitting import fit_final
from dlrun.train.phases import total_epochs
from dlrun.protocols.stages import load_resolved
from dlrun.runs import artifacts
from dlrun.runs.rundir import RunDir
from dlrun.spec.sweep_checks import trial_overrides
from dlrun.spec.sweep_forms import SweepSpec
from dlrun.train.monitor import chosen_epochs


def retrain_best(run: RunDir, best: dict, settings: SweepSpec) -> dict:
    """Fit the best parameters into `<sweep>/best/` and return what the test set says of them."""
    trial = artifacts.trial_folder(run.path, best["number"])
    loaded = spec_to_resume(run, None, trial_overrides(best["params"]))
    smoke = bool(run.read_info().get("smoke"))
    if smoke:
        loaded = loaded.with_sections(training={"epochs": 1})
    resolved = load_resolved(loaded, smoke)
    splits = artifacts.read_splits(trial)
    spec = resolved.spec
    if settings.evaluate == "kfold":
        first = splits["folds"][0]
        train_rows = np.sort(np.asarray(first["train"] + first["held_out"], dtype=np.int64))
        summary = artifacts.read_summary(trial) or {}
        monitor, mode = spec.callbacks.best_epoch_rule("val_loss")
        epochs = chosen_epochs(summary.get("average_curves", []), monitor, mode, len(splits["folds"]),
                               total_epochs(spec.training))
    else:
        parts = Splits.from_json(splits)
        train_rows = np.sort(np.concatenate([parts.train, parts.validation]))
        epochs = int(artifacts.read_info(trial).get("best_epoch") or total_epochs(spec.training))
        splits = {"test": parts.test}
    test_rows = np.asarray(splits["test"], dtype=np.int64)
    final = fit_final(RunDir(artifacts.best_folder(run.path)), resolved, train_rows, test_rows, epochs,
                      {"from_trial": best["number"], "params": best["params"]})
    test = {k: v for k, v in final["test"].items() if isinstance(v, (int, float)) or k == "baseline"}
    return {"folder": artifacts.best_folder(run.path).name, **final, "test": test}
