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
from typing import Callable

from dlrun.errors import DlrunError, Interrupted, Pruned, UserError
from dlrun.protocols.admission import spec_to_resume
from dlrun.protocols.sweep_search import INTERRUPTED, direction, suggest, tell
from dlrun.runs import artifacts
from dlrun.runs.rundir import RunDir
from dlrun.spec.sweep_checks import trial_overrides
from dlrun.spec.sweep_forms import SweepSpec
from dlrun.did_you_mean import suggest as did_you_mean



class ObjectiveMissing(UserError):
    """The objective names a quantity the trial's history does not have: a mistake in the sweep, not a trial's failure."""


def sweep_trial_id(sweep_id: str, number: int) -> str:
    """How a trial is named wherever a run id is asked for: `SWEEP-ID:NNN`."""
    return f"{sweep_id}:{number:03d}"


def run_trial(sweep_run: RunDir, settings: SweepSpec, study, trial, smoke: bool = False) -> dict:
    """Train one trial (already asked from the study) and tell the study how it ended; returns its record."""
    params = {path: suggest(trial, path, param) for path, param in settings.params.items()}
    feed = Feed(settings, trial.report, trial.should_prune)
    try:
        record = train_trial(sweep_run, settings, trial.number, params, feed, smoke)
    except Interrupted:
        trial.set_user_attr(INTERRUPTED, True)
        tell(study, trial, state="FAIL")
        raise
    except ObjectiveMissing:
        tell(study, trial, state="FAIL")
        raise
    state = {"completed": "COMPLETE", "pruned": "PRUNED"}.get(record["status"], "FAIL")
    tell(study, trial, record["objective"], state)
    return record


def train_trial(sweep_run: RunDir, settings: SweepSpec, number: int, params: dict, feed: "Feed", smoke: bool = False,
                executor: str = "local") -> dict:
    """Train trial `number` with `params` into `trials/NNN/`, feeding `feed` every epoch (or fold);
    returns its record, also kept in the trial's run.json (`sweep_record`), where the sweep's table
    is read from. Raises Interrupted (a signal) and ObjectiveMissing (a mistake in the sweep)."""
    started = time.time()
    folder = artifacts.trial_folder(sweep_run.path, number)
    record = {"number": number, "run_id": sweep_trial_id(sweep_run.run_id, number),
              **{f"param:{k}": v for k, v in params.items()}}
    try:
        loaded = spec_to_resume(sweep_run, None, [*trial_overrides(params), *(["training.epochs=1"] if smoke else [])])
        if settings.evaluate == "kfold":
            from dlrun.protocols.kfold import kfold

            if settings.retrain_best:  # the test rows stay out of every trial, for the retrained best
                loaded = loaded.with_sections(split={"final_model": True})
            result = kfold(loaded, folder=folder, on_fold=feed.fold, smoke=smoke)
            epochs_run = sum(int(f.get("epochs_run") or 0) for f in result.folds)
        else:
            from dlrun.protocols.holdout import train

            result = train(loaded, on_epoch=feed.epoch, folder=folder, smoke=smoke)
            epochs_run = result.epochs_run
    except Pruned:
        return _keep(folder, {**record, "status": "pruned", "epochs_run": feed.epochs_seen}, started, executor)
    except (Interrupted, ObjectiveMissing):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure fails this trial only; the sweep goes on
        message = str(exc) if isinstance(exc, DlrunError) else f"{type(exc).__name__}: {exc}"
        _error_log(folder, message, exc)
        return _keep(folder, {**record, "status": "failed", "error": _one_line(message),
                              "epochs_run": feed.epochs_seen}, started, executor)
    if feed.pruned:
        RunDir(folder).set_status("pruned", pruned_at_epoch=feed.epochs_seen)
        return _keep(folder, {**record, "status": "pruned", "epochs_run": epochs_run}, started, executor)
    value = feed.objective()
    if value is None:
        _error_log(folder, f"the objective {settings.objective.metric} was never finite", None)
        return _keep(folder, {**record, "status": "failed", "epochs_run": epochs_run,
                              "error": f"{settings.objective.metric} was never finite"}, started, executor)
    return _keep(folder, {**record, "status": "completed", "epochs_run": epochs_run, "objective": value},
                 started, executor)


