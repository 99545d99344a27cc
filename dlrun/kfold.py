"""`dlrun kfold CONFIG`: cross-validation with every fold fitted afresh, preprocessing fitted on
that fold's training rows only, and an honest summary (mean, sample std, 95% CI, baseline).

    runs/<id>/
      run.json  config.yaml  splits.json (every fold's rows)  summary.json  report.md  plots/
      folds/NN/   a run-like folder per fold: history.csv, metrics.json, splits.json, ...
      final/      with split.final_model: the model retrained on all non-test rows, scored once
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dlrun.data.folds import Fold, group_cut, make_folds
from dlrun.data.split import Splits, _cut
from dlrun.errors import UserError
from dlrun.experiment import fit_in_dir, refuse_changed_spec, run_status, start_info
from dlrun.prepare import Resolved, load_resolved, prepare_rows
from dlrun.report.cv_summary import average_curves, chosen_epochs, summarize
from dlrun.runs.atomic import write_json, write_text, write_yaml
from dlrun.runs.rundir import RunDir, now_iso
from dlrun.spec.load import LoadedSpec

CV_PROTOCOLS = ("kfold", "stratified_kfold", "repeated_kfold", "group_kfold", "time_series")


@dataclass
class KFoldResult:
    run: RunDir
    folds: list[dict]          # per fold: fold, repeat, metrics, best_epoch, epochs_run
    summary: dict
    final: dict | None
    skipped: list[int]         # folds already finished before a --resume


@dataclass
class FoldJob:
    resolved: Resolved
    fold: Fold
    folder: Path
    threads: int | None = None


def _with(loaded: LoadedSpec, **sections) -> LoadedSpec:
    """The spec with some sections' keys replaced (re-validated)."""
    data = json.loads(json.dumps(loaded.data))
    for section, values in sections.items():
        data[section] = {**(data.get(section) or {}), **values}
    return loaded.with_data(data)


def _fold_splits(resolved: Resolved, fold: Fold) -> Splits:
    """The fold's rows: an optional inner validation part carved from its training rows."""
    spec = resolved.spec
    n_val = int(round(len(fold.train) * spec.split.validation))
    if spec.split.validation > 0 and n_val == 0:
        n_val = 1
    if n_val >= len(fold.train):
        raise UserError(f"split.validation {spec.split.validation} leaves fold {fold.number} no training rows")
    if spec.split.protocol == "group_kfold" and n_val:  # whole groups, or validation flatters the fit
        train, validation = group_cut(fold.train, spec.split.validation, resolved.dataset.groups, spec.seed + fold.number)
        return Splits(train, validation, np.sort(fold.held_out))
    shuffle = spec.split.shuffle and spec.split.protocol != "time_series"  # never validate on the past
    labels = resolved.labels() if shuffle else None
    train, validation = _cut(fold.train, n_val, labels, spec.seed + fold.number, shuffle)
    return Splits(np.sort(train), np.sort(validation), np.sort(fold.held_out))


def run_fold(job: FoldJob) -> dict:
    """Fit one fold in its own folder; returns its held-out metrics and history. Runs in a worker
    process when --jobs > 1 (TensorFlow's thread pools are then sized for the share of cores)."""
    if job.threads:
        from dlrun.train.runtime import import_tensorflow

        tf = import_tensorflow()
        tf.config.threading.set_intra_op_parallelism_threads(job.threads)
        tf.config.threading.set_inter_op_parallelism_threads(job.threads)
    fold, resolved = job.fold, job.resolved
    folder = RunDir(job.folder)
    if folder.path.exists():
        shutil.rmtree(folder.path)  # an unfinished fold from an interrupted run starts over
    folder.path.mkdir(parents=True)
    prepared = prepare_rows(resolved, _fold_splits(resolved, fold))
    folder.update_info(run_id=folder.run_id, kind="fold", fold=fold.number, repeat=fold.repeat, status="running",
                       started=now_iso(), seed=resolved.spec.seed, data_dir=str(resolved.loaded.base_dir),
                       data={"fingerprint": resolved.dataset.fingerprint()})
    from dlrun.experiment import write_inputs

    write_inputs(folder, prepared, resolved.spec.split.protocol, {"fold": fold.number, "repeat": fold.repeat})
    with run_status(folder, f"fold {fold.number}"):
        fitted = fit_in_dir(folder, prepared, curves_on_test=resolved.spec.split.curves, plots=False)  # the run plots averaged curves
        folder.set_status("completed", **fitted.run_info)
    result = fitted.result
    return {"fold": fold.number, "repeat": fold.repeat, "metrics": result.metrics[result.metrics["part"]],
            "best_epoch": result.best_epoch, "epochs_run": result.epochs_run, "history": result.history}


