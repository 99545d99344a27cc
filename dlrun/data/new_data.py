"""Labelled data a finished run has not seen (`dlrun evaluate RUN --data PATH`), read with the run's
own data settings: a table or NPZ file by its suffix, or for a run on a folder source, a folder of
class subfolders. A table's columns meet the rule of new rows that `dlrun predict` applies too
(data/saved_inputs.py, `new_table_columns`)."""

from __future__ import annotations

import re
from pathlib import Path

from dlrun.data.dataset import Dataset
from dlrun.data.multilabel import regroup, source_columns
from dlrun.data.parquet import SUFFIXES as PARQUET_SUFFIXES
from dlrun.data.saved_inputs import new_table_columns
from dlrun.data.sources import load_class_folder, load_dataset


def read_labelled(path: Path, data_spec, targets: dict, columns: list[str] | None = None) -> tuple[Dataset, list[str]]:
    """`path` read as the run's source would be, with the run's target names (`targets`: its encoders),
    and the notes of reading it. `columns`: the run's feature columns (a table's); the file must have
    them all, and its other columns but the targets are ignored, with a note."""
    from dlrun.errors import DataError

    if data_spec.kind.folder_of_files:
        update = {"source": f"{data_spec.scheme}:{path.resolve()}"}
        return load_class_folder(data_spec.model_copy(update=update), path.resolve(), at_least=1), []
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    suffix = path.suffix.lower()
    scheme = "npz" if suffix == ".npz" else "parquet" if suffix in PARQUET_SUFFIXES else "csv"
    update: dict = {"source": f"{scheme}:{path.resolve()}"}
    notes: list[str] = []
    if scheme != "npz":  # the run's own target names (a sklearn source calls its target 'target')
        update["target"] = source_columns(targets)
        header = _header(path.resolve(), scheme, data_spec.delimiter) if columns else []
        window = data_spec.window
        keys = [c for c in (window.time, window.series) if c] if window is not None else []
        if window is not None:  # windows are built as training built them: a forecast stays one on any file
            update["task"] = next(iter(targets.values())).task
        if header:
            notes = new_table_columns(header, columns, str(path), used=[*update["target"], *keys])
            update["features"] = [_literal(c) for c in columns]  # exactly the training columns, no others
    return regroup(load_dataset(data_spec.model_copy(update=update), path.parent), targets), notes


def _header(path: Path, scheme: str, delimiter: str | None) -> list[str]:
    """A table file's column names, read without its rows ([] when there are none to read: the full
    read then says what is wrong with the file)."""
    if scheme == "parquet":
        from dlrun.data.parquet import chosen_columns

        return chosen_columns(path)[1]
    from dlrun.data.table_columns import check_header, sniff_delimiter

    try:
        return check_header(path, delimiter or sniff_delimiter(path))
    except UnicodeDecodeError:
        return []


def _literal(column: str) -> str:
    """A column name as a data.features pattern that matches only itself ('*', '?' and '[' escaped)."""
    return re.sub(r"([*?[])", r"[\1]", column)