class Feed:
    """Reports the objective after each epoch (or fold: the running mean) and asks whether to stop:
    Optuna's trial and pruner locally, Tune's report and scheduler on Ray."""

    def __init__(self, settings: SweepSpec, report: Callable[[float, int], None],
                 should_prune: Callable[[], bool] = lambda: False):
        self.metric = settings.objective.metric
        self.direction = direction(settings)
        self.report, self.should_prune = report, should_prune
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
            self.report(value, self.epochs_seen)
        if self.should_prune():
            self.pruned = True
            return "stop"
        return None

    def fold(self, result: dict, total: int) -> None:
        self.fold_values.append(fold_objective(self.metric, result))
        self.epochs_seen += int(result.get("epochs_run") or 0)
        mean = sum(self.fold_values) / len(self.fold_values)
        self.report(mean, len(self.fold_values))
        if len(self.fold_values) < total and self.should_prune():
            raise Pruned(f"pruned after fold {len(self.fold_values)} of {total}")

    def objective(self) -> float | None:
        if self.fold_values:
            mean = sum(self.fold_values) / len(self.fold_values)
            return mean if math.isfinite(mean) else None
        return self.direction.best(self.values)


def fold_objective(metric: str, result: dict) -> float:
    """A fold's value of the objective: the held-out metric of that name less its `val_` (val_accuracy:
    the held-out accuracy), else the history's value at the fold's best epoch (val_loss)."""
    metrics = result["metrics"]
    name = metric[len("val_"):] if metric.startswith("val_") else metric
    if isinstance(metrics.get(name), (int, float)):
        return float(metrics[name])
    history = result.get("history") or []
    row = next((r for r in history if r.get("epoch") == result.get("best_epoch")), history[-1] if history else {})
    if isinstance(row.get(metric), (int, float)):
        return float(row[metric])
    columns = [k for k, v in metrics.items() if isinstance(v, (int, float))] + [k for k in row if k != "epoch"]
    raise ObjectiveMissing(f"sweep.objective.metric: a fold has no '{metric}' in its held-out metrics or its "
                           f"history{did_you_mean(name, columns)} (it has {', '.join(columns)})")


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in message.splitlines() if line.strip())[:300]


def _since(started: float) -> float:
    return round(time.time() - started, 3)


def _keep(folder: Path, record: dict, started: float, executor: str) -> dict:
    """Finish a trial's record where it ran (its time, this node) and keep it in its run.json."""
    import socket

    return keep_record(folder, {**record, "seconds": _since(started)}, executor, socket.gethostname())


def keep_record(folder: Path, record: dict, executor: str, node: str | None = None) -> dict:
    """Keep a trial's record (number, run_id, status, objective, epochs_run, seconds, error and its
    `param:` values) in its run.json, where the sweep's table is read from; returns it completed."""
    record = {"objective": None, "error": None, **record}
    RunDir(folder).update_info(run_id=record["run_id"], sweep=record["run_id"].rsplit(":", 1)[0],
                               trial=record["number"], sweep_record=record, executor=executor,
                               **({"node": node} if node else {}),
                               params={k[len("param:"):]: v for k, v in record.items() if k.startswith("param:")})
    return record


def _error_log(folder: Path, message: str, exc: BaseException | None) -> None:
    """A failed trial's error log (and a status record, if it failed before its run folder existed)."""
    if not folder.is_dir():
        RunDir.fixed(folder).set_status("failed", error=_one_line(message) or "failed")
    log = artifacts.error_log_path(folder)
    if not log.exists():
        details = "".join(traceback.format_exception(exc)) if exc is not None and not isinstance(exc, DlrunError) else ""
        log.write_text(message + "\n" + details, encoding="utf-8")
