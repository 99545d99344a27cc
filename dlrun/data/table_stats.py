"""Preprocessing statistics of a streamed table from one pass over its training rows.

Means, variances (merged chunk by chunk with Chan's rule), minima, maxima, missing counts and
categories are exact. The median and the most frequent value need every value at once: they come from
a seeded sample of at most SAMPLE_ROWS training rows, kept during the same pass (exact when the
training part is no larger).

Also here, because both fits (in memory and streamed) use them: `category_text`, the one way a cell
of a categorical column names its category, and `column_spread`, how many values each feature column
takes (the leakage audit asks it whether repeated rows are to be expected).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlrun.data.image_files import ImageFiles
from dlrun.data.table_stream import StreamedTable

SAMPLE_ROWS = 100_000
SPREAD_ROWS = 20_000  # rows the spread of the feature columns is measured on


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
            seen[column].update(v for v in category_text(frame[column]) if v is not None)
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


def category_text(values: pd.Series) -> np.ndarray:
    """Each cell of a categorical column as the text that names its category (None where it is missing):
    a number by its value — 1, 1.0 and '1.0' are the category '1', 0.5 is '0.5' — anything else as
    written. So a column of codes names the same categories whether a file was read as numbers or as
    text (a streamed chunk, a file with a gap, which pandas reads as floats).

        >>> category_text(pd.Series([1.0, None, "red", "2", 0.5])).tolist()
        ['1', None, 'red', '2', '0.5']
    """
    present = values.notna().to_numpy()
    text = values.astype(str).to_numpy(dtype=object)
    if pd.api.types.is_bool_dtype(values):
        numbers = np.full(len(values), np.nan)
    elif pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:  # text, or numbers and text mixed; True and False stay words (pandas would read them as 1 and 0)
        truth = np.fromiter((isinstance(v, (bool, np.bool_)) for v in values.to_numpy(dtype=object)), bool, len(values))
        numbers = pd.to_numeric(values.where(~truth), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        number = np.isfinite(numbers)
        whole = number & (numbers == np.round(numbers)) & (np.abs(numbers) < 1e15)
    if number.any():
        text[number] = [repr(float(v)) for v in numbers[number]]
        text[whole] = numbers[whole].astype(np.int64).astype(str)
    text[~present] = None
    return text


def column_spread(x, rows_at_most: int = SPREAD_ROWS) -> list[tuple[int, float]] | None:
    """Per feature column (a table's columns, an array's positions), over at most `rows_at_most` rows
    spread evenly through `x` (a streamed table: its first rows, so that one chunk is read): how many
    distinct values it takes, and the chance that two rows picked at random agree on it (the sum of the
    squared shares of its values; a missing cell counts as a value). None for features without columns
    (image files, texts): a repeated picture or text is a copy."""
    if isinstance(x, ImageFiles):
        return None
    n = len(x) if isinstance(x, (StreamedTable, pd.DataFrame)) else len(np.asarray(x)) if np.ndim(x) else 0
    rows = np.unique(np.linspace(0, max(n - 1, 0), min(n, rows_at_most)).astype(np.int64))
    if isinstance(x, StreamedTable):
        frame = x[np.arange(min(n, rows_at_most))].read()
    elif isinstance(x, pd.DataFrame):
        frame = x.iloc[rows]
    else:
        array = np.asarray(x)
        if array.ndim < 1 or (array.dtype == object and array.ndim == 1):
            return None
        frame = pd.DataFrame(array[rows].reshape(len(rows), -1))
    spread = []
    for _, column in frame.items():
        counts = column.value_counts(dropna=False).to_numpy(dtype=np.float64)
        share = counts / max(counts.sum(), 1.0)
        spread.append((len(counts), float((share ** 2).sum())))
    return spread
