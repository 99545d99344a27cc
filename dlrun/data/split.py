"""Holdout split protocol: which rows train, validate and test (indices, saved with the run)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlrun.errors import DataError
from dlrun.spec.models import SplitSpec


COMPACT_ROWS = 200_000
PART_ENCODING = "one byte per row: 0 train, 1 validation, 2 test, 255 none; zlib, then base64"


@dataclass
class Splits:
    """Row indices of each part; disjoint, together covering the dataset."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def to_json(self) -> dict:
        """Lists of row numbers; above COMPACT_ROWS rows (a streamed table of millions), one byte per row
        naming its part, zlib-compressed and base64-encoded — a list of ints per row would be larger
        than the model."""
        parts = ("train", "validation", "test")
        if sum(len(getattr(self, p)) for p in parts) <= COMPACT_ROWS:
            return {part: getattr(self, part).astype(int).tolist() for part in parts}
        import base64
        import zlib

        size = 1 + max(int(getattr(self, p).max()) for p in parts if len(getattr(self, p)))
        part_of = np.full(size, 255, dtype=np.uint8)
        for code, part in enumerate(parts):
            part_of[getattr(self, part)] = code
        return {"part_of_row": {"encoding": PART_ENCODING,
                                "data": base64.b64encode(zlib.compress(part_of.tobytes(), 6)).decode("ascii")}}

    @classmethod
    def from_json(cls, data: dict) -> "Splits":
        if "part_of_row" in data:
            import base64
            import zlib

            part_of = np.frombuffer(zlib.decompress(base64.b64decode(data["part_of_row"]["data"])), dtype=np.uint8)
            return cls(*(np.flatnonzero(part_of == code).astype(np.int64) for code in range(3)))
        return cls(*(np.asarray(data[p], dtype=np.int64) for p in ("train", "validation", "test")))

    @classmethod
    def read(cls, folder) -> "Splits":
        """A run's splits.json, checked: damage names the file (DamagedRunFile)."""
        from dlrun.runs import artifacts

        document = artifacts.read_splits(folder)
        try:
            splits = cls.from_json(document)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise artifacts.damaged(artifacts.splits_path(folder), f"its rows cannot be read ({exc!r:.80})") from None
        if any(len(part) and part.min() < 0 for part in (splits.train, splits.validation, splits.test)):
            raise artifacts.damaged(artifacts.splits_path(folder), "it names negative row numbers")
        return splits

    def sizes(self) -> dict[str, int]:
        return {part: int(len(getattr(self, part))) for part in ("train", "validation", "test")}

    def held_out(self, keep_test_out: bool = False) -> str:
        """The part a model is scored on: test, else validation, else train (the first with rows);
        `keep_test_out` (a sweep's trials): never the test rows, which must not take part in a choice."""
        order = ("validation", "train") if keep_test_out else ("test", "validation", "train")
        return next((part for part in order if len(getattr(self, part))), order[-1])


def part_size(n_rows: int, fraction: float) -> int:
    """How many of `n_rows` a fraction takes: rounded, and at least one row when the fraction is above 0.

    Example:
        >>> part_size(10, 0.2), part_size(3, 0.1), part_size(10, 0.0)
        (2, 1, 0)
    """
    size = int(round(n_rows * fraction))
    return 1 if fraction > 0 and size == 0 else size


def cut_rows(rows: np.ndarray, size: int, labels: np.ndarray | None, seed: int, shuffle: bool):
    """Split `rows` into (rest, taken) with `size` rows taken, stratified by `labels` when given."""
    if size == 0:
        return rows, rows[:0]
    if not shuffle:
        return rows[:-size], rows[-size:]
    from sklearn.model_selection import train_test_split

    strat = labels[rows] if labels is not None else None
    try:
        rest, taken = train_test_split(rows, test_size=size, random_state=seed, shuffle=True, stratify=strat)
    except ValueError as exc:
        if strat is None:
            raise DataError(f"split: {len(rows)} rows are too few for this split ({exc})") from None
        raise DataError(f"split: cannot stratify these rows ({exc}); a class has too few rows — "
                        f"set split.stratify: false or use more data") from None
    return np.sort(rest), np.sort(taken)


def holdout_split(n_rows: int, spec: SplitSpec, seed: int, labels: np.ndarray | None,
                  source_test: np.ndarray | None = None) -> Splits:
    """Train / validation / test indices.

    `labels` (encoded classes) are used to stratify, or None. With `spec.shuffle` false the
    row order is kept and the last rows become validation then test (time-ordered data).
    When the source ships a test part and `use_source_test` is set, that part is the test set.

    Example:
        >>> s = holdout_split(10, SplitSpec(test=0.2, validation=0.2, shuffle=False), 0, None)
        >>> s.sizes()
        {'train': 6, 'validation': 2, 'test': 2}
    """
    rows = np.arange(n_rows, dtype=np.int64)
    if source_test is not None and spec.use_source_test and len(source_test):
        test = np.sort(np.asarray(source_test, dtype=np.int64))
        rest = np.setdiff1d(rows, test)
    else:
        rest, test = cut_rows(rows, part_size(n_rows, spec.test), labels, seed, spec.shuffle)
    n_val = part_size(n_rows, spec.validation)
    if n_val >= len(rest):
        raise DataError(f"split: {n_rows} rows are too few for test {spec.test} and validation {spec.validation}; "
                        f"no rows are left to train on")
    train, validation = cut_rows(rest, n_val, labels, seed + 1, spec.shuffle)
    if len(train) == 0:
        raise DataError(f"split: no rows are left to train on out of {n_rows}")
    return Splits(train, validation, test)
