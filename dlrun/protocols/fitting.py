"""`fit_in_dir`: the unit every protocol shares — one model, fitted on one Prepared split, with
all its artifacts in one folder (a holdout run, one k-fold fold, or the k-fold final model).

    Prepared ─build─▶ keras.Model ─fit─▶ history + checkpoints ─store─▶ folder ─report─▶ metrics, report, plots
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from dlrun.data.image_files import ImageFiles
from dlrun.data.prepare import Prepared, Resolved, prepare_rows
from dlrun.errors import Diverged, DlrunError, Interrupted, Pruned, RunFailed
from dlrun.report.metrics import HEADLINE
from dlrun.runs import artifacts
from dlrun.runs.provenance import provenance
from dlrun.runs.rundir import RunDir, now_iso
from dlrun.spec.load import LoadedSpec


@dataclass
class TrainResult:
    run: RunDir
    status: str
    epochs_run: int
    best_epoch: int | None
    monitor: str
    history: list[dict]
    metrics: dict
    notes: list[str] = field(default_factory=list)


@dataclass
class Fitted:
    result: TrainResult
    run_info: dict     # what the fit adds to the folder's status record


def baselines(prepared: Prepared) -> dict[str, dict]:
    """Per target, what the trivial baseline predicts (from the training rows only)."""
    from dlrun.report.metrics import baseline_of

    return {name: baseline_of(enc.task, prepared.codes(name, prepared.splits.train))
            for name, enc in prepared.targets.items()}


def audit_of(prepared: Prepared) -> dict:
    from dlrun.report.analysis import audit_data

    first = prepared.heads[0].target
    encoder = prepared.targets[first]
    codes = None if encoder.task == "regression" else encoder.encode(prepared.dataset.targets[first])
    labels = None if codes is None else [encoder.label(i) for i in range(encoder.n_classes)]
    parts = {p: getattr(prepared.splits, p) for p in ("train", "validation", "test")}
    return audit_data(prepared.dataset.features, parts, codes, labels)


def write_inputs(folder: RunDir, prepared: Prepared, protocol: str = "holdout", extra: dict | None = None) -> None:
    """The resolved spec, the split and the fitted preprocessing: everything needed to redo or re-evaluate the fit."""
    command = "kfold" if protocol != "holdout" else "train"
    artifacts.write_config(folder.path, prepared.spec.model_dump(mode="json"), command)
    sample = {} if prepared.sample is None else {"sample": prepared.sample.tolist()}
    artifacts.write_splits(folder.path, {"protocol": protocol, "n_rows": prepared.dataset.n_rows,
                                         **(extra or {}), **prepared.splits.to_json(), **sample,
                                         **prepared.dataset.file_list(),
                                         "resample": {"method": prepared.spec.data.resample,
                                                      "fit_rows": int(len(prepared.fit_rows))}})
    artifacts.write_preprocessing(folder.path, {
        "features": prepared.preprocessor.to_json(),
        "targets": {name: enc.to_json() for name, enc in prepared.targets.items()},
        "outputs": [head.to_json() for head in prepared.heads],
        "baselines": baselines(prepared),
        "inputs": {name: {"shape": list(info.shape), "dtype": info.dtype} for name, info in prepared.infos.items()},
    })


def start_info(run: RunDir, loaded: LoadedSpec, resolved: Prepared | Resolved, kind: str, smoke: bool, **more) -> None:
    spec, dataset = resolved.spec, resolved.dataset
    run.update_info(run_id=run.run_id, name=spec.name, status="running", started=now_iso(), kind=kind,
                    backend=spec.training.backend, spec_file=str(loaded.path), data_dir=str(loaded.base_dir), seed=spec.seed, smoke=smoke,
                    data={"source": spec.data.source, "fingerprint": dataset.fingerprint(), "rows": dataset.n_rows,
                          **more.pop("data", {})},
                    tasks={n: t.task for n, t in resolved.targets.items()},
                    **provenance(loaded.base_dir), **more)


def start_sub_run(folder: RunDir, resolved: Resolved, kind: str, **more) -> None:
    """A fresh folder inside a k-fold run (a fold, or the final model), with its status record."""
    import shutil

    if folder.path.exists():
        shutil.rmtree(folder.path)  # an unfinished one from an interrupted run starts over
    folder.path.mkdir(parents=True)
    folder.update_info(run_id=folder.run_id, kind=kind, **more, status="running", started=now_iso(),
                       seed=resolved.spec.seed, data_dir=str(resolved.loaded.base_dir),
                       data={"fingerprint": resolved.dataset.fingerprint()})


REINTERRUPT_SECONDS = 2.0  # a SIGTERM still unanswered after this long was swallowed: deliver it again


@contextlib.contextmanager
def term_as_interrupt():
    """For the block: SIGTERM ends a k-fold run or a sweep like Ctrl-C (status interrupted, what
    finished kept for --resume); the handler before it is put back after. Off the main thread,
    where signals cannot be set, nothing changes.

    Python drops an exception raised while a garbage-collection callback or `__del__` runs (it prints
    "Exception ignored in ..."), and a signal can land there (JAX registers such a callback). So the
    first SIGTERM also starts a thread that signals the main thread again every REINTERRUPT_SECONDS
    for as long as the block is still running."""
    state = {"active": True, "signalled": False}

    def again():
        while True:
            time.sleep(REINTERRUPT_SECONDS)
            if not state["active"]:
                return
            _thread.interrupt_main(signal.SIGTERM)  # does nothing once the block's handler is gone

    def handle(signum, frame):
        if not state["signalled"]:
            state["signalled"] = True
            threading.Thread(target=again, name="dlrun-sigterm", daemon=True).start()
        raise KeyboardInterrupt
    try:
        previous = signal.signal(signal.SIGTERM, handle)
    except ValueError:  # not the main thread
        previous = None
    try:
        yield
    finally:
        state["active"] = False
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def run_status(run: RunDir, what: str = "training", resume_hint: str | None = None):
    """Map whatever ends the block onto the run's status; an unexpected error keeps its details."""
    try:
        yield
    except (KeyboardInterrupt, Interrupted) as exc:
        run.set_status("interrupted")
        if isinstance(exc, Interrupted) and not resume_hint:
            raise
        hint = f"; continue with: {resume_hint}" if resume_hint else ""
        raise Interrupted(f"stopped; the run so far is in {run.path}{hint}") from None
    except Pruned:
        run.set_status("pruned")
        raise
    except Diverged as exc:
        run.set_status("diverged", error=str(exc))
        raise
    except DlrunError as exc:
        run.set_status("failed", error=str(exc))
        raise
    except Exception as exc:  # noqa: BLE001 - an unexpected failure: keep the details in the run
        log = artifacts.error_log_path(run.path)
        log.write_text(traceback.format_exc(), encoding="utf-8")
        run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise RunFailed(f"{what} failed: {type(exc).__name__}: {str(exc)[:500]}\n"
                        f"details: {log}") from None


