"""`dlrun evaluate RUN`: the saved model on the run's own split (re-derived exactly from
splits.json) or on a new labelled data file, written to evaluations/<timestamp>/ without
touching anything training wrote."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlrun.data.dataset import Dataset
from dlrun.data.feature_data import feature_data
from dlrun.data.inputs import model_inputs
from dlrun.data.multilabel import regroup
from dlrun.data.new_data import read_labelled
from dlrun.data.preprocess import category_notes
from dlrun.data.sources import load_dataset
from dlrun.errors import DataError, UserError
from dlrun.inference.saved_run import SavedRun, load_saved_run
from dlrun.inference.window_scores import NEW_DATA_SCALE, add_saved_forecasts
from dlrun.model.io import predict_outputs
from dlrun.runs import artifacts
from dlrun.runs.atomic import unwritable
from dlrun.runs.kinds import models_of
from dlrun.runs.lock import hold
from dlrun.runs.rundir import RunDir

PARTS = ("test", "validation", "train")


@dataclass
class EvaluationResult:
    run: RunDir
    folder: Path
    part: str
    document: dict
    notes: list[str]


def load_file_dataset(path: Path, saved: SavedRun) -> tuple[Dataset, list[str]]:
    """A new labelled data file (or, for an image or text run, a folder of class subfolders) read with
    the run's data settings and target names, and the notes of reading it (a table's columns meet the
    rule of new rows that `dlrun predict` applies: data/saved_inputs.py)."""
    return read_labelled(Path(path), saved.spec.data, saved.targets, saved.preprocessor.columns)


def own_dataset(saved: SavedRun) -> tuple[Dataset, list[str]]:
    """The run's own data as training saw it (the --smoke sample included), and a note if it changed since."""
    spec, notes = saved.spec, []
    dataset = regroup(load_dataset(spec.data, saved.data_dir, spec.split.group), saved.targets)
    sample = saved.sample()
    if sample is not None:
        dataset = dataset.take(sample)
    trained_on = artifacts.read_splits(saved.run.path).get("files")
    now = dataset.file_list().get("files")
    if trained_on is not None and trained_on != now:
        now = now or []
        gone = sorted(set(trained_on) - set(now))
        added = sorted(set(now) - set(trained_on))
        raise DataError(f"{spec.data.source}: the folder changed since run {saved.run.run_id} was trained "
                        f"({len(gone)} file(s) gone{', e.g. ' + gone[0] if gone else ''}; {len(added)} new"
                        f"{', e.g. ' + added[0] if added else ''}), so its split no longer names the same files; "
                        f"restore the folder, or evaluate on a folder with --data")
    if dataset.fingerprint() != saved.info.get("data", {}).get("fingerprint"):
        notes.append("the data differs from what this run was trained on (its fingerprint changed); "
                     "the split indices may no longer mean the same rows")
    return dataset, notes