def _finished_fold(folder: Path) -> dict | None:
    """A fold that completed before an interruption: its saved results, or None."""
    try:
        info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if info.get("status") != "completed":
        return None
    from dlrun.evaluate import read_history

    return {"fold": info["fold"], "repeat": info["repeat"], "metrics": metrics[metrics["part"]],
            "best_epoch": info.get("best_epoch"), "epochs_run": info.get("epochs_run"),
            "history": read_history(RunDir(folder))}


def _test_rows(resolved: Resolved) -> tuple[np.ndarray, np.ndarray]:
    """(rows to cross-validate, held-out test rows for the final model)."""
    spec, dataset = resolved.spec, resolved.dataset
    rows = np.arange(dataset.n_rows, dtype=np.int64)
    if not spec.split.final_model:
        return rows, rows[:0]
    if dataset.source_test is not None and spec.split.use_source_test and len(dataset.source_test):
        test = np.sort(dataset.source_test)
        return np.setdiff1d(rows, test), test
    if spec.split.protocol == "group_kfold":  # the final test rows share no group with the rest
        return group_cut(rows, spec.split.test, dataset.groups, spec.seed)
    n_test = max(1, int(round(dataset.n_rows * spec.split.test)))
    shuffle = spec.split.shuffle and spec.split.protocol != "time_series"
    return _cut(rows, n_test, resolved.labels() if shuffle else None, spec.seed, shuffle)


def _check_resume(run: RunDir, resolved: Resolved, allow_changed: bool) -> None:
    info = run.read_info()
    if info.get("kind") != "kfold":
        raise UserError(f"{run.run_id} is not a k-fold run; --resume takes the id of an interrupted `dlrun kfold` run")
    refuse_changed_spec(run, resolved.spec, allow_changed)
    if info.get("data", {}).get("fingerprint") != resolved.dataset.fingerprint() or \
            bool(info.get("smoke")) != (resolved.sample is not None):
        raise UserError(f"the data differs from what run {run.run_id} started on (or --smoke differs); "
                        f"its finished folds cannot be combined with new ones — start a new run")


def kfold(loaded: LoadedSpec, *, smoke: bool = False, jobs: int = 1, resume: RunDir | None = None,
          allow_changed: bool = False, on_fold: Callable[[dict, int], None] | None = None) -> KFoldResult:
    """Cross-validate the experiment; see the module docstring for what is written."""
    started = time.time()
    spec = loaded.spec
    if spec.split.protocol not in CV_PROTOCOLS:
        raise loaded.error([(("split", "protocol"), f"dlrun kfold needs a cross-validation protocol "
                                                    f"({', '.join(CV_PROTOCOLS)}), not {spec.split.protocol}")])
    if jobs < 1:
        raise UserError("--jobs must be 1 or more")
    resolved = load_resolved(loaded, smoke)
    cv_rows, test_rows = _test_rows(resolved)
    folds = make_folds(cv_rows, resolved.spec.split, resolved.spec.seed, resolved.labels(), resolved.dataset.groups)
    fold_loaded = _with(resolved.loaded, output={"save_model": resolved.spec.output.fold_models})
    fold_resolved = Resolved(fold_loaded, resolved.dataset, resolved.targets, resolved.sample)
    if resume is not None:
        _check_resume(resume, resolved, allow_changed)
        run = resume
        run.set_status("running", resumed=now_iso())
    else:
        run = RunDir.create(Path(spec.output.runs_dir), spec.name)
        start_info(run, loaded, resolved, "kfold", smoke, protocol=spec.split.protocol, n_folds=len(folds),
                   data={"cv_rows": int(len(cv_rows)), "test_rows": int(len(test_rows))})
        header = f"# Resolved spec of k-fold run {run.run_id}.\n# Repeat it with: dlrun kfold {run.file('config.yaml')}\n"
        write_yaml(run.file("config.yaml"), resolved.spec.model_dump(mode="json"), header)
        sample = {} if resolved.sample is None else {"sample": resolved.sample.tolist()}
        write_json(run.file("splits.json"), {
            "protocol": spec.split.protocol, "n_rows": resolved.dataset.n_rows, "test": test_rows.tolist(),
            "folds": [{"fold": f.number, "repeat": f.repeat, "train": f.train.tolist(),
                       "held_out": f.held_out.tolist()} for f in folds], **sample})
    previous_term = _term_as_interrupt()
    try:
        return _run_folds(run, resolved, fold_resolved, folds, cv_rows, test_rows, resume, jobs, on_fold, started)
    finally:
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)


