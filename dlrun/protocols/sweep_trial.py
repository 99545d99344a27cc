"""One trial of a sweep: the spec with the trial's parameter values, trained by the holdout or the
k-fold protocol into the sweep's `trials/NNN/`, with the objective reported to Optuna after every
epoch (holdout) or fold (k-fold) so the pruner can stop it.

What ends a trial, and what the study hears:
- it finishes: COMPLETE with the objective (holdout: the best epoch's value of the objective
  column; k-fold: its mean over the folds);
- the pruner stops it: PRUNED (the run folder keeps what it trained, status `pruned`);
- it crashes (bad values, a diverged loss, any error): FAIL, with `error.log` in its folder; the
  sweep goes on;
- a signal stops it: FAIL marked interrupted, so `--resume` runs its parameters again.
"""

from __future__ import annotations

import math
import time
import traceback
from pathlib import Path

from dlrun.errors import DlrunError, Interrupted, Pruned, UserError
from dlrun.protocols.admission import spec_to_resume
from dlrun.protocols.sweep_search import INTERRUPTED, objective_value, suggest, tell
from dlrun.runs import artifacts
from dlrun.runs.rundir import RunDir
from dlrun.spec.sweep_checks import trial_overrides
from dlrun.spec.sweep_forms import SweepSpec
from dlrun.did_you_mean import suggest as did_you_mean

# what a trial records on its Optuna trial (the study alone then rebuilds trials.csv)
RECORD_KEYS = ("status", "epochs_run", "seconds", "run_id", "error")


class ObjectiveMissing(UserError):
    """The objective names a quantity the trial's history does not have: a mistake in the sweep, not a trial's failure."""


def sweep_trial_id(sweep_id: str, number: int) -> str:
    """How a trial is named wherever a run id is asked for: `SWEEP-ID:NNN`."""
    return f"{sweep_id}:{number:03d}"


def run_trial(sweep_run: RunDir, settings: SweepSpec, study, trial, smoke: bool = False) -> dict:
    """Train one trial (already asked from the study) and tell the study how it ended; returns its record."""
    started = time.time()
    params = {path: suggest(trial, path, param) for path, param in settings.params.items()}
    folder = artifacts.trial_folder(sweep_run.path, trial.number)
    run_id = sweep_trial_id(sweep_run.run_id, trial.number)
    feed = _Feed(settings, trial)
    record = {"number": trial.number, "run_id": run_id, **{f"param:{k}": v for k, v in params.items()}}
    try:
        loaded = spec_to_resume(sweep_run, None, [*trial_overrides(params), *(["training.epochs=1"] if smoke else [])])
        if settings.evaluate == "kfold":
            from dlrun.protocols.kfold import kfold

            if settings.retrain_best:  # the test rows stay out of every trial, for the retrained best
                loaded = loaded.with_sections(split={"final_model": True})
            result = kfold(loaded, folder=folder, on_fold=feed.fold, smoke=smoke, final_fit=False)
            epochs_run = sum(int(f.get("epochs_run") or 0) for f in result.folds)
        else:
            from dlrun.protocols.holdout import train

            result = train(loaded, on_epoch=feed.epoch, folder=folder, hold_test=True, smoke=smoke)
            epochs_run = result.epochs_run
    except Pruned:
        return _tell(study, trial, folder, {**record, "status": "pruned", "epochs_run": feed.epochs_seen,
                                            "seconds": _since(started)}, None, "PRUNED")
    except Interrupted:
        _mark(trial, {**record, "status": "failed", "error": "interrupted: runs again on --resume",
                      "seconds": _since(started)})
        trial.set_user_attr(INTERRUPTED, True)
        tell(study, trial, state="FAIL")
        raise
    except ObjectiveMissing:
        tell(study, trial, state="FAIL")
        raise
    except Exception as exc:  # noqa: BLE001 - any failure fails this trial only; the sweep goes on
        message = str(exc) if isinstance(exc, DlrunError) else f"{type(exc).__name__}: {exc}"
        _error_log(folder, message, exc)
        return _tell(study, trial, folder, {**record, "status": "failed", "error": _one_line(message),
                                            "epochs_run": feed.epochs_seen, "seconds": _since(started)}, None, "FAIL")
    if feed.pruned:
        RunDir(folder).set_status("pruned", pruned_at_epoch=feed.epochs_seen)
        return _tell(study, trial, folder, {**record, "status": "pruned", "epochs_run": epochs_run,
                                            "seconds": _since(started)}, None, "PRUNED")
    value = feed.objective()
    if value is None:
        _error_log(folder, f"the objective {settings.objective.metric} was never finite", None)
        return _tell(study, trial, folder, {**record, "status": "failed", "epochs_run": epochs_run,
                                            "error": f"{settings.objective.metric} was never finite",
                                            "seconds": _since(started)}, None, "FAIL")
    return _tell(study, trial, folder, {**record, "status": "completed", "epochs_run": epochs_run,
                                        "seconds": _since(started)}, value, "COMPLETE")


