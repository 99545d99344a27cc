"""A sweep's table of trials, read from the trial folders (each keeps its record in run.json)
and the study (each trial's parameters), whichever executor ran them; the best trial; and
`keep`, which removes the model files of the trials that are not among the best."""

from __future__ import annotations

from dlrun.protocols.sweep_search import INTERRUPTED, rerun_of
from dlrun.protocols.sweep_trial import sweep_trial_id
from dlrun.report.sweep_view import ranked
from dlrun.runs import artifacts
from dlrun.runs.rundir import RunDir
from dlrun.spec.monitor import Direction
from dlrun.spec.sweep_forms import SweepSpec


def trial_records(run: RunDir, study, settings: SweepSpec) -> list[dict]:
    """One row per trial the study knows, in number order: number, parameters, objective,
    status, epochs_run, seconds, run_id, error (trials.csv)."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        info = artifacts.peek_info(artifacts.trial_folder(run.path, trial.number))
        record = info.get("sweep_record") or {}
        if record:
            status = record["status"]
        elif trial.state.name in ("RUNNING", "WAITING") and not trial.user_attrs.get(INTERRUPTED):
            status = "running"
        else:
            status = "failed"
        rows.append({"number": trial.number, **{path: trial.params.get(path) for path in settings.params},
                     "objective": record.get("objective") if status == "completed" else None, "status": status,
                     "epochs_run": record.get("epochs_run"), "seconds": record.get("seconds"),
                     "run_id": sweep_trial_id(run.run_id, trial.number),
                     "error": record.get("error") if record else _interrupted_note(study, trial, status)})
    return rows


def _interrupted_note(study, trial, status: str) -> str | None:
    if status != "failed":
        return None
    again = rerun_of(study, trial.number)
    return INTERRUPTED + (f": left running when the sweep stopped; run again as trial {again:03d}" if again is not None
                          else ": left running when the sweep stopped")


def keep_models(run: RunDir, settings: SweepSpec, rows: list[dict], direction: Direction) -> None:
    """`keep`: only the best (or top three) completed trials keep their model files."""
    if settings.keep == "all":
        return
    kept = {r["number"] for r in ranked(rows, direction)[:1 if settings.keep == "best" else 3]}
    for row in rows:
        folder = artifacts.trial_folder(run.path, row["number"])
        if row["status"] == "running" or row["number"] in kept or not artifacts.is_run(folder):
            continue
        if artifacts.has_model(folder):
            artifacts.drop_model_files(folder)
            RunDir(folder).update_info(model_kept=False, model_dropped_because=f"sweep.keep: {settings.keep}")


def write_trials(run: RunDir, study, settings: SweepSpec) -> list[dict]:
    """trials.csv and best.json as the trials stand now; `keep` applied."""
    rows = trial_records(run, study, settings)
    direction = Direction.from_optuna(study.direction)
    keep_models(run, settings, rows, direction)
    artifacts.write_trials_table(run.path, rows)
    best = ranked(rows, direction)
    if best:
        top = best[0]
        artifacts.write_best(run.path, {"number": top["number"], "run_id": top["run_id"],
                                        "objective": {"metric": settings.objective.metric, "value": top["objective"],
                                                      "direction": direction.optuna},
                                        "params": {path: top[path] for path in settings.params},
                                        "epochs_run": top["epochs_run"]})
    return rows
