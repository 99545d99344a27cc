"""The glue between a sweep section and Optuna: the study in its journal file, the sampler and
pruner the section names, each parameter's suggestion, and the bookkeeping that makes a killed
sweep resumable (trials left running become failed and are queued again with their parameters).

Optuna does the searching; nothing here chooses parameter values itself.
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path

from dlrun.errors import UserError
from dlrun.spec.monitor import Direction
from dlrun.spec.sweep_forms import ParamRange, SweepSpec

INTERRUPTED = "interrupted"   # a trial attribute: stopped by a signal or a kill, not by its own failure
REQUEUED = "requeued:"        # a study attribute per interrupted trial: the trial that re-runs its parameters


def optuna_module():
    """Optuna, quiet; a clear message when the extra is not installed."""
    try:
        import optuna
    except ImportError:
        raise UserError('dlrun sweep needs Optuna, which is not installed: pip install "dlrun[sweep]"') from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def direction(sweep: SweepSpec) -> Direction:
    """Which way the sweep's objective is better (`mode`, or read from the metric's name)."""
    return Direction.of(sweep.objective.metric, sweep.objective.mode)


def sampler(sweep: SweepSpec, worker: int = 0):
    """The sampler the sweep names, seeded by `sweep.seed` (the worker number is added, so that
    parallel workers do not all propose the same parameters)."""
    samplers = optuna_module().samplers
    seed = sweep.seed + worker
    if sweep.algorithm == "random":
        return samplers.RandomSampler(seed=seed)
    if sweep.algorithm == "cmaes":
        return samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if sweep.algorithm == "gp":
        return samplers.GPSampler(seed=seed)
    if sweep.algorithm == "grid":
        return samplers.GridSampler({path: p.grid() for path, p in sweep.params.items()}, seed=seed)
    return samplers.TPESampler(seed=seed)


def pruner(sweep: SweepSpec, max_steps: int):
    pruners = optuna_module().pruners
    if sweep.pruner == "median":
        # steps are epochs (folds) counted from 1, and Optuna may prune at step == n_warmup_steps
        return pruners.MedianPruner(n_startup_trials=sweep.pruner_startup_trials,
                                    n_warmup_steps=sweep.pruner_warmup_epochs + 1)
    if sweep.pruner == "hyperband":
        return pruners.HyperbandPruner(min_resource=sweep.pruner_warmup_epochs + 1, max_resource=max(max_steps, sweep.pruner_warmup_epochs + 1))
    return pruners.NopPruner()


def open_study(folder: Path, study_name: str, sweep: SweepSpec, max_steps: int, create: bool, worker: int = 0):
    """The sweep's study, stored in `folder`'s journal file (several processes may share it)."""
    from dlrun.runs.artifacts import study_journal_path

    optuna = optuna_module()
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(study_journal_path(folder))))
    if create:
        return optuna.create_study(study_name=study_name, storage=storage, sampler=sampler(sweep),
                                   pruner=pruner(sweep, max_steps), direction=direction(sweep).optuna)
    return optuna.load_study(study_name=study_name, storage=storage, sampler=sampler(sweep, worker),
                             pruner=pruner(sweep, max_steps))


def suggest(trial, path: str, param: ParamRange):
    """One trial's value for one parameter (Optuna remembers it under the parameter's path)."""
    if param.choice is not None:
        return trial.suggest_categorical(path, param.choice)
    if param.int_ is not None:
        return trial.suggest_int(path, param.int_[0], param.int_[1], step=int(param.step or 1))
    if param.loguniform is not None:
        return trial.suggest_float(path, *param.loguniform, log=True)
    return trial.suggest_float(path, *param.uniform, step=param.step)


def distribution(param: ParamRange):
    """The Optuna distribution `suggest` draws `param` from."""
    dists = optuna_module().distributions
    if param.choice is not None:
        return dists.CategoricalDistribution(param.choice)
    if param.int_ is not None:
        return dists.IntDistribution(param.int_[0], param.int_[1], step=int(param.step or 1))
    if param.loguniform is not None:
        return dists.FloatDistribution(*param.loguniform, log=True)
    return dists.FloatDistribution(*param.uniform, step=param.step)


@contextlib.contextmanager
def sweep_lock(folder: Path):
    """One process at a time counts the trials and asks for a new one (no trial beyond `trials`)."""
    from dlrun.runs.artifacts import sweep_lock_path

    with open(sweep_lock_path(folder), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def counted(trial) -> bool:
    """Whether a trial counts towards `trials`: finished (completed, pruned or failed on its own),
    or running now. A trial stopped by an interruption does not count: it runs again."""
    state = trial.state.name
    if state == "FAIL":
        return not trial.user_attrs.get(INTERRUPTED)
    return state in ("COMPLETE", "PRUNED", "RUNNING", "WAITING")


def recover(study) -> list[int]:
    """After a kill: every trial still marked running becomes failed (interrupted), and every
    interrupted trial not yet queued again is queued with its parameters. Returns the numbers
    of the trials that were found running."""
    optuna = optuna_module()
    found = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state == optuna.trial.TrialState.RUNNING:
            mark_interrupted(study, trial)
            found.append(trial.number)
    requeue(study)
    return found


def mark_interrupted(study, trial) -> None:
    """A trial left running by a process that is gone: failed, marked interrupted (it does not count)."""
    study._storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
    study._storage.set_trial_state_values(trial._trial_id, optuna_module().trial.TrialState.FAIL)


def requeue(study) -> None:
    """Queue the parameters of every interrupted trial that has not been queued again yet."""
    done = study.user_attrs
    for trial in study.get_trials(deepcopy=False):
        if trial.user_attrs.get(INTERRUPTED) and f"{REQUEUED}{trial.number}" not in done:
            study.enqueue_trial(trial.params, skip_if_exists=False)
            waiting = [t for t in study.get_trials(deepcopy=False) if t.state.name == "WAITING"]
            study.set_user_attr(f"{REQUEUED}{trial.number}", waiting[-1].number)


def rerun_of(study, number: int) -> int | None:
    """The trial that re-runs an interrupted trial's parameters, if it was queued."""
    return study.user_attrs.get(f"{REQUEUED}{number}")


def tell(study, trial, value: float | None = None, state: str = "COMPLETE") -> None:
    """Record how a trial ended. The grid sampler asks Optuna's own optimize loop to stop once
    every combination has run, which it refuses outside that loop; the trial is stored all the
    same (dlrun counts its trials itself), so that refusal is ignored."""
    states = optuna_module().trial.TrialState
    try:
        if state == "COMPLETE":
            study.tell(trial, value)
        else:
            study.tell(trial, state=getattr(states, state))
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise
