"""Sweeps (`dlrun sweep`): a hyperparameter search over the spec's `sweep.params`, the search
itself Optuna's, every trial an ordinary run folder trained by the holdout or k-fold protocol.

    runs/<id>/
      config.yaml, run.json   the resolved spec (sweep section included) and the sweep's status
      study.journal           Optuna's study: every trial's parameters, reports and state
      trials/NNN/             one run folder per trial, numbered by the study's trial number
      trials.csv, best.json   rebuilt from the study after every trial
      report.md, plots/       best trial, top 10, parameter importances, the objective beside the baseline
      best/                   with retrain_best: the best parameters retrained on train + validation,
                              scored once on the test set

The test set never chooses: trials score their validation part (or the k-fold folds). A killed
sweep resumes (`--resume SWEEP`): trials left running become failed-interrupted and run again
with the same parameters, until exactly `trials` trials have finished.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from dlrun.errors import RunFailed, UserError
from dlrun.executors.choice import Executor
from dlrun.executors.local import run_jobs
from dlrun.protocols.lifecycle import open_new, open_to_resume, resume_at, run_status, start_record, term_as_interrupt
from dlrun.protocols.sweep_search import counted, open_study, optuna_module, recover, sweep_lock
from dlrun.protocols.sweep_table import write_trials
from dlrun.protocols.sweep_trial import run_trial
from dlrun.runs import artifacts
from dlrun.runs.lock import hold
from dlrun.runs.rundir import RunDir, now_iso
from dlrun.spec.load import LoadedSpec, load_spec
from dlrun.spec.sweep_checks import check_sweep
from dlrun.spec.sweep_forms import SweepSpec
from dlrun.train.tracking import check_tracking, tracked


@dataclass
class SweepResult:
    run: RunDir
    trials: list[dict]            # one record per trial (trials.csv's rows)
    best: dict | None             # best.json
    recovered: list[int] = field(default_factory=list)  # trials found running after a kill, run again


@dataclass
class SweepWorker:
    """What a worker process needs: the sweep folder (its spec, journal and lock) and its share of cores."""

    folder: Path
    smoke: bool
    threads: int | None = None
    echo: bool = False
    number: int = 0


def plan(loaded: LoadedSpec, overrides: list[str] = ()) -> dict:
    """`--dry-run`: the checked search, and nothing run."""
    settings = check_sweep(loaded, overrides)
    return {"name": loaded.spec.name, "objective": settings.objective.model_dump(),
            "algorithm": settings.algorithm, "trials": settings.trial_count(),
            "grid_size": settings.grid_size() if settings.algorithm == "grid" else None,
            "evaluate": settings.evaluate, "pruner": settings.pruner, "keep": settings.keep,
            "retrain_best": settings.retrain_best, "epochs": loaded.spec.training.epochs,
            "params": {path: p.model_dump(by_alias=True, exclude_none=True) for path, p in settings.params.items()}}


def sweep_command(config: Path | None, overrides: list[str], *, resume: str | None = None,
                  runs_dir: Path | None = None, executor: Executor = Executor(), smoke: bool = False,
                  dry_run: bool = False, on_trial: Callable[[dict], None] | None = None) -> SweepResult | dict:
    """`dlrun sweep`: the plan (`dry_run`), a new sweep, or a resumed one."""
    if dry_run:
        if config is None:
            raise UserError("--dry-run needs the CONFIG whose sweep to show")
        return plan(load_spec(config, overrides))
    return sweep_or_resume(config, overrides, resume=resume, runs_dir=runs_dir, executor=executor, smoke=smoke,
                           on_trial=on_trial)


def sweep_or_resume(config: Path | None, overrides: list[str], *, resume: str | None = None,
                    runs_dir: Path | None = None, executor: Executor = Executor(), smoke: bool = False,
                    on_trial: Callable[[dict], None] | None = None) -> SweepResult:
    """`dlrun sweep`: a new sweep from CONFIG, or (with `resume`) the continuation of a killed one.
    A sweep resumes on the executor it started on (a Ray sweep through Tune's restore)."""
    optuna_module()  # a missing extra is refused before any folder is written
    executor.check_installed()
    if resume is not None:
        previous = open_to_resume(resume, runs_dir, "sweep")
        started_on = previous.read_info().get("executor", "local")
        if started_on != executor.name:
            raise UserError(f"sweep {previous.run_id} ran on --executor {started_on}; resume it with the same executor")
        check_tracking(_saved(previous).spec)
        return run_sweep(previous, executor=executor, on_trial=on_trial, resuming=True)
    if config is None:
        raise UserError("give a CONFIG with a sweep: section, or --resume SWEEP to continue an interrupted sweep")
    loaded = load_spec(config, overrides)
    settings = check_sweep(loaded)
    check_tracking(loaded.spec)  # a tracking store that does not answer: exit 2 before anything is made
    run = open_new(loaded)
    with run_status(run, "sweep", resume_at(run, "sweep")):  # a sweep that fails to start is not left running
        artifacts.write_config(run.path, loaded.spec.model_dump(mode="json"), "sweep")
        start_record(run, loaded, "sweep", smoke, {}, executor=executor.name,
                     sweep={"objective": settings.objective.model_dump(), "algorithm": settings.algorithm,
                            "trials": settings.trial_count(), "evaluate": settings.evaluate, "jobs": executor.jobs})
        if executor.name == "local":  # on Ray, the journal is written from Tune's results (sweep_ray.record_study)
            open_study(run.path, run.run_id, settings, _max_steps(loaded), create=True)
    return run_sweep(run, executor=executor, on_trial=on_trial)


def _saved(run: RunDir) -> LoadedSpec:
    from dlrun.protocols.admission import spec_to_resume

    return spec_to_resume(run, None)


def _max_steps(loaded: LoadedSpec) -> int:
    """How many reports a trial makes at most: epochs (holdout) or folds (k-fold)."""
    sweep, split = loaded.spec.sweep, loaded.spec.split
    if sweep.evaluate == "kfold":
        return split.folds * (split.repeats if split.protocol == "repeated_kfold" else 1)
    from dlrun.train.phases import total_epochs

    return total_epochs(loaded.spec.training)


def run_sweep(run: RunDir, *, executor: Executor = Executor(), on_trial: Callable[[dict], None] | None = None,
              resuming: bool = False) -> SweepResult:
    """Run trials until the sweep has its number of finished trials, then write its summary."""
    started = time.time()
    with hold(run.path, "sweep"), term_as_interrupt(), tracked(run, "sweep") as tracker, \
            run_status(run, "sweep", resume_at(run, "sweep")):
        loaded = _saved(run)
        tracker.open(loaded.spec)  # tracking.mlflow: trials are its child runs
        settings = check_sweep(loaded) if resuming else loaded.spec.sweep  # a new sweep was checked before it began
        recovered = _recover(run, settings, _max_steps(loaded)) if resuming and executor.name == "local" else []
        _run_trials(run, settings, _max_steps(loaded), executor, on_trial, resuming)
        result = finish(run, loaded, settings, recovered)
        failed = [r for r in result.trials if r.get("status") == "failed"]
        if result.best is None:
            first = f"; the first error: {failed[0].get('error')}" if failed else ""
            raise RunFailed(f"no trial of sweep {run.run_id} finished: {len(failed)} of {len(result.trials)} "
                            f"failed{first}")
        run.set_status("completed", seconds=round(time.time() - started, 3), failed_trials=len(failed),
                       headline=_headline(settings, result.best))
        return result


def _recover(run: RunDir, settings: SweepSpec, max_steps: int) -> list[int]:
    """Trials a killed sweep left running: failed-interrupted in the study (asked again) and in their folders."""
    study = open_study(run.path, run.run_id, settings, max_steps, create=False)
    recovered = recover(study)
    for number in recovered:
        folder = artifacts.trial_folder(run.path, number)
        if artifacts.is_run(folder):
            RunDir(folder).set_status("interrupted")
    run.set_status("running", resumed=now_iso(), recovered_trials=recovered)
    return recovered


def _run_trials(run: RunDir, settings: SweepSpec, max_steps: int, executor: Executor, on_trial, resuming: bool) -> None:
    """The trials, on the executor the sweep runs on: this process, local worker processes, or Ray Tune."""
    smoke = bool(run.read_info().get("smoke"))
    if executor.name == "ray":
        from dlrun.protocols.sweep_ray import run_on_ray

        run_on_ray(run, settings, max_steps, executor.resources, executor.address, resuming, smoke,
                   executor.jobs if executor.jobs > 1 else None)
    elif executor.jobs == 1:
        work(SweepWorker(run.path, smoke), on_trial)
    else:
        workers = [SweepWorker(run.path, smoke, executor.threads(), echo=True, number=i)
                   for i in range(executor.jobs)]
        run_jobs(work, workers, executor.jobs, lambda _: None)


def work(worker: SweepWorker, on_trial: Callable[[dict], None] | None = None) -> int:
    """Ask for trials and run them until the sweep has enough; several processes may do this at
    once on one sweep (the journal and a lock keep their trial numbers and count straight)."""
    run = RunDir(worker.folder)
    loaded = _saved(run)
    settings = loaded.spec.sweep
    from dlrun.model.backend import limit_threads

    limit_threads(loaded.spec.training, worker.threads)
    study = open_study(run.path, run.run_id, settings, _max_steps(loaded), create=False, worker=worker.number)
    target, done = settings.trial_count(), 0
    while True:
        with sweep_lock(run.path):
            trials = study.get_trials(deepcopy=False)
            waiting = any(t.state.name == "WAITING" for t in trials)
            if not waiting and sum(counted(t) for t in trials) >= target:
                return done
            trial = study.ask()
        try:
            record = run_trial(run, settings, study, trial, worker.smoke)
        finally:  # also when a signal stopped the trial: the table shows it
            with sweep_lock(run.path):
                write_trials(run, study, settings)
        done += 1
        if on_trial is not None:
            on_trial(record)
        elif worker.echo:
            from dlrun.report.sweep_view import trial_line

            print(trial_line(record), flush=True)


def finish(run: RunDir, loaded: LoadedSpec, settings: SweepSpec, recovered: list[int]) -> SweepResult:
    """The sweep's summary: trials.csv, best.json, report.md and plots; the best retrained if asked."""
    study = open_study(run.path, run.run_id, settings, _max_steps(loaded), create=False)
    rows = write_trials(run, study, settings)
    best = artifacts.read_best(run.path)
    if best is not None and settings.retrain_best:
        from dlrun.protocols.sweep_best import retrain_best

        best["retrained"] = retrain_best(run, best, settings)
        artifacts.write_best(run.path, best)
    from dlrun.report.sweep_report import write_sweep_report

    write_sweep_report(run.path, study, settings, rows, best, settings.plots)
    return SweepResult(run, rows, best, recovered)


def _headline(settings: SweepSpec, best: dict | None) -> dict:
    return {"name": f"best {settings.objective.metric}", "value": None if best is None else best["objective"]["value"]}

