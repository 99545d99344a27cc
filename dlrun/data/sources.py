"""Data sources: scikit-learn bundled sets, CSV, Parquet and NPZ files. (Keras datasets: keras_sources.py.)

`load_dataset(spec.data, base_dir)` is the only entry point; every failure that is the
user's (missing file, missing column, text in a numeric column, ragged rows) is a
DataError naming the file, column or row.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from dlrun.data.dataset import Dataset
from dlrun.data.table_columns import check_header, check_numeric, match_columns, needed_columns, require_file, \
    sniff_delimiter
from dlrun.errors import DataError
from dlrun.spec.catalog import suggest
from dlrun.spec.models import DataSpec


def load_dataset(spec: DataSpec, base_dir: Path, group: str | None = None) -> Dataset:
    """Load the data the spec names; paths are relative to `base_dir` (the spec's folder)."""
    if spec.scheme == "sklearn":
        return _from_sklearn(spec)
    if spec.scheme == "keras":
        from dlrun.data.keras_sources import load_keras_dataset

        return load_keras_dataset(spec)
    path = resolve_path(spec.location, base_dir)
    if spec.scheme == "images":
        return _from_images(spec, path)
    if spec.scheme == "text":
        return _from_text(spec, path)
    if spec.streaming:  # read chunk by chunk, never whole
        from dlrun.data.table_scan import scan_table

        return scan_table(spec, path, group)
    if spec.scheme == "csv":
        return _from_csv(spec, path, group)
    if spec.scheme == "parquet":
        from dlrun.data.parquet import read_parquet

        frame = read_parquet(path, lambda columns: needed_columns(spec, columns, str(path), group))
        return from_table(spec, frame, path, group, f"parquet:{path.name}")
    return _from_npz(spec, path)


def resolve_path(location: str, base_dir: Path) -> Path:
    try:
        path = Path(location).expanduser()
    except RuntimeError as exc:  # '~someone' with no such user
        raise DataError(f"data.source: the path '{location}' cannot be resolved ({exc})") from None
    return path if path.is_absolute() else (base_dir / path)


def _from_sklearn(spec: DataSpec) -> Dataset:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{spec.location}")(as_frame=True)
    if isinstance(bunch.target, pd.DataFrame):  # several targets (linnerud): named by their columns
        return _sklearn_targets(spec, bunch.data, bunch.target)
    frame: pd.DataFrame = bunch.frame
    target = "target"
    if spec.target not in (None, target):
        raise DataError(f"data.target: sklearn:{spec.location} has a single target named 'target', not '{spec.target}'")
    features = frame.drop(columns=[target])
    if spec.features:
        features = features[match_columns(spec.features, list(features.columns), f"sklearn:{spec.location}", "data.features")]
    class_names = {}
    if hasattr(bunch, "target_names") and spec.location != "diabetes":
        class_names[target] = [str(n) for n in bunch.target_names]
    return Dataset(features.reset_index(drop=True), {target: frame[target].to_numpy()},
                   f"sklearn:{spec.location}", class_names=class_names)


def _sklearn_targets(spec: DataSpec, features: pd.DataFrame, targets: pd.DataFrame) -> Dataset:
    """A bundled data set with several targets: all of them, or those data.target names."""
    where = f"sklearn:{spec.location}"
    wanted = [spec.target] if isinstance(spec.target, str) else list(spec.target or targets.columns)
    unknown = [name for name in wanted if name not in targets.columns]
    if unknown:
        raise DataError(f"data.target: {where} has no target {', '.join(map(repr, unknown))} "
                        f"(its targets: {', '.join(targets.columns)})")
    if spec.features:
        features = features[match_columns(spec.features, list(features.columns), where, "data.features")]
    return Dataset(features.reset_index(drop=True), {name: targets[name].to_numpy() for name in wanted}, where)


def read_table_file(path: Path) -> pd.DataFrame:
    """A whole table of new rows (predict): Parquet by its suffix, else CSV."""
    from dlrun.data.parquet import SUFFIXES, read_parquet

    if Path(path).suffix.lower() in SUFFIXES:
        return read_parquet(Path(path))
    return read_csv(Path(path))


def read_csv(path: Path, delimiter: str | None = None) -> pd.DataFrame:
    require_file(path)
    try:
        delimiter = delimiter or sniff_delimiter(path)
        check_header(path, delimiter)
        frame = pd.read_csv(path, sep=delimiter)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the data file is empty") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: rows do not all have the same number of fields — {exc}".rstrip()) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    if frame.empty:
        raise DataError(f"{path}: the data file has a header but no rows")
    _check_row_lengths(path, len(frame.columns), delimiter)
    return frame


