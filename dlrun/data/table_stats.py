"""Preprocessing statistics of a streamed table from one pass over its training rows.

Means, variances (merged chunk by chunk with Chan's rule), minima, maxima, missing counts and
categories are exact. The median and the most frequent value need every value at once: they come from
a seeded sample of at most SAMPLE_ROWS training rows, kept during the same pass (exact when the
training part is no larger).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlrun.data.table_stream import StreamedTable

SAMPLE_ROWS = 100_000


class _Moments:
    """Per column: count, mean and sum of squared deviations of the observed values; min; max."""

    def __init__(self, width: int):
        self.n = np.zeros(width)
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)
        self.low = np.full(width, np.inf)
        self.high = np.full(width, -np.inf)

    def add(self, values: np.ndarray) -> None:
        seen = ~np.isnan(values)
        n = seen.sum(axis=0).astype(np.float64)
        filled = np.where(seen, values, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, filled.sum(axis=0) / np.maximum(n, 1), 0.0)
        m2 = (np.where(seen, values - mean, 0.0) ** 2).sum(axis=0)
        self.merge(n, mean, m2)
        self.low = np.fmin(self.low, np.nanmin(np.where(seen, values, np.inf), axis=0, initial=np.inf))
        self.high = np.fmax(self.high, np.nanmax(np.where(seen, values, -np.inf), axis=0, initial=-np.inf))

    def merge(self, n: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> None:
        total = self.n + n
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = mean - self.mean
            share = np.where(total > 0, n / np.maximum(total, 1), 0.0)
            self.m2 = self.m2 + m2 + delta ** 2 * self.n * share
            self.mean = self.mean + delta * share
        self.n = total


def streamed_statistics(table: StreamedTable, numeric: list[str], categorical: list[str], impute: str,
                        scale: str, seed: int = 0) -> dict:
    """fill, center, spread (per numeric column), categories and missing counts of `table`'s rows, with
    the same rules as the in-memory `_statistics` (data/preprocess.py)."""
    moments = _Moments(len(numeric))
    seen: dict[str, set] = {c: set() for c in categorical}
    rows = table.table_rows()
    keep = None
    if impute in ("median", "most_frequent") and numeric:
        count = min(SAMPLE_ROWS, len(rows))
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), size=count, replace=False))
    sampled: list[np.ndarray] = []
    for positions, frame in table.frames():
        if numeric:
            values = frame[numeric].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
            moments.add(values)
            if keep is not None:
                hit = np.isin(positions, keep, assume_unique=True)
                sampled.append(values[hit])
        for column in categorical:
            seen[column].update(frame[column].dropna().astype(str).unique().tolist())
    sample = np.concatenate(sampled) if sampled else None
    fill, center, spread = _finish(moments, len(rows), impute, scale, sample)
    return {"fill": fill, "center": center, "spread": spread, "categories": {c: sorted(v) for c, v in seen.items()},
            "missing": table.missing_counts()}


def _finish(moments: _Moments, n_rows: int, impute: str, scale: str, sample: np.ndarray | None):
    width = len(moments.n)
    if not width:
        return [], [], []
    empty = moments.n == 0
    if impute == "mean":
        fill = np.where(empty, 0.0, moments.mean)
    elif impute in ("median", "most_frequent"):
        fill = np.array([_pick(sample[:, i], impute) for i in range(width)])
    else:
        fill = np.zeros(width)
    mean, m2, low, high = moments.mean, moments.m2, moments.low, moments.high
    count = moments.n
    if impute != "none":  # the missing cells count as `fill`, as they are fed
        missing = n_rows - moments.n
        total = moments.n + missing
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, missing / np.maximum(total, 1), 0.0)
            delta = fill - mean
            m2 = m2 + delta ** 2 * moments.n * share
            mean = mean + delta * share
        low = np.where(missing > 0, np.fmin(low, fill), low)
        high = np.where(missing > 0, np.fmax(high, fill), high)
        count = total
    with np.errstate(invalid="ignore", divide="ignore"):
        if scale == "standard":
            center, spread = np.where(count > 0, mean, np.nan), np.sqrt(m2 / count)
        elif scale == "minmax":
            center, spread = low, high - low
        else:
            center, spread = np.zeros(width), np.ones(width)
    center, spread = usable_scaling(center, spread)
    return fill.tolist(), center.tolist(), spread.tolist()


def usable_scaling(center: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre 0 and spread 1 where a statistic is undefined (a column with no value); a constant column's
    spread is 1, so it stays finite. The rule of both fits, in memory and streamed."""
    center = np.where(np.isfinite(center), center, 0.0)
    spread = np.where(np.isfinite(spread), spread, 1.0)
    return center, np.where(spread > 1e-12, spread, 1.0)


def most_frequent(column: np.ndarray) -> float:
    """The commonest value of a column, missing cells left out (0 when none is left; the smallest on a tie)."""
    column = column[~np.isnan(column)]
    if not len(column):
        return 0.0
    values, counts = np.unique(column, return_counts=True)
    return float(values[np.argmax(counts)])


def _pick(column: np.ndarray, how: str) -> float:
    if how == "most_frequent":
        return most_frequent(column)
    column = column[~np.isnan(column)]
    return float(np.median(column)) if len(column) else 0.0
