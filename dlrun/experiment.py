"""train: the one place where the stages meet.

    YAML ─load─▶ spec ─prepare─▶ splits + preprocessing + arrays ─build─▶ keras.Model
         ─fit─▶ history + checkpoints ─store─▶ RunDir ─report─▶ metrics.json, report.md, plots

`fit_in_dir` is the unit every protocol shares: one model, fitted on one Prepared split, with
all its artifacts in one folder (a holdout run, one k-fold fold, or the k-fold final model).
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from dlrun.errors import Diverged, DlrunError, Interrupted, RunFailed
from dlrun.prepare import Prepared, prepare
from dlrun.report.metrics import HEADLINE
from dlrun.runs.atomic import write_json, write_yaml
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


def monitor_of(prepared: Prepared, has_val: bool) -> tuple[str, str]:
    """The quantity that picks the best epoch, and whether lower or higher is better."""
    return prepared.spec.callbacks.best_epoch_rule("val_loss" if has_val else "loss")


def best_epoch(history: list[dict], monitor: str, mode: str) -> int | None:
    values = [(row.get(monitor), row["epoch"]) for row in history if row.get(monitor) is not None
              and np.isfinite(row.get(monitor))]
    if not values:
        return None
    pick = min if mode == "min" else max
    return pick(values, key=lambda item: item[0])[1]


def predict_part(model, prepared: Prepared, part: str) -> list[np.ndarray]:
    """Raw model outputs (one array per output) on one split part."""
    from dlrun.train.fit import predict_outputs

    inputs, _ = prepared.part(part)
    return predict_outputs(model, inputs)


def audit_of(prepared: Prepared) -> dict:
    from dlrun.report.analysis import audit_data

    first = prepared.plan[0]["target"]
    encoder = prepared.targets[first]
    codes = None if encoder.task == "regression" else encoder.encode(prepared.dataset.targets[first])
    labels = None if codes is None else [encoder.label(i) for i in range(encoder.n_classes)]
    parts = {p: getattr(prepared.splits, p) for p in ("train", "validation", "test")}
    return audit_data(prepared.dataset.features, parts, codes, labels)


def save_model(model, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def write_inputs(folder: RunDir, prepared: Prepared, protocol: str = "holdout", extra: dict | None = None) -> None:
    """config.yaml, splits.json and preprocessing.json: everything needed to redo or re-evaluate the fit."""
    spec = prepared.spec
    header = (f"# Resolved spec of run {folder.run_id}: every default filled in.\n"
              f"# Repeat it with: dlrun {'kfold' if protocol != 'holdout' else 'train'} {folder.path / 'config.yaml'}\n")
    write_yaml(folder.file("config.yaml"), spec.model_dump(mode="json"), header)
    sample = {} if prepared.sample is None else {"sample": prepared.sample.tolist()}
    write_json(folder.file("splits.json"), {"protocol": protocol, "n_rows": prepared.dataset.n_rows,
                                            **(extra or {}), **prepared.splits.to_json(), **sample})
    write_json(folder.file("preprocessing.json"), {
        "features": prepared.preprocessor.to_json(),
        "targets": {name: enc.to_json() for name, enc in prepared.targets.items()},
        "outputs": prepared.plan,
        "baselines": prepared.baselines(),
        "inputs": {name: {"shape": list(info.shape), "dtype": info.dtype} for name, info in prepared.infos.items()},
    })


def start_info(run: RunDir, loaded: LoadedSpec, prepared_or_resolved, kind: str, smoke: bool, **more) -> None:
    spec = prepared_or_resolved.spec
    dataset = prepared_or_resolved.dataset
    run.update_info(run_id=run.run_id, name=spec.name, status="running", started=now_iso(), kind=kind,
                    spec_file=str(loaded.path), data_dir=str(loaded.base_dir), seed=spec.seed, smoke=smoke,
                    data={"source": spec.data.source, "fingerprint": dataset.fingerprint(), "rows": dataset.n_rows,
                          **more.pop("data", {})},
                    tasks={n: t.task for n, t in prepared_or_resolved.targets.items()},
                    **provenance(loaded.base_dir), **more)


@contextlib.contextmanager
def run_status(run: RunDir, what: str = "training", resume_hint: str | None = None):
    """Map whatever ends the block onto run.json's status; an unexpected error keeps its details."""
    try:
        yield
    except (KeyboardInterrupt, Interrupted) as exc:
        run.set_status("interrupted")
        if isinstance(exc, Interrupted) and not resume_hint:
            raise
        hint = f"; continue with: {resume_hint}" if resume_hint else ""
        raise Interrupted(f"stopped; the run so far is in {run.path}{hint}") from None
    except Diverged as exc:
        run.set_status("diverged", error=str(exc))
        raise
    except DlrunError as exc:
        run.set_status("failed", error=str(exc))
        raise
    except Exception as exc:  # noqa: BLE001 - an unexpected failure: keep the details in the run
        run.file("error.log").write_text(traceback.format_exc(), encoding="utf-8")
        run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise RunFailed(f"{what} failed: {type(exc).__name__}: {str(exc)[:500]}\n"
                        f"details: {run.file('error.log')}") from None


