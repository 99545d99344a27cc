"""Labelled data a finished run has not seen (`dlrun evaluate RUN --data PATH`), read with the run's
own data settings: a table or NPZ file by its suffix, or for a run on a folder source, a folder of
class subfolders."""

from __future__ import annotations

from pathlib import Path

from dlrun.data.dataset import Dataset
from dlrun.data.multilabel import regroup, source_columns
from dlrun.data.parquet import SUFFIXES as PARQUET_SUFFIXES
from dlrun.data.sources import load_class_folder, load_dataset


def read_labelled(path: Path, data_spec, targets: dict) -> Dataset:
    """`path` read as the run's source would be, with the run's target names (`targets`: its encoders)."""
    from dlrun.errors import DataError

    if data_spec.kind.folder_of_files:
        update = {"source": f"{data_spec.scheme}:{path.resolve()}"}
        return load_class_folder(data_spec.model_copy(update=update), path.resolve(), at_least=1)
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    suffix = path.suffix.lower()
    scheme = "npz" if suffix == ".npz" else "parquet" if suffix in PARQUET_SUFFIXES else "csv"
    update = {"source": f"{scheme}:{path.resolve()}"}
    if scheme != "npz":  # the run's own target names (a sklearn source calls its target 'target')
        update["target"] = source_columns(targets)
    return regroup(load_dataset(data_spec.model_copy(update=update), path.parent), targets)