def _new_folder(run: RunDir) -> Path:
    base = artifacts.evaluations_folder(run.path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        folder = base / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
        except OSError as exc:
            raise unwritable(base, exc) from None
    raise UserError(f"cannot make a new evaluation folder in {base}")  # pragma: no cover


def evaluate(run: RunDir, data: Path | None = None, part: str = "test", backend: str | None = None) -> EvaluationResult:
    """Evaluate a finished run's model and write the report (on `backend`, default: the run's own),
    as the run's one writer meanwhile (runs/lock.py)."""
    with hold(run.path):
        return _evaluate(run, data, part, backend)


@dataclass
class _Scored:
    """What one evaluation scores: the data, its rows, the part's name, the audit, the notes, and the rows
    whose steps scale a forecast's MASE (a window run: the training windows, or every window of a new file)."""

    dataset: Dataset
    rows: np.ndarray
    part: str
    audit: dict
    notes: list[str]
    scale_rows: np.ndarray


def _new_data(saved: SavedRun, data: Path) -> _Scored:
    """A labelled file (a window run: every window over it, built as training builds them)."""
    from dlrun.report.analysis import audit_data

    dataset, notes = load_file_dataset(Path(data), saved)
    missing = [t for t in saved.targets if t not in dataset.targets]
    if missing:
        raise DataError(f"{data}: evaluation needs the target column(s) {', '.join(missing)}; "
                        f"for rows without targets use `dlrun predict`")
    rows = np.arange(dataset.n_rows)
    first = saved.heads[0].target
    audit = audit_data(dataset.features, {"data": rows}, None, None, targets=dataset.targets[first],
                       preprocessor=saved.preprocessor)
    return _Scored(dataset, rows, "data", audit, notes, rows)


def _own_part(saved: SavedRun, part: str) -> _Scored:
    """The run's own data, re-split exactly as splits.json says."""
    from dlrun.report.analysis import audit_split

    dataset, notes = own_dataset(saved)
    splits = saved.splits()
    rows = getattr(splits, part)
    if not len(rows):
        raise UserError(f"run {saved.run.run_id} has no {part} rows (split.{part} was 0)")
    first = saved.heads[0].target
    audit = audit_split(dataset.features, {p: getattr(splits, p) for p in PARTS[::-1]}, saved.targets[first],
                        dataset.targets[first], preprocessor=saved.preprocessor)
    return _Scored(dataset, rows, part, audit, notes, splits.train)


def _evaluate(run: RunDir, data: Path | None, part: str, backend: str | None) -> EvaluationResult:
    from dlrun.report.fit_verdict import diagnose_fit, unscaled_targets
    from dlrun.report.evaluation import score_outputs, write_evaluation

    if part not in PARTS:
        raise UserError(f"--split must be one of {', '.join(PARTS)}, not '{part}'")
    saved = load_saved_run(run)
    backend = saved.use_backend(backend)
    spec = saved.spec
    scored = _new_data(saved, Path(data)) if data is not None else _own_part(saved, part)
    dataset, rows, notes = scored.dataset, scored.rows, scored.notes
    features = dataset.features_at(rows)
    notes += category_notes(saved.preprocessor.category_surprises(feature_data(features).fit_table()))
    where = str(data) if data is not None else dataset.name
    x = feature_data(features).transformed(saved.preprocessor, where)  # a table's rows, or windows over steps
    inputs = model_inputs(x, spec.model, saved.preprocessor, saved.infos)
    truths = {name: enc.encode(dataset.targets[name][rows]) for name, enc in saved.targets.items()}
    raw = predict_outputs(saved.model(backend), inputs)
    per_output = score_outputs(raw, saved.heads, saved.targets, truths, saved.baselines)
    history = artifacts.read_history(run.path)
    info = saved.info
    folder = _new_folder(run)
    if add_saved_forecasts(per_output, saved, dataset.features, rows, scored.scale_rows, raw, truths, folder) \
            and data is not None:
        notes.append(NEW_DATA_SCALE)
    summary = {"run_id": run.run_id, "evaluated": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "data": str(Path(data).resolve()) if data is not None else spec.data.source,
               "task": {n: t.task for n, t in saved.targets.items()},
               "fit": diagnose_fit(history, info.get("best_epoch"),
                                   unscaled_targets(saved.baselines, set(saved.scaled_targets))),
               "audit": scored.audit, "notes": notes,
               "backend": backend}
    document = write_evaluation(folder, summary, scored.part, per_output, raw, saved.heads, saved.targets, truths,
                                history or None, files=feature_data(x).listed_files())
    return EvaluationResult(run, folder, scored.part, document, notes)


def evaluate_any(run: RunDir, data: Path | None = None, part: str = "test",
                 backend: str | None = None) -> list[EvaluationResult]:
    """Evaluate the models that stand for a run (runs/kinds.py): its own, a k-fold run's final model
    or else each fold's model on that fold's held-out rows, a sweep's retrained best."""
    return [evaluate(RunDir(folder), data, part, backend) for folder in models_of(run.path, run.read_info())]
