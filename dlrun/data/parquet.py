"""Parquet tables (pyarrow): one file, or a glob of files sharing one schema, reading only the columns
the spec uses (a wide table's other columns are never loaded)."""

from __future__ import annotations

import glob
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from dlrun.errors import DataError, UserError, first_line

SUFFIXES = (".parquet", ".pq")


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise UserError('Parquet files are read with pyarrow, which is not installed: pip install "dlrun[parquet]"') \
            from None
    return pyarrow, pyarrow.parquet


def parquet_files(path: Path) -> list[Path]:
    """The files a parquet source names: the one file, or every match of a glob, in sorted order."""
    text = str(path)
    if any(mark in text for mark in "*?["):
        files = sorted((Path(p) for p in glob.glob(text) if Path(p).is_file()), key=_natural)
        if not files:
            raise DataError(f"{path}: no file matches this pattern (data.source paths are relative to the spec "
                            f"file's folder)")
        return files
    if path.is_dir():
        raise DataError(f"{path}: is a directory; name the files with a glob, e.g. parquet:{path}/*.parquet")
    if not path.is_file():
        raise DataError(f"{path}: data file not found (data.source paths are relative to the spec file's folder)")
    return [path]


def chosen_columns(path: Path, choose: Callable[[list[str]], list[str]] | None = None) -> tuple[list[Path], list[str]]:
    """(the files, the columns to read): `choose` picks from the first file's columns; every file must
    have them. An unreadable file is named."""
    pa, pq = _pyarrow()
    files = parquet_files(Path(path))
    schemas = []
    for file in files:
        try:
            # an unnamed stored index is no column of the table
            schemas.append([str(n) for n in pq.read_schema(file).names if not str(n).startswith("__index_level_")])
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{file}: not a readable Parquet file ({first_line(exc, 200)})") from None
    columns = choose(schemas[0]) if choose else schemas[0]
    for file, names in zip(files[1:], schemas[1:]):
        lacking = [c for c in columns if c not in names]
        if lacking:
            raise DataError(f"{file}: lacks column(s) {', '.join(lacking)}, which {files[0].name} has and the spec "
                            f"uses; every file of a parquet source needs them")
    return files, columns


def _natural(path: Path) -> list:
    """part-2 before part-10: numbers in the name compare as numbers."""
    return [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", str(path))]


def read_parquet(path: Path, choose: Callable[[list[str]], list[str]] | None = None) -> pd.DataFrame:
    """The table of one file or glob: `choose(all column names)` gives the columns to read (default: all)."""
    pa, pq = _pyarrow()
    files, columns = chosen_columns(Path(path), choose)
    tables = []
    for file in files:
        try:
            tables.append(pq.read_table(file, columns=columns))
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{file}: not a readable Parquet file ({first_line(exc, 200)})") from None
    try:
        table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    except pa.ArrowException as exc:
        raise DataError(f"{path}: the files' column types do not agree ({first_line(exc, 200)})") from None
    frame = table.to_pandas()
    if not isinstance(frame.index, pd.RangeIndex):  # a named index saved with the table is one of its columns
        frame = frame.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    if frame.empty:
        raise DataError(f"{path}: the table has no rows")
    return frame
