"""`dlrun sweep` (WORK IN PROGRESS, branch sweep-wip): a hyperparameter search over the spec's
`sweep.params`, each trial an ordinary run folder, the search itself Optuna's.

    runs/<id>/
      config.yaml        the resolved spec, sweep section included
      study.journal      Optuna's journal storage (resumable, process-safe)
      trials/NNN/        one run folder per trial (holdout), numbered by Optuna's trial number
      trials.csv, best.json
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from dlrun.errors import DlrunError
from dlrun.protocols.sweep_params import check_sweep_params, trial_overrides
from dlrun.runs import artifacts
from dlrun.runs.atomic import write_json, write_text
from dlrun.runs.rundir import RunDir
from dlrun.spec.load import LoadedSpec, load_spec
from dlrun.spec.models import resolve_mode


def _optuna():
    try:
        import optuna
    except ImportError:
        from dlrun.errors import UserError

        raise UserError('dlrun sweep needs Optuna: pip install "dlrun[sweep]"') from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _sampler(optuna, sweep):
    if sweep.algorithm == "random":
        return optuna.samplers.RandomSampler(seed=sweep.seed)
    if sweep.algorithm == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=sweep.seed)
    if sweep.algorithm == "grid":
        space = {path: p.choice if p.choice is not None else _grid_values(p) for path, p in sweep.params.items()}
        return optuna.samplers.GridSampler(space, seed=sweep.seed)
    return optuna.samplers.TPESampler(seed=sweep.seed)


def _grid_values(param) -> list:
    low, high = param.int_ or param.uniform or param.loguniform
    step = param.step or 1
    values, value = [], low
    while value <= high + 1e-12:
        values.append(value)
        value += step
    return values


def _pruner(optuna, sweep):
    return {"none": optuna.pruners.NopPruner(), "median": optuna.pruners.MedianPruner(n_warmup_steps=1),
            "hyperband": optuna.pruners.HyperbandPruner()}[sweep.pruner]


def _suggest(trial, path: str, param):
    if param.choice is not None:
        return trial.suggest_categorical(path, param.choice)
    if param.int_ is not None:
        return trial.suggest_int(path, param.int_[0], param.int_[1], step=int(param.step or 1))
    if param.loguniform is not None:
        return trial.suggest_float(path, *param.loguniform, log=True)
    return trial.suggest_float(path, *param.uniform, step=param.step)


def sweep(loaded: LoadedSpec, overrides: list[str] = (), dry_run: bool = False) -> dict:
    """Run the sweep (holdout evaluation only so far); returns the best trial's record."""
    spec = loaded.spec
    if spec.sweep is None:
        raise loaded.error([(("sweep",), "dlrun sweep needs a sweep: section (objective, params, trials)")])
    settings = spec.sweep
    check_sweep_params(loaded, settings, list(overrides))
    optuna = _optuna()
    if dry_run:
        return {"params": {k: v.model_dump(by_alias=True, exclude_none=True) for k, v in settings.params.items()}}
    run = RunDir.create(Path(spec.output.runs_dir), spec.name)
    artifacts.write_config(run.path, spec.model_dump(mode="json"), "sweep")
    run.update_info(run_id=run.run_id, name=spec.name, kind="sweep", status="running")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(run.path / "study.journal")))
    direction = "maximize" if resolve_mode(settings.objective.metric, settings.objective.mode) == "max" else "minimize"
    study = optuna.create_study(study_name=run.run_id, storage=storage, sampler=_sampler(optuna, settings),
                                pruner=_pruner(optuna, settings), direction=direction)
    from dlrun.protocols.holdout import train

    rows = []
    for _ in range(settings.trials or 10):
        trial = study.ask()
        params = {path: _suggest(trial, path, p) for path, p in settings.params.items()}
        folder = run.path / "trials" / f"{trial.number:03d}"
        started = time.time()

        def on_epoch(row, trial=trial):
            value = row.get(settings.objective.metric)
            if value is None:
                return None
            trial.report(float(value), row["epoch"])
            return "stop" if trial.should_prune() else None

        try:
            result = train(load_spec(loaded.path, [*overrides, *trial_overrides(params)]), on_epoch=on_epoch,
                           folder=folder)
        except DlrunError as exc:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            rows.append({"number": trial.number, **params, "objective": None, "status": "failed",
                         "epochs_run": None, "seconds": round(time.time() - started, 3), "error": str(exc)[:200]})
            continue
        history = result.history
        values = [r[settings.objective.metric] for r in history if settings.objective.metric in r]
        objective = (max if direction == "maximize" else min)(values) if values else None
        pruned = len(history) < spec.training.epochs and trial.should_prune()
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, objective)
        rows.append({"number": trial.number, **params, "objective": objective,
                     "status": "pruned" if pruned else "completed", "epochs_run": result.epochs_run,
                     "seconds": round(time.time() - started, 3), "run_id": folder.name})
    buffer = io.StringIO()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(run.path / "trials.csv", buffer.getvalue())
    best = {"number": study.best_trial.number, "params": study.best_trial.params, "objective": study.best_value}
    write_json(run.path / "best.json", best)
    run.set_status("completed")
    return best


def _unused():  # keep json imported for the next step (resume reads the journal's trials)
    return json
