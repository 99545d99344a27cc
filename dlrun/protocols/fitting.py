"""`fit_in_dir`: the unit every protocol shares — one model, fitted on one Prepared split, with
all its artifacts in one folder (a holdout run, a fold, a trial, or a final model).

    Prepared ─build─▶ keras.Model ─starting weights─▶ ─fit─▶ history + checkpoints
             ─score─▶ held-out metrics ─write─▶ folder: metrics, report, plots
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dlrun.data.feature_data import feature_data
from dlrun.data.prepare import Prepared, Resolved, prepare_rows
from dlrun.errors import Diverged, Interrupted
from dlrun.protocols.lifecycle import resume_at, run_status, start_sub_run
from dlrun.report.metrics import headline_key
from dlrun.runs import artifacts, records
from dlrun.runs.rundir import RunDir
from dlrun.runs.timing import PhaseClock
from dlrun.train.fit_role import FINAL, FitRole
from dlrun.train.start import Start
from dlrun.train.tracking import tracked


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
    phases: dict = field(default_factory=dict)   # seconds per phase of the flow (runs/timing.py)


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
    from dlrun.report.analysis import audit_split

    first = prepared.heads[0].target
    parts = {p: getattr(prepared.splits, p) for p in ("train", "validation", "test")}
    return audit_split(prepared.dataset.features, parts, prepared.targets[first], prepared.dataset.targets[first],
                       preprocessor=prepared.preprocessor)


def write_inputs(folder: RunDir, prepared: Prepared, protocol: str = "holdout", extra: dict | None = None) -> None:
    """The resolved spec, the split and the fitted preprocessing: everything needed to redo or re-evaluate the fit."""
    command = "kfold" if protocol != "holdout" else "train"
    artifacts.write_config(folder.path, prepared.spec.model_dump(mode="json"), command)
    sample = {} if prepared.sample is None else {"sample": prepared.sample.tolist()}
    artifacts.write_splits(folder.path, {"protocol": protocol, "n_rows": prepared.dataset.n_rows,
                                         **(extra or {}), **prepared.splits.to_json(), **sample,
                                         **prepared.dataset.file_list(),
                                         **feature_data(prepared.x).split_record(prepared.splits),
                                         "resample": {"method": prepared.spec.data.resample,
                                                      "fit_rows": int(len(prepared.fit_rows))}})
    write_fitted(folder, prepared)


def write_fitted(folder: RunDir, prepared: Prepared) -> None:
    """preprocessing.json: the fitted preprocessing, target encodings, output heads, baselines and inputs."""
    artifacts.write_preprocessing(folder.path, {
        "features": prepared.preprocessor.to_json(),
        "targets": {name: enc.to_json() for name, enc in prepared.targets.items()},
        "outputs": [head.to_json() for head in prepared.heads],
        "baselines": baselines(prepared),
        "target_scales": {name: scale.to_json() for name, scale in prepared.target_scales.items()},
        "inputs": {name: {"shape": list(info.shape), "dtype": info.dtype} for name, info in prepared.infos.items()},
    })


@dataclass
class Trained:
    """What the fit step leaves: the history and how long it took."""

    history: list[dict]
    epoch_seconds: list[float]
    fit_seconds: float
    validated: bool          # Keras saw validation data (val_* columns exist)
    phases: list[dict] = field(default_factory=list)   # with training.fine_tune: each phase as it began


def fit_in_dir(run: RunDir, prepared: Prepared, role: FitRole, start: Start | None = None, on_epoch=None,
               built=None, clock: PhaseClock | None = None) -> Fitted:
    """One model in one folder, as a pipeline: build → starting weights → fit → score → write.

    `role` (train/fit_role.py) says what the fit is for: a holdout run, a fold, a trial, a final
    model. `start` is where the weights start (default: as built). `built`: a model the caller built
    already (holdout builds before it makes a folder, k-fold reuses one per process). `clock`: the
    caller's, holding the phases before this one (load, preprocess); run.json gets every phase's seconds.
    """
    from dlrun.model.output_init import init_outputs
    from dlrun.protocols.stages import build_compiled
    from dlrun.train.start import apply_start

    clock = clock or PhaseClock()
    build_started = time.perf_counter()
    with clock.phase("build"):
        built = built or build_compiled(prepared)
    build_seconds = time.perf_counter() - build_started
    start = start or Start.scratch()
    enter_phase(built.model, prepared, epochs_done=start.epoch)  # resumed: the phase it stopped in
    loaded_weights = apply_start(built.model, start, prepared)
    if start.fresh and prepared.parent is not None:  # init_from: the parent's weights over the (reset) build
        loaded_weights = apply_start(built.model, parent_start(built.model, prepared), prepared)
        init_outputs(built.model, prepared, biases=False)
    elif start.fresh or start.mode == "from_run":
        init_outputs(built.model, prepared, biases=start.fresh)
    run.update_info(runtime=built.runtime)
    with clock.phase("evaluate"):
        audit, base = audit_of(prepared), baselines(prepared)  # before the fit: they read every training row
    if role.release_raw:  # the raw features are not needed again: free them before the fit's peak
        prepared.dataset.features = None
    with clock.phase("fit"):
        trained = train_model(run, prepared, built.model, role, start, on_epoch)
    fitted = score_and_write(run, prepared, built.model, role, trained, audit, base, clock)
    fitted.run_info["build_seconds"] = round(build_seconds, 3)
    fitted.run_info["phases"] = fitted.result.phases = clock.record()
    if loaded_weights is not None:
        fitted.run_info["init_from"] = loaded_weights
    fitted.result.notes[:0] = built.runtime.get("notes", [])
    return fitted


def parent_start(model, prepared: Prepared) -> Start:
    """init_from: the parent's weights loaded into `model` by layer name now (a mismatch is an error before
    anything is written), as the Start that says so."""
    from dlrun.train.start import apply_start

    parent = prepared.parent
    loaded = apply_start(model, Start.from_run(parent.source, parent.skip_mismatch), prepared)
    return Start.from_run(parent.source, parent.skip_mismatch, applied={**parent.record(), **loaded})


def train_model(run: RunDir, prepared: Prepared, model, role: FitRole, start: Start, on_epoch=None) -> Trained:
    """The fit step: the callbacks composed from the spec and the role, Keras's fit, and what ended it."""
    from dlrun.train.callbacks import compose_callbacks
    from dlrun.train.fit import fit

    from dlrun.train.phases import phase_description, plan

    spec = prepared.spec
    composed = compose_callbacks(spec, run.path, role, start, on_epoch)
    validation = _validation_data(prepared, role)
    phases = plan(spec.training)
    described = []
    started = time.time()
    if composed.stopper is not None:
        composed.stopper.install()
    try:
        for phase in phases:
            if phase.end <= start.epoch:
                continue
            if phase.number > 1 and phase.first >= start.epoch:  # the switch into it happens in this fit
                enter_phase(model, prepared, phase)
            callbacks = composed.callbacks if phase.number == 1 else [c for c in composed.callbacks
                                                                      if not _schedules_rate(c)]
            if len(phases) > 1:
                composed.writer.phase = phase.number
                described.append(phase_description(model, phase))
            fit(model, spec, *prepared.part("train"), validation, callbacks, max(start.epoch, phase.first),
                prepared.class_weight, end_epoch=phase.end)
            if _ended_early(composed):
                break
    finally:
        if composed.stopper is not None:
            composed.stopper.uninstall()
    history = composed.writer.rows
    stopped_by = composed.stopper.signal_name if composed.stopper is not None else None
    if stopped_by is not None:
        saved = "; the state is saved" if role.resumable else ""
        raise Interrupted(f"stopped by {stopped_by} after epoch {len(history)}{saved}",
                          resume_at(run, "train") if role.resumable else None)
    if composed.writer.diverged_epoch is not None or not history or not np.isfinite(history[-1].get("loss", 0.0)):
        epoch = composed.writer.diverged_epoch or max(1, len(history))
        raise Diverged(f"the loss became NaN or infinite at epoch {epoch}; try a lower optimizer.learning_rate "
                       f"(now {spec.optimizer.learning_rate}), gradient clipping (optimizer.clipnorm: 1.0), "
                       f"or check the data for extreme values")
    return Trained(history, composed.writer.seconds, time.time() - started, validation is not None, described)