def train(loaded: LoadedSpec, *, smoke: bool = False, on_epoch: Callable[[dict], None] | None = None,
          on_start: Callable[[RunDir, Prepared], None] | None = None) -> TrainResult:
    """Train the experiment the spec describes and write its run directory.

    Example:
        >>> from dlrun.spec import load_spec
        >>> result = train(load_spec("configs/iris.yaml", ["training.epochs=1"]))  # doctest: +SKIP
        >>> result.status
        'completed'
    """
    started = time.time()
    prepared = prepare(loaded, smoke=smoke)
    spec = prepared.spec
    _import_or_explain(loaded, spec.imports)  # a broken custom-layer module fails before any run folder exists
    built = build_compiled(prepared)           # and so does a model that cannot be built
    run = RunDir.create(Path(spec.output.runs_dir), spec.name)
    start_info(run, loaded, prepared, "train", smoke, data={"split": prepared.splits.sizes()})
    with run_status(run):
        write_inputs(run, prepared)
        if on_start is not None:
            on_start(run, prepared)
        result = fit_in_dir(run, prepared, on_epoch, release_raw=True, resumable=True, built=built)
        run.set_status("completed", seconds=round(time.time() - started, 3), **result.run_info)
        return result.result


def _import_or_explain(loaded: LoadedSpec, imports: list[str]) -> None:
    if not imports:
        return
    from dlrun.errors import Problem, SpecError
    from dlrun.model.build import BuildError, import_modules
    from dlrun.spec.yamlsource import dotted

    try:
        import_modules(list(imports), loaded.base_dir)
    except BuildError as exc:
        loc = loaded.locate(exc.path)
        raise SpecError([Problem(loc.file, loc.line, loc.col, dotted(exc.path), str(exc))]) from None


@dataclass
class _Fitted:
    result: TrainResult
    run_info: dict


def build_compiled(prepared: Prepared) -> tuple:
    """(runtime facts, compiled model) for a prepared spec; spec mistakes become located errors."""
    from dlrun.model.build import build_or_explain
    from dlrun.train.fit import compile_model
    from dlrun.train.runtime import setup_runtime

    spec, loaded = prepared.spec, prepared.loaded
    runtime = setup_runtime(spec.training, spec.seed)  # imports TensorFlow first, quietly
    model = build_or_explain(spec.model, prepared.infos, spec.name, loaded.locate, spec.imports, loaded.base_dir)
    compile_model(model, spec, prepared.plan, loaded.locate, len(prepared.splits.train))
    return runtime, model


def fit_in_dir(run: RunDir, prepared: Prepared, on_epoch=None, curves_on_test: bool = False,
               plots: bool = True, release_raw: bool = False, resume_state: dict | None = None,
               resumable: bool = False, built: tuple | None = None) -> _Fitted:
    """Build, compile and fit one model on `prepared`, then write history, model, metrics, report and plots.

    With `curves_on_test` and no validation rows, the test part is passed as Keras validation data
    only to record per-epoch curves (k-fold without an inner split, as the seeds do); no callback
    may monitor it (spec validation refuses val_* monitors when split.validation is 0).
    """
    spec = prepared.spec
    runtime, model = built or build_compiled(prepared)
    from dlrun.report.analysis import diagnose_fit
    from dlrun.report.evaluation import score_outputs, write_evaluation
    from dlrun.train.callbacks import HistoryWriter, build_callbacks
    from dlrun.train.fit import fit

    run.update_info(runtime=runtime)
    audit = audit_of(prepared)
    if release_raw:  # the raw features are not needed again: free them before the fit's peak
        prepared.dataset.features = None
    has_val = len(prepared.splits.validation) > 0
    writer = HistoryWriter(run.file("history.csv"), spec.callbacks.terminate_on_nan, on_epoch)
    callbacks, handles = build_callbacks(spec, run.path)
    start_epoch, stopper = 0, None
    if resumable:  # the run can be continued: state after every epoch, signals stop at an epoch end
        from dlrun.train.resume import GracefulStop, ResumeRestorer, ResumeSaver, restore_model

        run.file("checkpoints").mkdir(exist_ok=True)
        if resume_state is not None:
            restore_model(model, resume_state)
            start_epoch = resume_state["epoch"]
            writer.preload(start_epoch)
            callbacks.append(ResumeRestorer(resume_state, handles["watched"]))
        stopper = GracefulStop()
        callbacks += [writer, ResumeSaver(run.file("checkpoints"), handles["watched"]), stopper]
    else:
        callbacks.append(writer)
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
        fit(model, spec, x_train, y_train, validation, callbacks, start_epoch)
    finally:
        if stopper is not None:
            stopper.uninstall()
    fit_seconds = time.time() - fit_started
    history = writer.rows
    if stopper is not None and stopper.signal_name is not None:
        raise Interrupted(f"stopped by {stopper.signal_name} after epoch {len(history)}; the state is saved. "
                          f"Continue with: dlrun train --resume {run.run_id} --runs-dir {run.path.parent}")
    if writer.diverged_epoch is not None or not history or not np.isfinite(history[-1].get("loss", 0.0)):
        epoch = writer.diverged_epoch or max(1, len(history))
        raise Diverged(f"the loss became NaN or infinite at epoch {epoch}; try a lower optimizer.learning_rate "
                       f"(now {spec.optimizer.learning_rate}), gradient clipping (optimizer.clipnorm: 1.0), "
                       f"or check the data for extreme values")
    monitor, mode = monitor_of(prepared, validation is not None)
    best = best_epoch(history, monitor, mode)
    if spec.output.save_model:
        save_model(model, run.file("model.keras"))
    part = "test" if len(prepared.splits.test) else "validation" if has_val else "train"
    raw = predict_part(model, prepared, part)
    results = score_outputs(raw, prepared.plan, prepared.targets, prepared.truths(part), prepared.baselines())
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
    }
    metrics = write_evaluation(run.path, summary, part, results, raw, prepared.plan, prepared.targets,
                               prepared.truths(part), history, spec.output.plots and plots)
    info = {"fit_seconds": round(fit_seconds, 3), "epochs_run": len(history), "best_epoch": best,
            "epoch_seconds": writer.seconds, "headline": headline(metrics, prepared)}
    result = TrainResult(run, "completed", len(history), best, monitor, history, metrics, runtime.get("notes", []))
    return _Fitted(result, info)


