"""The one pass that opens a streamed table (`data.streaming: true`): where its chunks lie, and what every
protocol needs of all its rows — the targets (and group labels), a hash of each row's features for the
leakage audit, the empty cells — with the same checks, naming the same rows, as a table read whole.
Feature values are not kept: they are read again, chunk by chunk, when statistics are fitted and
batches are made.
"""

from __future__ import annotations

import csv
import fnmatch
import io
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd

from dlrun.data.dataset import Dataset
from dlrun.data.read_ahead import read_ahead
from dlrun.data.table_columns import check_finite, check_header, check_numeric, needed_columns, require_file, sniff_delimiter
from dlrun.data.table_stream import CHUNK_ROWS, StreamedTable
from dlrun.errors import DataError, first_line
from dlrun.spec.models import DataSpec

BLOCK_BYTES = 1 << 20  # newlines are counted this many bytes at a time


def scan_table(spec: DataSpec, path: Path, group: str | None, chunk_rows: int | None = None) -> Dataset:
    """A Dataset whose features are a StreamedTable over the CSV file or Parquet file(s) at `path` (a CSV
    is cut into chunks of `chunk_rows` rows, default CHUNK_ROWS; a Parquet file's are its row groups)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    table, needed = (_csv_table if spec.scheme == "csv" else _parquet_table)(spec, path, group, chunk_rows)
    targets = spec.targets()
    reserved = set(targets) | ({group} if group else set())
    scan = _Scan(table.columns, [c for c in needed if c in reserved])
    # the next chunk is parsed by a thread of its own (Arrow lets go of the interpreter) while this one is
    # checked; closed, the thread stops at once where a chunk is refused
    with closing(read_ahead(((c, _read(table, c, needed, path)) for c in range(len(table.bounds))), 1)) as chunks:
        for chunk, frame in chunks:
            first = int(table.bounds[chunk, 3])
            expected = (int(table.bounds[chunk + 1, 3]) if chunk + 1 < len(table.bounds) else table.n_total) - first
            if len(frame) != expected:
                raise DataError(f"{table.files[int(table.bounds[chunk, 0])]}: file lines {first + 2}-{first + 1 + expected} "
                                f"hold {len(frame)} rows where there are {expected} lines; with data.streaming each row "
                                f"is one line (no blank lines, no quoted field holding a line break)")
            features = frame[table.columns].copy()
            check_numeric(features, spec, path, file_lines=spec.scheme == "csv", first_row=first)
            numeric = [c for c in table.columns if c not in table.text_columns]
            if numeric:
                check_finite(features[numeric].to_numpy(dtype=np.float64), str(path), numeric, first)
            scan.add(features, frame, first)
    label = f"{spec.scheme}:{path.name}"
    values = scan.reserved_values()
    table.keys, table.missing = scan.keys(), scan.missing_rows()
    return Dataset(table, {t: values[t] for t in targets}, label, groups=values[group] if group else None)


def _csv_table(spec: DataSpec, path: Path, group: str | None, chunk_rows: int) -> tuple[StreamedTable, list[str]]:
    require_file(path)
    delimiter = spec.delimiter or sniff_delimiter(path)
    try:
        header = check_header(path, delimiter)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    if not header:
        raise DataError(f"{path}: the data file is empty")
    needed = needed_columns(spec, header, str(path), group)
    bounds, n_rows = line_chunks(path, chunk_rows)
    if not n_rows:
        raise DataError(f"{path}: the data file has a header but no rows")
    return _table([str(path)], header, needed, spec, group, delimiter, bounds, n_rows), needed


def _parquet_table(spec: DataSpec, path: Path, group: str | None, chunk_rows: int) -> tuple[StreamedTable, list[str]]:
    import pyarrow.parquet as pq

    from dlrun.data.parquet import chosen_columns

    files, needed = chosen_columns(path, lambda columns: needed_columns(spec, columns, str(path), group))
    bounds, first = [], 0
    for index, file in enumerate(files):
        meta = pq.ParquetFile(file).metadata
        for group_index in range(meta.num_row_groups):
            rows = meta.row_group(group_index).num_rows
            if rows:
                bounds.append((index, group_index, 0, first))
                first += rows
    if not first:
        raise DataError(f"{path}: the table has no rows")
    return _table([str(f) for f in files], [], needed, spec, group, ",", np.array(bounds, dtype=np.int64), first), needed


def _table(files, header, needed, spec, group, delimiter, bounds, n_rows) -> StreamedTable:
    reserved = set(spec.targets()) | ({group} if group else set())
    columns = [c for c in needed if c not in reserved]
    text = [c for c in columns if any(fnmatch.fnmatchcase(c, p) for p in spec.categorical)]
    return StreamedTable(files, header, columns, text, delimiter, bounds, n_rows, np.zeros(0, np.uint64))


def line_chunks(path: Path, chunk_rows: int = CHUNK_ROWS) -> tuple[np.ndarray, int]:
    """(per chunk of `chunk_rows` data rows: 0, first byte, end byte, first row; the number of data rows)
    of a CSV file, from its newlines (counted a block at a time; NumPy finds the places of those that end a
    chunk). Line breaks at the end of the file end no row."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - 4096))
        tail = handle.read()
        end = size - (len(tail) - len(tail.rstrip(b"\r\n")))
        handle.seek(0)
        starts, newlines, position = [], 0, 0
        while position < end:
            block = handle.read(min(BLOCK_BYTES, end - position))
            if not block:
                break
            count = block.count(b"\n")
            # newline i ends line i (line 0 is the header); the first of this block's that ends a chunk:
            first = -newlines % chunk_rows
            if first < count:  # only then are the newlines' places needed
                found = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
                starts.extend((found[first::chunk_rows] + position + 1).tolist())
            newlines += count
            position += len(block)
    n_rows = newlines
    ends = starts[1:] + [end]
    bounds = [(0, s, e, i * chunk_rows) for i, (s, e) in enumerate(zip(starts, ends))]
    return np.array(bounds, dtype=np.int64).reshape(-1, 4), n_rows


