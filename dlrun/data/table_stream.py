"""Tables read chunk by chunk (`data.streaming: true` for CSV and Parquet): the rows of a dataset that
is never held whole. `StreamedTable` knows where each chunk lies in the files (a CSV's byte ranges, a
Parquet file's row groups); a split part is a view (a sorted list of rows) and the fitted preprocessing
is attached to it, as for image files. Batches come from `batches`: chunks in a seeded order per epoch,
rows mixed `WINDOW_ROWS` at a time, each epoch's order a function of (seed, epoch) alone — so a
resumed run sees exactly the batches an uninterrupted one would. TensorFlow is imported only by
`streamed_dataset`, which feeds the batches to a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from dlrun.data.csv_chunks import parse_chunk

CHUNK_ROWS = 65_536     # rows per CSV chunk (a Parquet chunk is one row group)
WINDOW_ROWS = 262_144   # rows mixed together when shuffling: the chunks' order is shuffled, then each window's rows
READ_AHEAD = 16         # batches made ahead of the model


@dataclass
class StreamedTable:
    """The rows of a CSV or Parquet table, read a chunk at a time, and the facts of one pass over them.

    Example:
        >>> bounds = np.array([[0, 10, 30, 0], [0, 30, 50, 2]])  # file, start, end, first row
        >>> table = StreamedTable(["t.csv"], ["a", "y"], ["a"], [], ",", bounds, 4, np.arange(4, dtype=np.uint64))
        >>> part = table[np.array([1, 3])]
        >>> len(part), part.table_rows().tolist()
        (2, [1, 3])
    """

    files: list[str]
    header: list[str]                  # CSV: every column of the header (a chunk has none); Parquet: unused
    columns: list[str]                 # the feature columns, in the table's order
    text_columns: list[str]            # read as text (data.categorical)
    delimiter: str
    bounds: np.ndarray                 # per chunk: file index, start (CSV byte / row group), end byte, first row
    n_total: int                       # rows of the whole table
    keys: np.ndarray                   # per table row: a hash of its features (equal rows, equal keys)
    missing: dict[str, np.ndarray] = field(default_factory=dict)  # column -> table rows where it is empty
    rows: np.ndarray | None = None     # the table rows of this view, ascending (None: every row)
    preprocessor: Any = None           # the fitted FeaturePreprocessor: chunks come out transformed
    shaper: Callable | None = None     # transformed array -> the model's inputs (model_inputs)

    def __len__(self) -> int:
        return self.n_total if self.rows is None else len(self.rows)

    @property
    def shape(self) -> tuple[int]:
        return (len(self),)

    def __getitem__(self, positions) -> "StreamedTable":
        positions = np.asarray(positions)
        rows = positions if self.rows is None else self.rows[positions]  # a part of the whole table: no copy
        if len(rows) > 1 and np.any(np.diff(rows) <= 0):
            raise ValueError("a streamed table's rows are taken in ascending order, each once")
        return replace(self, rows=rows)

    def table_rows(self) -> np.ndarray:
        return np.arange(self.n_total, dtype=np.int64) if self.rows is None else self.rows

    def transformed(self, preprocessor) -> "StreamedTable":
        """The rows as the model reads them; the row hashes and empty cells (for the audit) stay with the
        raw table, so they are freed with it."""
        return replace(self, preprocessor=preprocessor, keys=self.keys[:0], missing={})

    def shaped(self, shaper: Callable) -> "StreamedTable":
        return replace(self, shaper=shaper)

    # ---- reading -------------------------------------------------------------------------
    def chunk_bytes(self, chunk: int) -> bytes:
        """A CSV chunk's lines as they are in the file."""
        file, start, end, _ = (int(v) for v in self.bounds[chunk])
        with open(self.files[file], "rb") as handle:
            handle.seek(start)
            return handle.read(end - start)

    def read_chunk(self, chunk: int, columns: list[str] | None = None, data: bytes | None = None) -> pd.DataFrame:
        """Every row of one chunk (the feature columns, or `columns`), with a fresh 0-based index; `data`:
        the CSV chunk's bytes when the caller has read them already."""
        return self.parse_chunk(chunk, columns, data)[0]

    def parse_chunk(self, chunk: int, columns: list[str] | None = None,
                    data: bytes | None = None) -> tuple[pd.DataFrame, bool]:
        """read_chunk's rows, and whether every line of a CSV chunk was seen to hold the header's number of
        fields (csv_chunks.py: Arrow parsed it; pandas pads a short row, so its chunks are checked after)."""
        file, start, _, _ = (int(v) for v in self.bounds[chunk])
        columns = self.columns if columns is None else columns
        if self.header:  # CSV: the chunk's bytes, parsed on their own
            data = self.chunk_bytes(chunk) if data is None else data
            return parse_chunk(data, self.header, columns, self.text_columns, self.delimiter)
        import pyarrow.parquet as pq

        frame = pq.ParquetFile(self.files[file]).read_row_group(start, columns=columns).to_pandas()
        if not isinstance(frame.index, pd.RangeIndex):  # a named index saved with the table is one of its columns
            frame = frame.reset_index()
        frame.columns = [str(c) for c in frame.columns]
        return frame[columns].reset_index(drop=True), True

    def _spans(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first row of each chunk, and the positions lo:hi of this view's rows that fall in it)."""
        firsts = self.bounds[:, 3]
        ends = np.append(firsts[1:], self.n_total)
        rows = self.table_rows()
        return firsts, np.searchsorted(rows, firsts), np.searchsorted(rows, ends)

    def frames(self, shuffle: bool = False, seed: int = 0, epoch: int = 0) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
        """(positions in this view, their raw feature rows), a chunk at a time: in file order, or the
        chunks in an order drawn from (seed, epoch). A chunk without rows of this view is never read."""
        firsts, lo, hi = self._spans()
        rows = self.table_rows()
        chunks = np.flatnonzero(hi > lo)
        if shuffle:
            chunks = np.random.default_rng([seed, epoch]).permutation(chunks)
        for chunk in chunks:
            positions = np.arange(lo[chunk], hi[chunk])
            yield positions, self.read_chunk(int(chunk)).iloc[rows[positions] - firsts[chunk]].reset_index(drop=True)

    def read(self) -> pd.DataFrame:
        """This view's raw rows as one table (a few rows: --smoke, export checks; not for a whole part)."""
        parts = [frame for _, frame in self.frames()]
        return pd.concat(parts, ignore_index=True) if parts else self.read_chunk(0).iloc[:0]

    def missing_counts(self) -> dict[str, int]:
        """Empty cells per column among this view's rows."""
        counts = {}
        for column, where in self.missing.items():
            n = count_in_sorted(where, self.rows) if self.rows is not None else len(where)
            if n:
                counts[column] = n
        return counts

    # ---- batches -------------------------------------------------------------------------
    def arrays(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw rows → the fitted transform's float32 samples."""
        return self.preprocessor.transform(frame, where=str(self.files[0]))

    def batches(self, y, batch_size: int, shuffle: bool, seed: int, epochs: int = 1, start_epoch: int = 0):
        """The batches of epochs start_epoch..epochs-1 back to back: model inputs, with y (indexed by
        position in this view, a list/tuple for several outputs) when it is not None. Each chunk is
        transformed as it is read; shuffled, the transformed rows of WINDOW_ROWS at a time are mixed by
        (seed, epoch, window). Every batch of an epoch is full but its last, as with in-memory data."""
        y = tuple(y) if isinstance(y, list) else y
        for epoch in range(start_epoch, epochs):
            held: list[tuple[np.ndarray, np.ndarray]] = []
            count = 0
            for positions, x in self._samples(shuffle, seed, epoch):
                held.append((positions, x))
                count += len(positions)
                while count >= batch_size:
                    positions, x, held = _cut(held, batch_size)
                    count -= batch_size
                    yield self._batch(positions, x, y)
            if count:
                positions, x, _ = _cut(held, count)
                yield self._batch(positions, x, y)

    def _samples(self, shuffle: bool, seed: int, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(positions, transformed samples) of one epoch: per chunk, or mixed a window at a time."""
        pending: list[tuple[np.ndarray, np.ndarray]] = []
        count = window = 0
        for positions, frame in self.frames(shuffle, seed, epoch):
            x = self.arrays(frame)
            if not shuffle:
                yield positions, x
                continue
            pending.append((positions, x))
            count += len(positions)
            if count >= WINDOW_ROWS:
                yield _mixed(pending, seed, epoch, window)
                pending, count, window = [], 0, window + 1
        if pending:
            yield _mixed(pending, seed, epoch, window)

    def _batch(self, positions: np.ndarray, x: np.ndarray, y):
        inputs = self.shaper(x) if self.shaper is not None else x
        if y is None:
            return inputs
        return inputs, (tuple(t[positions] for t in y) if isinstance(y, tuple) else y[positions])


def count_in_sorted(values: np.ndarray, ordered: np.ndarray) -> int:
    """How many of `values` are in the ascending array `ordered`: a binary search each, no set or sort of
    millions built.

    Example:
        >>> count_in_sorted(np.array([3, 5, 9]), np.array([1, 3, 4, 9]))
        2
    """
    if not len(ordered):
        return 0
    at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return int((ordered[at] == values).sum())


def streamed_dataset(x: StreamedTable, y, batch_size: int, shuffle: bool, seed: int, epochs: int,
                     start_epoch: int = 0):
    """A streamed table's batches (StreamedTable.batches) as a tf.data pipeline; the file is read and
    transformed ahead by a thread of our own (data/read_ahead.py says why not tf.data's prefetch) while
    the model trains on the batches before."""
    import tensorflow as tf

    from dlrun.data.read_ahead import read_ahead
    from dlrun.data.tf_data import settled

    y = tuple(y) if isinstance(y, list) else y
    head = x[np.arange(min(len(x), 2))]  # the first rows give the batches' types and shapes
    y_head = None if y is None else tuple(t[:len(head)] for t in y) if isinstance(y, tuple) else y[:len(head)]
    sample = next(head.batches(y_head, len(head), False, 0))
    signature = tf.nest.map_structure(lambda a: tf.TensorSpec((None, *np.shape(a)[1:]), tf.as_dtype(np.asarray(a).dtype)),
                                      sample)
    batches = tf.data.Dataset.from_generator(
        lambda: read_ahead(x.batches(y, batch_size, shuffle, seed, epochs, start_epoch), READ_AHEAD),
        output_signature=signature)
    count = (epochs - start_epoch) * -(-len(x) // batch_size)  # stated, so Keras knows where the data ends
    return settled(batches.apply(tf.data.experimental.assert_cardinality(count)), python_source=True)


def _mixed(pending: list[tuple[np.ndarray, np.ndarray]], seed: int, epoch: int, window: int):
    positions = np.concatenate([p for p, _ in pending])
    x = np.concatenate([a for _, a in pending])
    order = np.random.default_rng([seed, epoch, window, 1]).permutation(len(positions))
    return positions[order], x[order]


def _cut(held: list[tuple[np.ndarray, np.ndarray]], size: int):
    """The first `size` rows of the held pieces, and what is left of them."""
    taken_p, taken_x, rest, need = [], [], [], size
    for positions, x in held:
        if need >= len(positions):
            taken_p.append(positions)
            taken_x.append(x)
            need -= len(positions)
        elif need > 0:
            taken_p.append(positions[:need])
            taken_x.append(x[:need])
            rest.append((positions[need:], x[need:]))
            need = 0
        else:
            rest.append((positions, x))
    positions = taken_p[0] if len(taken_p) == 1 else np.concatenate(taken_p)
    x = taken_x[0] if len(taken_x) == 1 else np.concatenate(taken_x)
    return positions, x, rest