def headline(metrics: dict, prepared: Prepared) -> dict:
    """The one number a listing shows: accuracy (classification) or MAE (regression) on held-out rows."""
    entry = prepared.plan[0]
    task = prepared.targets[entry["target"]].task
    part = metrics["part"]
    held_out = metrics[part] if len(prepared.plan) == 1 else metrics[part].get(entry["name"], {})
    name = HEADLINE[task]
    return {"name": f"{part}_{name}", "value": held_out.get(name)}


def refuse_changed_spec(run: RunDir, spec, allow_changed: bool) -> None:
    """Resuming with a spec other than the run's own: list the differing keys and refuse, unless allowed.
    Output settings (where runs go, plots) may differ."""
    import yaml

    from dlrun.errors import UserError
    from dlrun.report.runs_view import config_differences

    saved = yaml.safe_load(run.file("config.yaml").read_text(encoding="utf-8")) or {}
    diff = {k: v for k, v in config_differences([saved, spec.model_dump(mode="json")]).items()
            if not k.startswith("output.")}
    if diff and not allow_changed:
        lines = [f"  {key}: {old!r} → {new!r}" for key, (old, new) in diff.items()]
        raise UserError("the spec differs from the one the run started with:\n" + "\n".join(lines)
                        + "\nresume with the same spec (or pass --allow-changed to continue anyway)")


def resume_train(run: RunDir, loaded: LoadedSpec | None = None, *, allow_changed: bool = False,
                 on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Continue an interrupted `dlrun train` run from its last finished epoch.

    The spec is the run's own resolved config.yaml unless `loaded` is given; a spec that differs
    is refused (listing the differing keys) unless `allow_changed`.
    """
    import json as _json

    from dlrun.data.split import Splits
    from dlrun.errors import UserError
    from dlrun.prepare import load_resolved, prepare_rows
    from dlrun.spec.load import load_spec
    from dlrun.train.resume import read_state

    info = run.read_info()
    if info.get("kind") != "train":
        raise UserError(f"{run.run_id} is not a `dlrun train` run; k-fold runs resume with `dlrun kfold --resume`")
    if info.get("status") == "completed":
        raise UserError(f"run {run.run_id} already completed; there is nothing to resume")
    if loaded is None:
        loaded = load_spec(run.file("config.yaml"))
        loaded.data_dir = Path(info.get("data_dir", "."))
    resolved = load_resolved(loaded, smoke=bool(info.get("smoke")))
    refuse_changed_spec(run, resolved.spec, allow_changed)
    if resolved.dataset.fingerprint() != info.get("data", {}).get("fingerprint"):
        raise UserError(f"the data differs from what run {run.run_id} was trained on (its fingerprint changed); "
                        f"start a new run instead")
    splits = Splits.from_json(_json.loads(run.file("splits.json").read_text(encoding="utf-8")))
    prepared = prepare_rows(resolved, splits)
    state = read_state(run.file("checkpoints"))
    started = time.time()
    run.set_status("running", resumed=now_iso(), resumed_from_epoch=state["epoch"] if state else 0)
    with run_status(run):
        result = fit_in_dir(run, prepared, on_epoch, release_raw=True, resumable=True, resume_state=state)
        run.set_status("completed", seconds=round(time.time() - started, 3), **result.run_info)
        return result.result