def enter_phase(model, prepared: Prepared, phase=None, epochs_done: int = 0) -> None:
    """With training.fine_tune: set the layers' trainable flags for `phase` (default: the phase of the
    last of `epochs_done` finished epochs, where a resumed run stopped), and recompile at its learning
    rate when it is a fine-tuning phase."""
    from dlrun.protocols.stages import recompile
    from dlrun.train.phases import phase_at, plan, set_phase

    spec = prepared.spec
    if not spec.training.fine_tune:
        return
    phases = plan(spec.training)
    phase = phase or phase_at(phases, epochs_done)
    set_phase(model, phases, phase)
    if phase.number > 1:
        recompile(model, prepared, phase.learning_rate)


def _schedules_rate(callback) -> bool:
    """The spec's epoch schedule sets the rate of the first phase only; later phases keep their own."""
    import keras

    return isinstance(callback, keras.callbacks.LearningRateScheduler)


def _ended_early(composed) -> bool:
    """A stop that ends the whole fit, not just a phase: a signal, a diverged loss, the caller (a pruner)."""
    writer = composed.writer
    return (composed.stopper is not None and composed.stopper.signal_name is not None) \
        or writer.diverged_epoch is not None or writer.stopped_by_caller is not None


def _validation_data(prepared: Prepared, role: FitRole):
    """What Keras validates on: the validation part; with no validation rows and `curves_on_test`,
    the test part, only to record per-epoch curves (k-fold without an inner split: spec validation
    refuses val_* monitors when split.validation is 0, so nothing is chosen on it)."""
    if len(prepared.splits.validation):
        return prepared.part("validation")
    if role.curves_on_test and len(prepared.splits.test):
        return prepared.part("test")
    return None