def _term_as_interrupt():
    """SIGTERM ends a k-fold run like Ctrl-C: status interrupted, finished folds kept for --resume."""
    def handle(signum, frame):
        raise KeyboardInterrupt
    try:
        return signal.signal(signal.SIGTERM, handle)
    except ValueError:  # not the main thread
        return None


def _run_folds(run, resolved, fold_resolved, folds, cv_rows, test_rows, resume, jobs, on_fold, started):
    spec = resolved.spec
    hint = f"dlrun kfold --resume {run.run_id} --runs-dir {run.path.parent}"
    with run_status(run, "k-fold", hint):
        results, skipped = {}, []
        for fold in folds:
            done = _finished_fold(run.file("folds", fold.name)) if resume is not None else None
            if done is not None:
                results[fold.number] = done
                skipped.append(fold.number)
        todo = [f for f in folds if f.number not in results]
        threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
        job_list = [FoldJob(fold_resolved, f, run.file("folds", f.name), threads) for f in todo]
        if jobs == 1 or len(job_list) <= 1:
            for job in job_list:
                results[job.fold.number] = run_fold(job)
                if on_fold:
                    on_fold(results[job.fold.number], len(folds))
        else:
            import multiprocessing

            with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [pool.submit(run_fold, job) for job in job_list]
                for future in as_completed(futures):
                    result = future.result()
                    results[result["fold"]] = result
                    if on_fold:
                        on_fold(result, len(folds))
        ordered = [results[f.number] for f in folds]
        summary = summarize(ordered)
        curves = average_curves([r["history"] for r in ordered])
        monitor, mode = resolved.spec.callbacks.best_epoch_rule("val_loss")
        summary.update({"run_id": run.run_id, "protocol": spec.split.protocol, "n_folds": len(folds),
                        "repeats": spec.split.repeats if spec.split.protocol == "repeated_kfold" else 1,
                        "average_curves": curves, "best_epochs": [r["best_epoch"] for r in ordered]})
        final = None
        if spec.split.final_model:
            epochs = chosen_epochs(curves, monitor, mode, len(folds), resolved.spec.training.epochs)
            final = _final_model(run, resolved, cv_rows, test_rows, epochs)
            summary["final_model"] = final
        write_json(run.file("summary.json"), summary)
        _write_cv_report(run, summary, curves, resolved.spec.output.plots)
        headline_key = _headline_key(summary)
        stats = summary["stats"].get(headline_key, {})
        run.set_status("completed", seconds=round(time.time() - started, 3),
                       headline={"name": f"cv_{headline_key}", "value": stats.get("mean")},
                       summary={f"cv_{headline_key}_mean": stats.get("mean"), f"cv_{headline_key}_std": stats.get("std")})
    return KFoldResult(run, ordered, summary, final, skipped)


def _headline_key(summary: dict) -> str:
    stats = summary["stats"]
    for key in stats:
        if key.endswith("accuracy") and "baseline" not in key and "balanced" not in key:
            return key
    for key in stats:
        if key.endswith("mae") and "baseline" not in key:
            return key
    return next(iter(stats), "loss")