def _check_row_lengths(path: Path, width: int, delimiter: str = ",") -> None:
    """pandas pads a short row with NaN; a row with missing fields is a mistake worth naming."""
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter=delimiter), start=1):
            if row and len(row) != width:
                raise DataError(f"{path}: line {number} has {len(row)} field(s) but the header has {width}; "
                                f"rows do not all have the same number of fields")


def _from_csv(spec: DataSpec, path: Path, group: str | None) -> Dataset:
    frame = read_csv(path, spec.delimiter)
    frame.columns = [str(c) for c in frame.columns]
    return from_table(spec, frame, path, group, f"csv:{path.name}")


def from_table(spec: DataSpec, frame: pd.DataFrame, path: Path, group: str | None, name: str) -> Dataset:
    """A Dataset from a table read whole (CSV, Parquet): targets, group and checked feature columns;
    with data.window, windows over it (data/windows.py)."""
    if spec.window is not None:
        from dlrun.data.window_source import windowed_dataset

        return windowed_dataset(spec, frame, name)
    columns = list(frame.columns)
    needed = needed_columns(spec, columns, str(path), group)
    targets = spec.targets()
    reserved = set(targets) | ({group} if group else set())
    features = frame[[c for c in needed if c not in reserved]].copy()
    check_numeric(features, spec, path, file_lines=name.startswith("csv:"))
    groups = frame[group].to_numpy() if group else None
    return Dataset(features, {t: frame[t].to_numpy() for t in targets}, name, groups=groups)


def load_class_folder(spec: DataSpec, folder: Path, at_least: int = 2) -> Dataset:
    """An images: or text: folder of class subfolders (`at_least` classes: evaluation takes one)."""
    return (_from_images if spec.scheme == "images" else _from_text)(spec, folder, at_least)


def _from_images(spec: DataSpec, folder: Path, at_least: int = 2) -> Dataset:
    """A folder of class subfolders: the rows are the files (checked once), the target their folder."""
    from dlrun.data.image_files import checked_files, scan_class_folders

    files, labels, _ = scan_class_folders(folder, at_least)
    images = checked_files(files, spec.image_size, spec.color_mode, root=folder)
    target = spec.targets()[0] if spec.targets() else "label"
    return Dataset(images, {target: np.array(labels, dtype=object)}, f"images:{folder.name}")


def _from_text(spec: DataSpec, folder: Path, at_least: int = 2) -> Dataset:
    """A folder of class subfolders of .txt files: one row per file, its text whole."""
    from dlrun.data.text_files import text_class_folders

    _, texts, labels = text_class_folders(folder, at_least)
    target = spec.targets()[0] if spec.targets() else "label"
    return Dataset(texts, {target: np.array(labels, dtype=object)}, f"text:{folder.name}")


def _from_npz(spec: DataSpec, path: Path) -> Dataset:
    require_file(path)
    x_key = spec.features[0] if spec.features else "x"
    y_key = spec.targets()[0] if spec.targets() else "y"
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: not an NPZ archive (np.savez writes one); this file holds a single array")
        with archive:
            keys = list(archive.keys())
            for key, field in ((x_key, "data.features"), (y_key, "data.target")):
                if key not in keys:
                    raise DataError(f"{path}: {field} names array '{key}', which is not in the file"
                                    f"{suggest(key, keys)} (arrays: {', '.join(keys)})")
            x, y = archive[x_key], archive[y_key]
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable NPZ archive of plain arrays ({exc})") from None
    if x.ndim == 0 or y.ndim == 0:
        raise DataError(f"{path}: '{x_key}' and '{y_key}' must hold one row per sample, not a single value")
    if len(x) != len(y):
        raise DataError(f"{path}: '{x_key}' has {len(x)} rows but '{y_key}' has {len(y)}")
    if len(x) == 0:
        raise DataError(f"{path}: the arrays are empty")
    return Dataset(x, {y_key: y}, f"npz:{path.name}")