def score_and_write(run: RunDir, prepared: Prepared, model, role: FitRole, trained: Trained, audit: dict,
                    base: dict, clock: PhaseClock | None = None) -> Fitted:
    """The score and write steps: best epoch, final model, the held-out part scored, report and plots."""
    from dlrun.data.feature_data import feature_data
    from dlrun.model.io import predict_outputs, save_final_model
    from dlrun.report.analysis import empty_columns_note
    from dlrun.report.fit_verdict import diagnose_fit, unscaled_targets
    from dlrun.report.evaluation import score_outputs, write_evaluation
    from dlrun.report.linear_model import add_linear_models, linear_notes
    from dlrun.report.window_forecast import add_window_forecasts
    from dlrun.train.monitor import best_epoch

    spec, history = prepared.spec, trained.history
    monitor, mode = spec.callbacks.best_epoch_rule("val_loss" if trained.validated else "loss")
    best = best_epoch(history, monitor, mode)
    clock = clock or PhaseClock()
    with clock.phase("write"):
        if spec.output.save_model:
            save_final_model(model, run.path)
        described = describe_model(model, run, spec.output.plots and role.plots)
    part = prepared.splits.held_out(role.hold_test)
    with clock.phase("evaluate"):
        inputs, _ = prepared.part(part)
        raw = predict_outputs(model, inputs)
        truths = prepared.truths(part)
        results = score_outputs(raw, prepared.heads, prepared.targets, truths, base)
        if role.linear_baseline:
            add_linear_models(results, prepared, getattr(prepared.splits, part))
    with clock.phase("report"):
        add_window_forecasts(results, prepared, getattr(prepared.splits, part), raw,
                             run.path if spec.output.plots and role.plots else None)
    best_row = next((row for row in history if row["epoch"] == best), history[-1])
    summary = {"run_id": run.run_id, "task": {n: t.task for n, t in prepared.targets.items()},
               "epochs_run": len(history), "best_epoch": best, "monitor": monitor,
               "validation_at_best": {k: v for k, v in best_row.items() if k.startswith("val_")},
               "split": prepared.splits.sizes(), "fit": diagnose_fit(history, best, unscaled_targets(base, prepared.target_scales)), "audit": audit,
               "imbalance_remedy": prepared.remedy(), **({"phases": trained.phases} if trained.phases else {}),
               "model": described}
    with clock.phase("report"):
        metrics = write_evaluation(run.path, summary, part, results, raw, prepared.heads, prepared.targets, truths,
                                   history, spec.output.plots and role.plots, files=feature_data(inputs).listed_files())
    info = {"fit_seconds": round(trained.fit_seconds, 3), "epochs_run": len(history), "best_epoch": best,
            "parameters": {k: described[k] for k in ("total", "trainable", "non_trainable")},
            "epoch_seconds": trained.epoch_seconds, "headline": headline(metrics, prepared)}
    empty = audit.get("empty_in_train")
    notes = ([empty_columns_note(empty)] if empty else []) + linear_notes(results, part)
    return Fitted(TrainResult(run, "completed", len(history), best, monitor, history, metrics, notes), info)