class _Feed:
    """Reports the objective to the trial after each epoch or fold and asks the pruner."""

    def __init__(self, settings: SweepSpec, trial):
        self.metric = settings.objective.metric
        self.maximize = settings.objective.mode == "max" or (
            settings.objective.mode == "auto" and _maximized(self.metric))
        self.trial = trial
        self.values: list[float] = []
        self.fold_values: list[float] = []
        self.epochs_seen = 0
        self.pruned = False

    def epoch(self, row: dict):
        self.epochs_seen += 1
        if self.metric not in row:
            columns = [k for k in row if k != "epoch"]
            raise ObjectiveMissing(f"sweep.objective.metric: the history has no '{self.metric}'"
                                   f"{did_you_mean(self.metric, columns)} (it has {', '.join(columns)})")
        value = float(row[self.metric])
        self.values.append(value)
        if math.isfinite(value):
            self.trial.report(value, self.epochs_seen)
        if self.trial.should_prune():
            self.pruned = True
            return "stop"
        return None

    def fold(self, result: dict, total: int) -> None:
        metrics = result["metrics"]
        name = self.metric[len("val_"):] if self.metric.startswith("val_") else self.metric
        if name not in metrics:
            columns = [k for k, v in metrics.items() if isinstance(v, (int, float))]
            raise ObjectiveMissing(f"sweep.objective.metric: a fold's held-out metrics have no '{name}'"
                                   f"{did_you_mean(name, columns)} (they have {', '.join(columns)})")
        self.fold_values.append(float(metrics[name]))
        self.epochs_seen += int(result.get("epochs_run") or 0)
        mean = sum(self.fold_values) / len(self.fold_values)
        self.trial.report(mean, len(self.fold_values))
        if len(self.fold_values) < total and self.trial.should_prune():
            raise Pruned(f"pruned after fold {len(self.fold_values)} of {total}")

    def objective(self) -> float | None:
        if self.fold_values:
            mean = sum(self.fold_values) / len(self.fold_values)
            return mean if math.isfinite(mean) else None
        return objective_value(self.values, self.maximize)


def _maximized(metric: str) -> bool:
    from dlrun.spec.models import resolve_mode

    return resolve_mode(metric, "auto") == "max"


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in message.splitlines() if line.strip())[:300]


def _since(started: float) -> float:
    return round(time.time() - started, 3)


def _mark(trial, record: dict) -> None:
    for key in RECORD_KEYS:
        if record.get(key) is not None:
            trial.set_user_attr(key, record[key])


def _tell(study, trial, folder: Path, record: dict, value: float | None, state: str) -> dict:
    _mark(trial, record)
    if folder.is_dir():
        RunDir(folder).update_info(run_id=record["run_id"], sweep=record["run_id"].split(":")[0],
                                   trial=record["number"], trial_status=record["status"],
                                   params={k[len("param:"):]: v for k, v in record.items() if k.startswith("param:")})
    tell(study, trial, value, state)
    return {**record, "objective": value}


def _error_log(folder: Path, message: str, exc: BaseException | None) -> None:
    """A failed trial's error log (and a status record, if it failed before its run folder existed)."""
    if not folder.is_dir():
        RunDir.fixed(folder).set_status("failed", error=_one_line(message) or "failed")
    log = artifacts.error_log_path(folder)
    if not log.exists():
        details = "".join(traceback.format_exception(exc)) if exc is not None and not isinstance(exc, DlrunError) else ""
        log.write_text(message + "\n" + details, encoding="utf-8")
