"""Holdout (`dlrun train`): the flow runs once, on one train / validation / test split.

    YAML ─load─▶ spec ─prepare─▶ splits + preprocessing + arrays ─build─▶ keras.Model
         ─fit─▶ history + checkpoints ─store─▶ RunDir ─report─▶ metrics, report, plots

A holdout run can be continued exactly after an interruption (`resume_train`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Protocol

from dlrun.data.prepare import prepare_rows
from dlrun.data.split import Splits
from dlrun.errors import DamagedRunFile, RunFailed, UserError
from dlrun.protocols.admission import admit, spec_to_resume
from dlrun.protocols.fitting import TrainResult, fit_in_dir, parent_start, write_fitted, write_inputs
from dlrun.protocols.lifecycle import (data_record, lineage, open_new, open_to_resume, refuse_unless_resumable, resume_at,
                                       run_status, start_record)
from dlrun.protocols.stages import build_compiled, load_resolved, prepare, start_backend
from dlrun.runs import artifacts
from dlrun.runs.lock import hold
from dlrun.runs.rundir import RunDir, now_iso
from dlrun.runs.timing import PhaseClock
from dlrun.spec.load import LoadedSpec, load_spec
from dlrun.train.fit_role import RUN, TRIAL
from dlrun.train.phases import total_epochs
from dlrun.train.start import Start
from dlrun.train.tracking import check_tracking, tracked


class TrainEvents(Protocol):
    """What a caller (the CLI's progress display) hears while a run trains."""

    def begin(self, run: RunDir, epochs: int, resumed: bool) -> None: ...

    def epoch(self, row: dict) -> None: ...


def train(loaded: LoadedSpec, *, smoke: bool = False, on_epoch: Callable[[dict], None] | None = None,
          on_start: Callable[[RunDir], None] | None = None, folder: Path | None = None) -> TrainResult:
    """Train the experiment the spec describes and write its run directory.

    `folder`: a new folder at this path instead of a fresh one in the runs directory: a sweep's
    trial, which scores its validation part and leaves the test rows untouched, and is not
    resumable on its own (its sweep runs it again).

    Example:
        >>> from dlrun.spec import load_spec
        >>> result = train(load_spec("configs/iris.yaml", ["training.epochs=1"]))  # doctest: +SKIP
        >>> result.status
        'completed'
    """
    started, clock = time.time(), PhaseClock()
    if folder is None:  # a trial's store was checked by its sweep
        check_tracking(loaded.spec)  # a tracking store that does not answer: exit 2 before anything is made
    prepared = prepare(loaded, smoke=smoke, clock=clock)
    with clock.phase("backend"):
        start_backend(prepared)
    with clock.phase("build"):
        built = build_compiled(prepared)  # a model that cannot be built fails before any run folder exists
        start = Start.scratch() if prepared.parent is None else parent_start(built.model, prepared)  # so does a mismatch
    run = open_new(loaded, folder)
    with hold(run.path), tracked(run, "train" if folder is None else "trial", loaded.spec, folder is not None), \
            run_status(run, "training", resume_at(run, "train") if folder is None else None):
        start_record(run, loaded, "train", smoke, {**data_record(prepared), "split": prepared.splits.sizes()},
                     **lineage(prepared))
        write_inputs(run, prepared)
        if on_start is not None:
            on_start(run)
        result = fit_in_dir(run, prepared, RUN if folder is None else TRIAL, start, on_epoch, built, clock)
        _complete(run, prepared, time.time() - started, result.run_info)
        return result.result


def resume_train(run: RunDir, loaded: LoadedSpec | None = None, *, allow_changed: bool = False,
                 on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Continue an interrupted `dlrun train` run from its last finished epoch.

    The spec is the run's own resolved spec unless `loaded` is given; a spec that differs is
    refused (listing the differing keys) unless `allow_changed`.
    """
    with hold(run.path):  # one writer per run: a second resume exits 2 naming the first
        refuse_unless_resumable(run, "train")
        loaded = loaded or spec_to_resume(run, None)
        resolved = load_resolved(loaded, smoke=bool(run.read_info().get("smoke")))
        admit(run, resolved, allow_changed, f"the data differs from what run {run.run_id} was trained on "
                                            f"(its fingerprint changed); start a new run instead")
        prepared = prepare_rows(resolved, Splits.read(run.path))
        start = _trusted_start(run)
        started = time.time()
        run.set_status("running", resumed=now_iso(), resumed_from_epoch=start.epoch)
        with tracked(run, "train", resolved.spec), run_status(run, "training", resume_at(run, "train")):
            write_fitted(run, prepared)  # the same rows give the same fit: a lost preprocessing.json comes back
            result = fit_in_dir(run, prepared, RUN, start, on_epoch)
            _complete(run, prepared, time.time() - started, result.run_info)
            return result.result


def _trusted_start(run: RunDir) -> Start:
    """Where a resumed run continues: its saved state, checked against its history. A run with finished
    epochs but no usable state is refused (never silently trained again from epoch 1), as is a history
    shorter than the state."""
    from dlrun.model.backend import import_keras

    import_keras()  # quietly, before resume.py's own `import keras` (else TensorFlow's start-up lines show)
    from dlrun.train.resume import read_state  # imports Keras: only once load_resolved chose the backend

    checkpoints = artifacts.checkpoints_folder(run.path)
    start = Start.resume(read_state(checkpoints))
    done = len(artifacts.read_history(run.path))
    if start.mode == "scratch" and done:
        raise DamagedRunFile(f"{artifacts.resume_state_path(checkpoints)}: missing, but history.csv holds {done} "
                             f"finished epoch(s); the run cannot continue where it stopped — start a new run")
    if done < start.epoch:
        raise DamagedRunFile(f"{artifacts.history_path(run.path)}: holds {done} epoch(s), but the saved state is "
                             f"at epoch {start.epoch}; restore the file, or start a new run")
    return start


def _complete(run: RunDir, prepared, seconds: float, run_info: dict) -> None:
    """Status completed, once every file the run promises is there."""
    missing = artifacts.missing_promised(run.path, prepared.spec.output.save_model)
    if missing:
        raise RunFailed(f"run {run.run_id} finished training but lacks {', '.join(missing)}")
    run.set_status("completed", seconds=round(seconds, 3), **run_info)


def train_or_resume(config: Path | None, overrides: list[str], events: TrainEvents, *, resume: str | None = None,
                    runs_dir: Path | None = None, allow_changed: bool = False, smoke: bool = False) -> TrainResult:
    """`dlrun train`: a new run from CONFIG, or (with `resume`, a run reference) the continuation of one."""
    if resume is not None:
        previous = open_to_resume(resume, runs_dir, "train")
        loaded = spec_to_resume(previous, config, overrides)
        check_tracking(loaded.spec)
        events.begin(previous, total_epochs(loaded.spec.training), True)
        return resume_train(previous, loaded, allow_changed=allow_changed, on_epoch=events.epoch)
    if config is None:
        raise UserError("give a CONFIG to train, or --resume RUN to continue an interrupted run")
    loaded = load_spec(config, overrides)
    return train(loaded, smoke=smoke, on_epoch=events.epoch,
                 on_start=lambda run: events.begin(run, total_epochs(loaded.spec.training), False))