def describe_model(model, run: RunDir, draw: bool) -> dict:
    """model_summary.txt (layers, output shapes, parameters), the graph's picture when asked and
    possible, and what metrics.json and the report keep of them."""
    from dlrun.report.model_summary import draw_graph, model_summary, summary_text

    summary = model_summary(model)
    text = summary_text(summary)
    records.write_model_summary(run.path, text)
    graph_note = draw_graph(model, records.model_graph_path(run.path)) if draw else None
    return {"name": summary.name, "total": summary.total, "trainable": summary.trainable,
            "non_trainable": summary.non_trainable, "layers": len(summary.rows), "summary": text,
            "graph": None if graph_note or not draw else records.model_graph_path(run.path).name,
            **({"graph_note": graph_note} if graph_note else {})}


def headline(metrics: dict, prepared: Prepared) -> dict:
    """The one number a listing shows (report.metrics.headline_key), on the held-out part."""
    head = prepared.heads[0]
    part = metrics["part"]
    held_out = metrics[part] if len(prepared.heads) == 1 else metrics[part].get(head.name, {})
    name = headline_key(prepared.targets[head.target].task)
    return {"name": f"{part}_{name}", "value": held_out.get(name)}


def fit_final(folder: RunDir, resolved: Resolved, train_rows: np.ndarray, test_rows: np.ndarray, epochs: int,
              extra: dict | None = None) -> dict:
    """Retrain on `train_rows` for a number of epochs chosen beforehand (nothing is held back to stop
    early on) and score `test_rows` once: k-fold's final model, a sweep's retrained best trial."""
    from dlrun.data.split import Splits
    from dlrun.train.phases import within

    callbacks = {"early_stopping": None, "model_checkpoint": None}
    plateau = resolved.spec.callbacks.reduce_lr_on_plateau
    if plateau is not None and plateau.monitor.startswith("val_"):
        callbacks["reduce_lr_on_plateau"] = None
    training = within(resolved.spec.training, epochs) if resolved.spec.training.fine_tune else {"epochs": epochs}
    loaded = resolved.loaded.with_sections(training=training, callbacks=callbacks, split={"validation": 0.0})
    final_resolved = resolved.with_loaded(loaded)
    prepared = prepare_rows(final_resolved, Splits(np.sort(train_rows), train_rows[:0], np.sort(test_rows)))
    start_sub_run(folder, resolved, "final", **(extra or {}))
    write_inputs(folder, prepared, "holdout", {"chosen_epochs": epochs})
    with tracked(folder, "final", resolved.spec, sub_run=True), run_status(folder, "final model"):
        fitted = fit_in_dir(folder, prepared, FINAL)
        folder.set_status("completed", **fitted.run_info)
    metrics = fitted.result.metrics
    return {"epochs": epochs, "train_rows": int(len(train_rows)), "test_rows": int(len(test_rows)),
            "test": metrics[metrics["part"]]}
