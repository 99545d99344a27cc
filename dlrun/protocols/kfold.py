"""Cross-validation (`dlrun kfold`): the flow runs once per fold — every fold fitted afresh, its
preprocessing fitted on that fold's training rows only — then an honest summary (mean, sample
std, 95% CI, baseline) and, optionally, a final model scored once on held-out test rows.

    runs/<id>/
      the resolved spec, every fold's rows, the summary, the report, plots/
      folds/NN/   a run-like folder per fold (history, metrics, split, preprocessing, ...)
      final/      with split.final_model: the model retrained on all non-test rows, scored once
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from dlrun.data.folds import Fold, fold_splits, held_out_test, make_folds
from dlrun.data.prepare import Resolved, prepare_rows
from dlrun.errors import DamagedRunFile, UserError
from dlrun.executors.choice import Executor, run_on
from dlrun.protocols.admission import admit, spec_to_resume
from dlrun.protocols.fitting import fit_final, fit_in_dir, write_inputs
from dlrun.protocols.lifecycle import (data_record, lineage, open_new, open_to_resume, refuse_unless_resumable,
                                       resume_at, run_status, start_record, start_sub_run, term_as_interrupt)
from dlrun.protocols.stages import build_compiled, load_resolved, start_backend
from dlrun.runs.timing import PhaseClock
from dlrun.report.cv_report import write_cv_report
from dlrun.report.cv_summary import average_curves, summarize
from dlrun.runs import artifacts
from dlrun.runs.lock import hold
from dlrun.runs.rundir import RunDir, now_iso
from dlrun.spec.load import LoadedSpec, load_spec
from dlrun.spec.split_forms import CV_PROTOCOLS
from dlrun.train.fit_role import FOLD
from dlrun.train.monitor import chosen_epochs
from dlrun.train.phases import total_epochs
from dlrun.train.start import Start
from dlrun.train.tracking import check_tracking, tracked


@dataclass
class KFoldResult:
    run: RunDir
    folds: list[dict]          # per fold: fold, repeat, metrics, best_epoch, epochs_run
    summary: dict
    final: dict | None
    skipped: list[int]         # folds already finished before a --resume
    notes: list[str] = field(default_factory=list)  # e.g. a KERAS_BACKEND setting that was overridden


@dataclass
class FoldJob:
    resolved: Resolved
    fold: Fold
    folder: Path
    threads: int | None = None
    executor: str = "local"


def run_fold(job: FoldJob) -> dict:
    """Fit one fold in its own folder; returns its held-out metrics and history. Runs in a worker
    process when --jobs > 1 (the backend's thread pools are then sized for the share of cores)."""
    fold, resolved = job.fold, job.resolved
    spec = resolved.spec
    from dlrun.model.backend import limit_threads

    limit_threads(spec.training, job.threads)
    folder = RunDir(job.folder)
    splits = fold_splits(fold, spec.split, spec.seed, resolved.labels(), resolved.dataset.groups)
    splits = resolved.dataset.data.separated(splits)  # windows: no part reaches into an earlier one
    clock = PhaseClock()
    with clock.phase("preprocess"):
        prepared = prepare_rows(resolved, splits)
    start_sub_run(folder, resolved, "fold", fold=fold.number, repeat=fold.repeat, executor=job.executor,
                  node=socket.gethostname())
    write_inputs(folder, prepared, spec.split.protocol, {"fold": fold.number, "repeat": fold.repeat})
    with hold(folder.path), tracked(folder, "fold", spec, sub_run=True), run_status(folder, f"fold {fold.number}"):
        with clock.phase("backend"):
            start_backend(prepared)
        with clock.phase("build"):
            built = build_compiled(prepared, reuse=True)
        fitted = fit_in_dir(folder, prepared, FOLD.with_curves_on_test(spec.split.curves), Start.reused(built.initial),
                            built=built, clock=clock)
        folder.set_status("completed", **fitted.run_info)
    result = fitted.result
    return {"fold": fold.number, "repeat": fold.repeat, "metrics": result.metrics[result.metrics["part"]],
            "best_epoch": result.best_epoch, "epochs_run": result.epochs_run, "history": result.history}


def _finished_fold(folder: Path) -> dict | None:
    """A fold that completed before an interruption: its saved results, or None (a fold whose files
    are missing or damaged trains again)."""
    try:
        info, metrics = artifacts.read_info(folder), artifacts.read_metrics(folder)
        if info.get("status") != "completed" or not isinstance(metrics, dict):
            return None
        return {"fold": info["fold"], "repeat": info["repeat"], "metrics": metrics[metrics["part"]],
                "best_epoch": info.get("best_epoch"), "epochs_run": info.get("epochs_run"),
                "history": artifacts.read_history(folder)}
    except (DamagedRunFile, KeyError, TypeError):
        return None


def kfold(loaded: LoadedSpec, *, smoke: bool = False, jobs: int = 1, executor: Executor | None = None,
          resume: RunDir | None = None,
          allow_changed: bool = False, on_fold: Callable[[dict, int], None] | None = None,
          folder: Path | None = None) -> KFoldResult:
    """Cross-validate the experiment; see the module docstring for what is written.

    `folder`: a new folder at this path instead of a fresh one in the runs directory: a sweep's
    trial, which with split.final_model holds the test rows out but fits no final model (the test
    rows wait for the sweep's retrained best). `on_fold` may raise `Pruned` to stop after a fold
    (the run's status becomes pruned)."""
    started = time.time()
    spec = loaded.spec
    if spec.split.protocol not in CV_PROTOCOLS:
        raise loaded.error([(("split", "protocol"), f"dlrun kfold needs a cross-validation protocol "
                                                    f"({', '.join(CV_PROTOCOLS)}), not {spec.split.protocol}")])
    executor = executor or Executor(jobs=jobs)
    executor.check_installed()
    if folder is None:  # a trial's store was checked by its sweep
        check_tracking(spec)  # a tracking store that does not answer: exit 2 before anything is made
    resolved = load_resolved(loaded, smoke)
    spec, dataset = resolved.spec, resolved.dataset
    cv_rows, test_rows = held_out_test(dataset.n_rows, spec.split, spec.seed, resolved.labels(), dataset.groups,
                                       dataset.source_test)
    cv_rows = dataset.data.before(cv_rows, test_rows)  # windows: a gap before the final test part
    folds = make_folds(cv_rows, spec.split, spec.seed, resolved.labels(), dataset.groups)
    run = resume or open_new(loaded, folder)
    tracking = tracked(run, "kfold" if folder is None else "trial", spec, folder is not None)  # folds: child runs
    with hold(run.path), term_as_interrupt(), tracking:  # one writer per run: a second exits 2 naming the holder
        if resume is not None:
            refuse_unless_resumable(resume, "kfold")
            admit(resume, resolved, allow_changed, f"the data differs from what run {resume.run_id} started on (or "
                                                   f"--smoke differs); its finished folds cannot be combined with "
                                                   f"new ones — start a new run")
            run.set_status("running", resumed=now_iso())
        else:
            _start(run, loaded, resolved, folds, cv_rows, test_rows, executor)
        return _run_folds(run, resolved, folds, cv_rows, test_rows, resume is not None, executor, on_fold, started,
                          folder is None)


def _start(run: RunDir, loaded: LoadedSpec, resolved: Resolved, folds: list[Fold], cv_rows, test_rows,
           executor: Executor) -> None:
    """A new k-fold run's start record, resolved spec and every fold's rows."""
    spec, dataset = resolved.spec, resolved.dataset
    start_record(run, loaded, "kfold", resolved.sample is not None,
                 {**data_record(resolved), "cv_rows": int(len(cv_rows)), "test_rows": int(len(test_rows))},
                 protocol=spec.split.protocol, n_folds=len(folds), executor=executor.name, **lineage(resolved))
    artifacts.write_config(run.path, spec.model_dump(mode="json"), "kfold")
    sample = {} if resolved.sample is None else {"sample": resolved.sample.tolist()}
    artifacts.write_splits(run.path, {
        "protocol": spec.split.protocol, "n_rows": dataset.n_rows, "test": test_rows.tolist(),
        "folds": [{"fold": f.number, "repeat": f.repeat, "train": f.train.tolist(),
                   "held_out": f.held_out.tolist()} for f in folds], **sample, **dataset.file_list()})


def kfold_or_resume(config: Path | None, overrides: list[str], *, resume: str | None = None,
                    runs_dir: Path | None = None, executor: Executor = Executor(), allow_changed: bool = False,
                    smoke: bool = False,
                    on_fold: Callable[[dict, int], None] | None = None) -> KFoldResult:
    """`dlrun kfold`: a new cross-validation from CONFIG, or (with `resume`, a run reference) the
    continuation of one from its first unfinished fold."""
    previous = open_to_resume(resume, runs_dir, "kfold") if resume is not None else None
    if previous is not None:
        loaded = spec_to_resume(previous, config, overrides)
    elif config is None:
        raise UserError("give a CONFIG, or --resume RUN to continue an interrupted k-fold run")
    else:
        loaded = load_spec(config, overrides)
    return kfold(loaded, smoke=smoke, executor=executor, resume=previous, allow_changed=allow_changed,
                 on_fold=on_fold)


def _run_folds(run: RunDir, resolved: Resolved, folds: list[Fold], cv_rows, test_rows, resuming: bool,
               executor: Executor,
               on_fold, started: float, final_fit: bool = True) -> KFoldResult:
    spec = resolved.spec
    with run_status(run, "k-fold", resume_at(run, "kfold")):
        results, skipped = {}, []
        for fold in folds:
            done = _finished_fold(artifacts.fold_folder(run.path, fold.name)) if resuming else None
            if done is not None:
                results[fold.number] = done
                skipped.append(fold.number)
        fold_resolved = resolved.with_loaded(resolved.loaded.with_sections(output={"save_model": spec.output.fold_models}))
        threads = executor.threads()
        job_list = [FoldJob(fold_resolved, f, artifacts.fold_folder(run.path, f.name), threads, executor.name)
                    for f in folds if f.number not in results]

        def finished(result: dict) -> None:
            results[result["fold"]] = result
            if on_fold:
                on_fold(result, len(folds))

        run_on(executor, run_fold, job_list, finished)
        ordered = [results[f.number] for f in folds]
        summary = summarize(ordered)
        curves = average_curves([r["history"] for r in ordered], with_std=True)
        summary.update({"run_id": run.run_id, "protocol": spec.split.protocol, "n_folds": len(folds),
                        "repeats": spec.split.repeats if spec.split.protocol == "repeated_kfold" else 1,
                        "average_curves": curves, "best_epochs": [r["best_epoch"] for r in ordered]})
        final = None
        if spec.split.final_model and final_fit:
            monitor, mode = spec.callbacks.best_epoch_rule("val_loss")
            epochs = chosen_epochs(curves, monitor, mode, len(folds), total_epochs(spec.training))
            final = _final_model(run, resolved, cv_rows, test_rows, epochs)
            summary["final_model"] = final
        artifacts.write_summary(run.path, summary)
        write_cv_report(run.path, summary, curves, spec.output.plots)
        headline_key = _headline_key(resolved)
        stats = summary["stats"].get(headline_key, {})
        run.set_status("completed", seconds=round(time.time() - started, 3),
                       headline={"name": f"cv_{headline_key}", "value": stats.get("mean")},
                       summary={f"cv_{headline_key}_mean": stats.get("mean"), f"cv_{headline_key}_std": stats.get("std")})
    from dlrun.model.backend import activation_notes

    return KFoldResult(run, ordered, summary, final, skipped, activation_notes())


def _headline_key(resolved: Resolved) -> str:
    """The summary key of the number a listing shows (report.metrics.headline_key)."""
    from dlrun.report.metrics import headline_key
    from dlrun.spec.outputs import output_heads

    heads = output_heads(resolved.spec, list(resolved.targets))
    first = heads[0]
    return headline_key(resolved.targets[first.target].task, first.name if len(heads) > 1 else "")


def _final_model(run: RunDir, resolved: Resolved, cv_rows: np.ndarray, test_rows: np.ndarray, epochs: int) -> dict:
    """Retrain on every cross-validated row for `epochs` and score the held-out test set once."""
    return fit_final(RunDir(artifacts.final_folder(run.path)), resolved, cv_rows, test_rows, epochs)