def fit_in_dir(run: RunDir, prepared: Prepared, on_epoch=None, curves_on_test: bool = False,
               plots: bool = True, release_raw: bool = False, resume_state: dict | None = None,
               resumable: bool = False, built: tuple | None = None, reuse_model: bool = False,
               stoppable: bool | None = None, hold_test: bool = False) -> Fitted:
    """Build, compile and fit one model on `prepared`, then write history, model, metrics, report and plots.

    With `curves_on_test` and no validation rows, the test part is passed as Keras validation data
    only to record per-epoch curves (k-fold without an inner split, as the seeds do); no callback
    may monitor it (spec validation refuses val_* monitors when split.validation is 0).
    `reuse_model`: see `build_compiled` (k-fold folds reuse one compiled model per process).
    `stoppable` (default: `resumable`): SIGINT / SIGTERM stop the fit at the next epoch end and
    raise Interrupted. `hold_test`: score the validation part, never the test rows (a sweep's
    trials: the test set must not take part in choosing).
    """
    from dlrun.protocols.stages import build_compiled

    spec = prepared.spec
    build_started = time.perf_counter()
    runtime, model = built or build_compiled(prepared, reuse=reuse_model)
    build_seconds = time.perf_counter() - build_started
    from dlrun.model.io import predict_outputs, save_final_model
    from dlrun.report.analysis import diagnose_fit, empty_columns_note
    from dlrun.report.evaluation import score_outputs, write_evaluation
    from dlrun.train.callbacks import HistoryWriter, build_callbacks
    from dlrun.train.fit import fit
    from dlrun.train.monitor import best_epoch

    run.update_info(runtime=runtime)
    audit = audit_of(prepared)
    base = baselines(prepared)  # before the fit: it reads every training row's target
    if release_raw:  # the raw features are not needed again: free them before the fit's peak
        prepared.dataset.features = None
    has_val = len(prepared.splits.validation) > 0
    # a resumable (or stoppable) run's history keeps pace with its epochs; a fold's may be written less often
    stoppable = resumable if stoppable is None else stoppable
    writer = HistoryWriter(run.path, spec.callbacks.terminate_on_nan, on_epoch,
                           every_seconds=0.0 if resumable or stoppable else 2.0)
    callbacks, handles = build_callbacks(spec, run.path)
    start_epoch, stopper = 0, None
    callbacks.append(writer)
    if resumable:  # the run can be continued: state after every epoch
        from dlrun.train.resume import ResumeRestorer, ResumeSaver, restore_model

        checkpoints = artifacts.checkpoints_folder(run.path)
        checkpoints.mkdir(exist_ok=True)
        if resume_state is not None:
            restore_model(model, resume_state["array_data"])
            start_epoch = resume_state["epoch"]
            writer.preload(start_epoch)
            callbacks.insert(-1, ResumeRestorer(resume_state, handles["watched"]))
        callbacks.append(ResumeSaver(checkpoints, handles["watched"]))
    if stoppable:  # signals stop at an epoch end
        from dlrun.train.resume import GracefulStop

        stopper = GracefulStop()
        callbacks.append(stopper)
    x_train, y_train = prepared.part("train")
    if has_val:
        validation = prepared.part("validation")
    elif curves_on_test and len(prepared.splits.test):
        validation = prepared.part("test")
    else:
        validation = None
    fit_started = time.time()
    if stopper is not None:
        stopper.install()
    try:
        fit(model, spec, x_train, y_train, validation, callbacks, start_epoch, prepared.class_weight)
    finally:
        if stopper is not None:
            stopper.uninstall()
    fit_seconds = time.time() - fit_started
    history = writer.rows
    if stopper is not None and stopper.signal_name is not None:
        if not resumable:
            raise Interrupted(f"stopped by {stopper.signal_name} after epoch {len(history)}")
        raise Interrupted(f"stopped by {stopper.signal_name} after epoch {len(history)}; the state is saved. "
                          f"Continue with: dlrun train --resume {run.run_id} --runs-dir {run.path.parent}")
    if writer.diverged_epoch is not None or not history or not np.isfinite(history[-1].get("loss", 0.0)):
        epoch = writer.diverged_epoch or max(1, len(history))
        raise Diverged(f"the loss became NaN or infinite at epoch {epoch}; try a lower optimizer.learning_rate "
                       f"(now {spec.optimizer.learning_rate}), gradient clipping (optimizer.clipnorm: 1.0), "
                       f"or check the data for extreme values")
    monitor, mode = spec.callbacks.best_epoch_rule("val_loss" if validation is not None else "loss")
    best = best_epoch(history, monitor, mode)
    if spec.output.save_model:
        save_final_model(model, run.path)
    part = "test" if len(prepared.splits.test) and not hold_test else "validation" if has_val else "train"
    inputs, _ = prepared.part(part)
    raw = predict_outputs(model, inputs)
    results = score_outputs(raw, prepared.heads, prepared.targets, prepared.truths(part), base)
    best_row = next((row for row in history if row["epoch"] == best), history[-1])
    summary = {
        "run_id": run.run_id,
        "task": {n: t.task for n, t in prepared.targets.items()},
        "epochs_run": len(history),
        "best_epoch": best,
        "monitor": monitor,
        "validation_at_best": {k: v for k, v in best_row.items() if k.startswith("val_")},
        "split": prepared.splits.sizes(),
        "fit": diagnose_fit(history, best),
        "audit": audit,
        "imbalance_remedy": prepared.remedy(),
    }
    metrics = write_evaluation(run.path, summary, part, results, raw, prepared.heads, prepared.targets,
                               prepared.truths(part), history, spec.output.plots and plots,
                               files=inputs if isinstance(inputs, ImageFiles) else None)
    info = {"fit_seconds": round(fit_seconds, 3), "build_seconds": round(build_seconds, 3), "epochs_run": len(history),
            "best_epoch": best,
            "epoch_seconds": writer.seconds, "headline": headline(metrics, prepared)}
    empty = audit.get("empty_in_train")
    notes = runtime.get("notes", []) + ([empty_columns_note(empty)] if empty else [])
    result = TrainResult(run, "completed", len(history), best, monitor, history, metrics, notes)
    return Fitted(result, info)