def _final_model(run: RunDir, resolved: Resolved, cv_rows: np.ndarray, test_rows: np.ndarray, epochs: int) -> dict:
    """Retrain on every cross-validated row for `epochs` and score the held-out test set once."""
    callbacks = {"early_stopping": None, "model_checkpoint": None}
    plateau = resolved.spec.callbacks.reduce_lr_on_plateau
    if plateau is not None and plateau.monitor.startswith("val_"):
        callbacks["reduce_lr_on_plateau"] = None
    loaded = _with(resolved.loaded, training={"epochs": epochs}, callbacks=callbacks, split={"validation": 0.0})
    final_resolved = Resolved(loaded, resolved.dataset, resolved.targets, resolved.sample)
    folder = RunDir(run.file("final"))
    if folder.path.exists():
        shutil.rmtree(folder.path)
    folder.path.mkdir(parents=True)
    prepared = prepare_rows(final_resolved, Splits(np.sort(cv_rows), cv_rows[:0], np.sort(test_rows)))
    folder.update_info(run_id=folder.run_id, kind="final", status="running", started=now_iso(),
                       seed=resolved.spec.seed, data_dir=str(resolved.loaded.base_dir),
                       data={"fingerprint": resolved.dataset.fingerprint()})
    from dlrun.experiment import write_inputs

    write_inputs(folder, prepared, "holdout", {"chosen_epochs": epochs})
    with run_status(folder, "final model"):
        fitted = fit_in_dir(folder, prepared)
        folder.set_status("completed", **fitted.run_info)
    metrics = fitted.result.metrics
    return {"epochs": epochs, "test_rows": int(len(test_rows)), "test": metrics[metrics["part"]]}


def _write_cv_report(run: RunDir, summary: dict, curves: list[dict], plots_on: bool) -> None:
    from dlrun.report.plots import learning_curves

    images = learning_curves([{k: v for k, v in row.items() if k != "folds"} for row in curves],
                             run.file("plots"), prefix="average_") if plots_on and curves else []
    lines = [f"# Cross-validation of run `{summary['run_id']}`", "",
             f"Protocol {summary['protocol']}, {summary['n_folds']} fold(s)"
             + (f" ({summary['repeats']} repeats)" if summary.get("repeats", 1) > 1 else "") + ".", ""]
    keys = list(summary["stats"])
    lines += ["| fold | " + " | ".join(keys) + " |", "| --- " * (len(keys) + 1) + "|"]
    for row in summary["folds"]:
        lines.append(f"| {row['fold']} | " + " | ".join(_fmt(row.get(k)) for k in keys) + " |")
    for label, field in (("mean", "mean"), ("std", "std")):
        lines.append(f"| **{label}** | " + " | ".join(_fmt(summary["stats"][k][field]) for k in keys) + " |")
    lines.append("| **95% CI** | " + " | ".join(
        "—" if not summary["stats"][k]["ci95"] else f"{_fmt(summary['stats'][k]['ci95'][0])} – "
                                                    f"{_fmt(summary['stats'][k]['ci95'][1])}" for k in keys) + " |")
    final = summary.get("final_model")
    if final:
        lines += ["", f"## Final model", "", f"Retrained on all cross-validated rows for {final['epochs']} epochs, "
                                               f"scored once on {final['test_rows']} held-out test rows:", ""]
        test = final["test"]
        outputs = test if all(isinstance(v, dict) and "task" in v for v in test.values()) else {"": test}
        for name, result in outputs.items():
            shown = ", ".join(f"{k} {_fmt(result[k])}" for k in ("accuracy", "balanced_accuracy", "mae", "rmse", "r2")
                              if k in result)
            lines.append(f"- {name + ': ' if name else ''}{shown}")
    if images:
        lines += ["", "## Curves averaged across folds", ""] + [f"![{p.stem}](plots/{p.name})" for p in images]
    write_text(run.file("report.md"), "\n".join(lines) + "\n")


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
