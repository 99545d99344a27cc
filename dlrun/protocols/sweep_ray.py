"""A sweep on Ray (`dlrun sweep --executor ray`): Ray Tune runs the trials, Optuna's sampler
proposes them through Tune's OptunaSearch (into the same study journal as a local sweep), and
ASHA stops unpromising ones when the sweep asks for pruning. Each trial trains into the same
`trials/NNN/` folder a local sweep would write, numbered by its Optuna trial number.

After the driver dies, `--resume` restores the Tune experiment (`<sweep>/tune/`), searcher
included: trials that were running start again in a clean folder, and a trial number proposed
after Tune's last save is proposed again. The study journal is written from the results.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

from dlrun.errors import Pruned, UserError
from dlrun.executors.ray_cluster import Resources, TuneSearch, connected, tune_run
from dlrun.protocols.admission import spec_to_resume
from dlrun.protocols.sweep_search import INTERRUPTED, direction, distribution, open_study, optuna_module, sampler, suggest
from dlrun.protocols.sweep_trial import Feed, keep_record, sweep_trial_id, train_trial
from dlrun.runs import artifacts
from dlrun.runs.rundir import RunDir
from dlrun.spec.sweep_forms import SweepSpec

TRIAL_KEY = "dlrun_trial"   # the Optuna trial number, carried in each Tune trial's config
TUNE_FOLDER = "tune"


class Space:
    """The sweep's own search space, define-by-run for OptunaSearch: the same suggestions a local
    sweep makes, plus the trial's number as a constant of its config."""

    def __init__(self, settings: SweepSpec):
        self.settings = settings

    def __call__(self, trial) -> dict:
        for path, param in self.settings.params.items():
            suggest(trial, path, param)
        return {TRIAL_KEY: trial.number}


def ray_trial(config: dict, sweep: str, smoke: bool, threads: int) -> None:
    """One trial, in a Ray worker: train it, reporting every epoch (or fold) to Tune."""
    from ray import tune

    from dlrun.model.backend import limit_threads

    run = RunDir(Path(sweep))
    spec = spec_to_resume(run, None).spec
    settings = spec.sweep
    number = int(config[TRIAL_KEY])
    params = {path: config[path] for path in settings.params}
    limit_threads(spec.training, threads)
    folder = artifacts.trial_folder(run.path, number)
    if folder.exists():  # restarted after the driver died: start over
        shutil.rmtree(folder)

    def report(value: float, step: int) -> None:
        try:
            tune.report({"objective": value, "step": step})
        except SystemExit:  # Tune's way of stopping a trial its scheduler gave up on
            raise Pruned(f"stopped by ASHA after step {step}") from None

    record = train_trial(run, settings, number, params, Feed(settings, report), smoke, executor="ray")
    if record["status"] == "failed":
        raise RuntimeError(record["error"])  # Tune (and the study) see a failure, never a pruned trial
    if record["status"] == "completed":
        tune.report({"objective": record["objective"], "step": max(1, int(record["epochs_run"] or 1)), "final": True})


def run_on_ray(run: RunDir, settings: SweepSpec, max_steps: int, resources: Resources, address: str | None,
               resuming: bool, smoke: bool, max_concurrent: int | None) -> None:
    """Run the sweep's trials on Ray (or finish a restored run), then settle every trial's record."""
    # OptunaSearch keeps its study in memory, saved and restored with Tune's own experiment state
    # (a journal it shared would go stale on restore); the journal is written from the results after
    search = TuneSearch(space=Space(settings), sampler=sampler(settings), storage=None, study_name=run.run_id,
                        mode=direction(settings).mode, trials=settings.trial_count(),
                        max_steps=max_steps, prune=settings.pruner != "none", grace=settings.pruner_warmup_epochs + 1,
                        max_concurrent=max_concurrent)
    trainable = functools.partial(ray_trial, sweep=str(run.path.resolve()), smoke=smoke, threads=resources.threads())
    with connected(address) as node:
        run.update_info(executor="ray", node=node, ray_address=address or "local")
        results = tune_run(trainable, search, resources, run.path / TUNE_FOLDER, restore=resuming)
    settle(run, settings, results)
    record_study(run, settings, max_steps, results)


def settle(run: RunDir, settings: SweepSpec, results: list[dict]) -> None:
    """Give every trial Tune ran a record: ASHA's stops become pruned, Tune's errors failed."""
    for result in results:
        number = result["config"].get(TRIAL_KEY)
        if number is None:
            continue
        folder = artifacts.trial_folder(run.path, int(number))
        info = artifacts.peek_info(folder)
        error = result["error"] or ""
        if "sweep.objective.metric" in error:
            raise UserError(error[error.index("sweep.objective.metric"):].splitlines()[0])
        if info.get("sweep_record") or not folder.is_dir():
            continue
        status = "failed" if error else "pruned"
        epochs = len(artifacts.read_history(folder))
        RunDir(folder).set_status(status, **({"error": error[:300]} if error else {"pruned_at_epoch": epochs}))
        keep_record(folder, {"number": int(number), "run_id": sweep_trial_id(run.run_id, int(number)),
                             **{f"param:{path}": result["config"][path] for path in settings.params},
                             "status": status, "epochs_run": epochs,
                             "seconds": round(float(result["metrics"].get("time_total_s") or 0.0), 3),
                             "error": error.splitlines()[-1][:300] if error else None}, "ray")


def record_study(run: RunDir, settings: SweepSpec, max_steps: int, results: list[dict]) -> None:
    """Write the sweep's study journal from Tune's trials, numbered as their folders: the same
    study a local sweep leaves (for the report's importances and plots, and for reading later).
    A number Tune lost when the driver died becomes a failed trial marked interrupted."""
    optuna = optuna_module()
    journal = artifacts.study_journal_path(run.path)
    journal.unlink(missing_ok=True)
    study = open_study(run.path, run.run_id, settings, max_steps, create=True)
    by_number = {int(r["config"][TRIAL_KEY]): r for r in results if TRIAL_KEY in r["config"]}
    distributions = {path: distribution(param) for path, param in settings.params.items()}
    states = optuna.trial.TrialState
    for number in range(max(by_number, default=-1) + 1):
        result = by_number.get(number)
        record = artifacts.peek_info(artifacts.trial_folder(run.path, number)).get("sweep_record") or {}
        if result is None:
            study.add_trial(optuna.trial.create_trial(state=states.FAIL, user_attrs={INTERRUPTED: True}))
            continue
        params = {path: result["config"][path] for path in settings.params}
        status = record.get("status", "failed")
        state = {"completed": states.COMPLETE, "pruned": states.PRUNED}.get(status, states.FAIL)
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions=distributions, state=state,
            value=record.get("objective") if state == states.COMPLETE else None))