def headline(metrics: dict, prepared: Prepared) -> dict:
    """The one number a listing shows: accuracy (classification) or MAE (regression) on held-out rows."""
    head = prepared.heads[0]
    task = prepared.targets[head.target].task
    part = metrics["part"]
    held_out = metrics[part] if len(prepared.heads) == 1 else metrics[part].get(head.name, {})
    name = HEADLINE[task]
    return {"name": f"{part}_{name}", "value": held_out.get(name)}


def fit_final(folder: RunDir, resolved: Resolved, train_rows: np.ndarray, test_rows: np.ndarray, epochs: int,
              extra: dict | None = None) -> dict:
    """Retrain on `train_rows` for a number of epochs chosen beforehand (nothing is held back to stop
    early on) and score `test_rows` once: k-fold's final model, a sweep's retrained best trial."""
    from dlrun.data.split import Splits

    callbacks = {"early_stopping": None, "model_checkpoint": None}
    plateau = resolved.spec.callbacks.reduce_lr_on_plateau
    if plateau is not None and plateau.monitor.startswith("val_"):
        callbacks["reduce_lr_on_plateau"] = None
    loaded = resolved.loaded.with_sections(training={"epochs": epochs}, callbacks=callbacks, split={"validation": 0.0})
    final_resolved = resolved.with_loaded(loaded)
    prepared = prepare_rows(final_resolved, Splits(np.sort(train_rows), train_rows[:0], np.sort(test_rows)))
    start_sub_run(folder, resolved, "final", **(extra or {}))
    write_inputs(folder, prepared, "holdout", {"chosen_epochs": epochs})
    with run_status(folder, "final model"):
        fitted = fit_in_dir(folder, prepared)
        folder.set_status("completed", **fitted.run_info)
    metrics = fitted.result.metrics
    return {"epochs": epochs, "train_rows": int(len(train_rows)), "test_rows": int(len(test_rows)),
            "test": metrics[metrics["part"]]}
