"""`dlrun predict RUN DATA`: predictions for new rows with the run's own preprocessing,
after checking the file's columns against the training schema."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dlrun.data.feature_data import feature_data
from dlrun.data.inputs import model_inputs
from dlrun.data.preprocess import category_notes
from dlrun.data.saved_inputs import new_table_columns, saved_inputs
from dlrun.data.window_rows import read_recent
from dlrun.report.metrics import probabilities
from dlrun.report.multilabel_metrics import THRESHOLD, predicted_sets
from dlrun.inference.saved_run import SavedRun, load_saved_run
from dlrun.model.io import predict_outputs
from dlrun.runs.atomic import check_writable, write_text
from dlrun.runs.kinds import the_model
from dlrun.runs.rundir import RunDir


def read_features(saved: SavedRun, data: Path | list[Path]) -> tuple[object, list[str] | None, list[str]]:
    """New rows' features, for image and text runs the file of each row, and notes: a table's training
    columns (by the rule of new rows, data/saved_inputs.py: a missing one is an error, others are ignored
    with a note), an NPZ's array, image files, or texts (folders: every file in them, at any depth)."""
    pre = saved.preprocessor
    paths = [Path(p) for p in data] if isinstance(data, (list, tuple)) else [Path(data)]
    notes: list[str] = []

    def checked(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
        notes.extend(new_table_columns([str(c) for c in frame.columns], pre.columns, str(path)))
        return frame[pre.columns]

    key = saved.spec.data.features[0] if saved.spec.data.features else "x"
    features, files = saved_inputs(pre).read_new(paths, checked, key)
    return features, files, notes


def predictions(saved: SavedRun, features, backend: str, model=None, where: str = "data") -> dict[str, dict]:
    """What `dlrun predict` gives for raw feature rows, as arrays by target: "value" (regression),
    "probabilities" and "class" (classification; a 1-unit sigmoid as two columns), or "probabilities"
    and "predicted" (multilabel, 0/1 at the threshold)."""
    pre = saved.preprocessor
    x = feature_data(features).transformed(pre, where)  # a table's rows, or windows over their steps
    inputs = model_inputs(x, saved.spec.model, pre, saved.infos)
    raw = predict_outputs(model if model is not None else saved.model(backend), inputs)
    arrays = {}
    for head, values in zip(saved.heads, raw):
        encoder = saved.targets[head.target]
        if encoder.task == "regression":
            arrays[encoder.name] = {"value": np.asarray(values, dtype=np.float64).reshape(len(values), -1)}
        elif encoder.task == "multilabel":
            proba = np.asarray(values, dtype=np.float64)
            arrays[encoder.name] = {"probabilities": proba, "predicted": (proba >= THRESHOLD).astype(np.int32)}
        else:
            proba = probabilities(values, encoder.task)
            arrays[encoder.name] = {"probabilities": proba, "class": proba.argmax(axis=1).astype(np.int32)}
    return arrays


def read_rows(saved: SavedRun, data: Path | list[Path]) -> tuple[object, pd.DataFrame, list[str]]:
    """New rows' features (`read_features`), the table the predictions go into (for image and text runs,
    with the file of each row) and the notes of reading them."""
    features, files, notes = read_features(saved, data)
    table = pd.DataFrame(index=range(len(features)))
    if files is not None:
        table["file"] = files
    return features, table, notes


def read_windows(saved: SavedRun, data: Path | list[Path]) -> tuple[object, pd.DataFrame, list[str]]:
    """A window run's recent rows (data/window_rows.py): one window per series ending at its last row, and a
    table of what each prediction is for — series, time and step ahead (forecasts), or series and time."""
    window = saved.spec.data.window
    forecasting = any(encoder.steps for encoder in saved.targets.values())
    recent = read_recent(data, window, saved.preprocessor.columns, window.horizon if forecasting else 0)
    return recent.windows, recent.index, recent.notes


def predict(run: RunDir, data: Path | list[Path], output: Path | None = None, backend: str | None = None) -> pd.DataFrame:
    """A table of predictions: for each output, the predicted class and its probabilities, or the value
    (on `backend`, default: the one the run was trained on). A k-fold run predicts with its final
    model, a sweep with its retrained best (runs/kinds.py). A window run (data.window) predicts from each
    series' last rows: its next `horizon` steps, one row per series and step, or its last window's class.
    `table.attrs["notes"]`: what the command line says besides (columns ignored, categories the model
    could not place, one line each); `table.attrs["categories"]`: those categories' counts by column
    (FeaturePreprocessor.category_surprises)."""
    if output is not None:
        check_writable(output)  # before any work
    saved = load_saved_run(RunDir(the_model(run.path, run.read_info(), "predict with")))
    backend = saved.use_backend(backend)
    read = read_windows if saved.spec.data.window is not None else read_rows
    features, table, notes = read(saved, data)
    where = ", ".join(map(str, data)) if isinstance(data, (list, tuple)) else str(data)
    arrays = predictions(saved, features, backend, where=where)
    surprises = saved.preprocessor.category_surprises(feature_data(features).fit_table())
    table.attrs["notes"] = notes + category_notes(surprises)  # for the command line to print
    table.attrs["categories"] = surprises
    add_predicted(table, saved, arrays)
    if output is not None:
        write_text(Path(output), table.to_csv(index=False))
    return table


def add_predicted(table: pd.DataFrame, saved: SavedRun, arrays: dict[str, dict]) -> None:
    """`predictions`' arrays as columns of `table`, in place: `<target>_predicted` (a forecast's values
    row by row, series after series, step after step) and for classes `<target>_p_<label>`."""
    for head in saved.heads:
        encoder = saved.targets[head.target]
        got, prefix = arrays[encoder.name], encoder.name
        if encoder.task == "regression":
            table[f"{prefix}_predicted"] = got["value"].reshape(-1)
            continue
        labels = [encoder.label(i) for i in range(encoder.n_classes)]
        if encoder.task == "multilabel":
            table[f"{prefix}_predicted"] = predicted_sets(got["probabilities"], labels)
        else:
            table[f"{prefix}_predicted"] = [labels[i] for i in got["class"]]
        for i, label in enumerate(labels):
            table[f"{prefix}_p_{label}"] = got["probabilities"][:, i]
