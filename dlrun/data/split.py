"""Holdout split protocol: which rows train, validate and test (indices, saved to splits.json)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlrun.errors import DataError
from dlrun.spec.models import SplitSpec


@dataclass
class Splits:
    """Row indices of each part; disjoint, together covering the dataset."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def to_json(self) -> dict:
        return {part: getattr(self, part).astype(int).tolist() for part in ("train", "validation", "test")}

    @classmethod
    def from_json(cls, data: dict) -> "Splits":
        return cls(*(np.asarray(data[p], dtype=np.int64) for p in ("train", "validation", "test")))

    def sizes(self) -> dict[str, int]:
        return {part: int(len(getattr(self, part))) for part in ("train", "validation", "test")}


def _cut(rows: np.ndarray, size: int, labels: np.ndarray | None, seed: int, shuffle: bool):
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
        n_test = int(round(n_rows * spec.test))
        if spec.test > 0 and n_test == 0:
            n_test = 1
        rest, test = _cut(rows, n_test, labels, seed, spec.shuffle)
    n_val = int(round(n_rows * spec.validation))
    if spec.validation > 0 and n_val == 0:
        n_val = 1
    if n_val >= len(rest):
        raise DataError(f"split: {n_rows} rows are too few for test {spec.test} and validation {spec.validation}; "
                        f"no rows are left to train on")
    train, validation = _cut(rest, n_val, labels, seed + 1, spec.shuffle)
    if len(train) == 0:
        raise DataError(f"split: no rows are left to train on out of {n_rows}")
    return Splits(train, validation, test)