def _read(table: StreamedTable, chunk: int, columns: list[str], path: Path) -> pd.DataFrame:
    """One chunk of the columns the spec uses; a CSV chunk's bytes are read once, for parsing and for the
    row-length check."""
    first = int(table.bounds[chunk, 3])
    data = table.chunk_bytes(chunk) if table.header else None
    try:
        frame, counted = table.parse_chunk(chunk, columns, data)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc.reason} in the rows from file line {first + 2})") from None
    except pd.errors.ParserError:
        raise DataError(_bad_line(table, first, data) or f"{path}: rows from file line {first + 2} cannot be read") \
            from None
    except Exception as exc:  # pyarrow's errors for a damaged row group
        if not table.header:
            raise DataError(f"{table.files[int(table.bounds[chunk, 0])]}: row group {int(table.bounds[chunk, 1])} "
                            f"cannot be read ({first_line(exc, 200)})") from None
        raise
    if data is not None and not counted:
        message = _bad_line(table, first, data, quick=True)
        if message:
            raise DataError(message)
    return frame


def _bad_line(table: StreamedTable, first: int, data: bytes, quick: bool = False) -> str | None:
    """A CSV chunk's (`data`, whose first row is table row `first`) first line whose number of fields
    differs from the header's (pandas pads a short row with empty cells). `quick`: count the separators
    first, and look line by line only when they do not add up (or quotes may hide some)."""
    width = len(table.header)
    if quick and b'"' not in data:
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        if data.count(table.delimiter.encode()) == (width - 1) * lines:
            return None
    reader = csv.reader(io.StringIO(data.decode("utf-8")), delimiter=table.delimiter)
    for number, row in enumerate(reader, start=first + 2):
        if row and len(row) != width:
            return (f"{table.files[0]}: line {number} has {len(row)} field(s) but the header has {width}; rows do not "
                    f"all have the same number of fields")
    return None


class _Scan:
    """What the pass keeps of every row: target and group values, feature hashes, empty cells."""

    def __init__(self, columns: list[str], reserved: list[str]):
        self.columns, self.reserved = columns, reserved
        self._keys: list[np.ndarray] = []
        self._missing: dict[str, list[np.ndarray]] = {c: [] for c in columns}
        self._values: dict[str, list[pd.Series]] = {c: [] for c in reserved}

    def add(self, features: pd.DataFrame, frame: pd.DataFrame, first: int) -> None:
        numeric = {c: features[c].astype(np.float64) for c in features.columns
                   if pd.api.types.is_numeric_dtype(features[c]) and features[c].dtype != np.float64}
        hashed = features.assign(**numeric) if numeric else features  # 1 and 1.0 in two chunks hash alike
        self._keys.append(pd.util.hash_pandas_object(hashed, index=False).to_numpy())
        empty = features.isna().to_numpy()
        for i in np.flatnonzero(empty.any(axis=0)):
            self._missing[self.columns[i]].append(np.flatnonzero(empty[:, i]) + first)
        for column in self.reserved:
            series = frame[column]
            numbers = pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
            self._values[column].append(series if numbers else series.astype("category"))

    def keys(self) -> np.ndarray:
        return np.concatenate(self._keys)

    def missing_rows(self) -> dict[str, np.ndarray]:
        return {c: np.concatenate(parts) for c, parts in self._missing.items() if parts}

    def reserved_values(self) -> dict[str, np.ndarray]:
        return {c: _joined(parts) for c, parts in self._values.items()}


def _joined(parts: list[pd.Series]) -> np.ndarray:
    """One column from its chunks, typed as a whole read types it: numbers if every chunk is numeric,
    else text (each distinct label held once, so a text target costs a pointer per row)."""
    if all(not isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
        joined = pd.concat(parts, ignore_index=True)
        if pd.api.types.is_integer_dtype(joined):  # class codes such as 0/1: a byte per row, not eight
            joined = pd.to_numeric(joined, downcast="integer")
        return joined.to_numpy()
    from pandas.api.types import union_categoricals

    texts = [p if isinstance(p.dtype, pd.CategoricalDtype) else p.astype(str).where(p.notna()).astype("category")
             for p in parts]
    joined = union_categoricals([t.cat.as_unordered() for t in texts], ignore_order=True)
    return np.asarray(joined, dtype=object)
