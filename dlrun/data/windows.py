"""Windows over a time-ordered table: each sample is `lookback` steps of inputs, and its target is
the next `horizon` steps of the target column(s) (forecasting) or the label at its last step
(sequence classification).

Windows are views: the table's steps are held once (raw, then transformed) and a window is only
the position of its last input step (`ends`); a batch is gathered from the steps when it is fed.
A window never crosses from one series into another, and the temporal split leaves a gap so that no
window's inputs or targets reach into the next part.

    table ─order_series─▶ steps + ends per series ─split_in_time─▶ Splits (time order, gaps)
          ─preprocessing fitted on the training windows' steps─▶ transformed steps ─gather─▶ batches
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from dlrun.errors import DataError


@dataclass
class SeriesWindows:
    """Windows over the steps of one or more series (see the module docstring)."""

    steps: object               # every step's input columns: the raw table, or the transformed float32 matrix
    ends: np.ndarray            # per window: the row of its last input step
    lookback: int
    rate: int                   # sampling_rate: steps between two inputs of a window
    horizon: int                # forecasting: steps predicted after the window; classification: 0
    series: np.ndarray          # per window: its series number
    times: np.ndarray           # per step: its time (or row position)
    names: list = field(default_factory=lambda: [None])   # series names, by number
    target_steps: dict = field(default_factory=dict)      # forecasting: target -> raw value per step
    step: object = 1            # the time between two steps (a number, a Timedelta, or "month", "year")

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, rows) -> "SeriesWindows":
        return replace(self, ends=self.ends[rows], series=self.series[rows])

    @property
    def offsets(self) -> np.ndarray:
        """Each input step's position relative to the window's last one."""
        return (np.arange(self.lookback) - (self.lookback - 1)) * self.rate

    @property
    def width(self) -> int:
        return self.steps.shape[1]

    def matrix(self) -> np.ndarray:
        steps = self.steps
        return steps.to_numpy(dtype=np.float32) if isinstance(steps, pd.DataFrame) else steps

    def gather(self, rows=None) -> np.ndarray:
        """The windows' inputs as one array (windows, lookback, columns): a copy of just these."""
        ends = self.ends if rows is None else self.ends[rows]
        return self.matrix()[ends[:, None] + self.offsets]

    def first_steps(self) -> np.ndarray:
        return self.ends - (self.lookback - 1) * self.rate

    def covered(self) -> np.ndarray:
        """The rows of the steps that some window reads as input (the preprocessing is fitted on
        those of the training windows only)."""
        marks = np.zeros(len(self.times) + 1, dtype=np.int64)
        np.add.at(marks, self.first_steps(), 1)
        np.add.at(marks, self.ends + 1, -1)
        return np.flatnonzero(np.cumsum(marks)[:-1] > 0)

    def time_range(self) -> list:
        """[time of the first input step, time of the last target step] of these windows."""
        if not len(self.ends):
            return []
        last = np.minimum(self.ends + self.horizon, len(self.times) - 1)
        return [_plain(self.times[self.first_steps().min()]), _plain(self.times[last.max()])]


def _plain(value):
    """A time as JSON takes it."""
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(pd.Timestamp(value))
    return value.item() if hasattr(value, "item") else value


def window_ends(starts, stops, window, forecasting: bool, where: str, names: list) -> tuple[np.ndarray, np.ndarray]:
    """(ends, series number) of every window of every series: its inputs inside the series and, when
    forecasting, its `horizon` targets too; every `stride`-th one. A series too short is a DataError."""
    span = (window.lookback - 1) * window.sampling_rate
    ahead = window.horizon if forecasting else 0
    ends, series = [], []
    for number, (start, stop) in enumerate(zip(starts, stops)):
        mine = np.arange(start + span, stop - ahead, window.stride, dtype=np.int64)
        if not len(mine):
            who = f"series '{names[number]}'" if names[number] is not None else "the series"
            raise DataError(f"{where}: {who} has {stop - start} rows, but data.window needs at least "
                            f"{span + 1 + ahead} (lookback {window.lookback} × sampling_rate "
                            f"{window.sampling_rate}{f' + horizon {ahead}' if ahead else ''})")
        ends.append(mine)
        series.append(np.full(len(mine), number, dtype=np.int64))
    return np.concatenate(ends), np.concatenate(series)


def split_in_time(windows: SeriesWindows, test: float, validation: float) -> tuple[np.ndarray, ...]:
    """Train, validation and test windows of each series in time order: the test part is the last
    windows, validation the ones just before it that end (targets included) before the test's first
    input step, and train every window that ends before validation's first one. The parts keep their
    sizes; the gaps come out of the training part."""
    from dlrun.data.split import part_size

    parts: list[list[np.ndarray]] = [[], [], []]
    for number in np.unique(windows.series):
        rows = np.flatnonzero(windows.series == number)  # in time order
        test_rows = rows[len(rows) - part_size(len(rows), test):]
        earlier = before(windows, rows[:len(rows) - len(test_rows)], test_rows)
        validation_rows = earlier[len(earlier) - part_size(len(rows), validation):]
        train = before(windows, earlier[:len(earlier) - len(validation_rows)],
                       np.concatenate([validation_rows, test_rows]))
        for index, part in enumerate((train, validation_rows, test_rows)):
            parts[index].append(part)
    train, validation_rows, test_rows = (np.concatenate(p) for p in parts)
    if not len(train):
        raise DataError(f"split: no window is left to train on ({len(windows)} windows; test {test}, validation "
                        f"{validation}, and a gap of {windows.lookback * windows.rate + windows.horizon - 1} steps "
                        f"before each later part); use a longer series or a shorter data.window.lookback")
    return train, validation_rows, test_rows


def before(windows: SeriesWindows, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """The `earlier` windows whose steps (inputs and targets) all come before the first input step of
    the `later` windows of the same series: what a part may hold without seeing a later part's data."""
    if not len(earlier) or not len(later):
        return earlier
    first = np.full(len(windows.names), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, windows.series[later], windows.first_steps()[later])
    keep = windows.ends[earlier] + windows.horizon < first[windows.series[earlier]]
    return earlier[keep]


def steps_ahead(windows: SeriesWindows, rows: np.ndarray) -> np.ndarray:
    """The time of each window's first forecast step (the step after its last input)."""
    nxt = np.minimum(windows.ends[rows] + 1, len(windows.times) - 1)
    return windows.times[nxt]


def time_order(windows: SeriesWindows, starts: np.ndarray, timed: bool) -> np.ndarray:
    """The windows' order by the time of their last input step, then series (with no time column,
    by the step's position in its own series): folds over windows walk forward in time."""
    when = windows.times[windows.ends] if timed else windows.ends - starts[windows.series]
    return np.lexsort((windows.series, when))


class GatheredWindows:
    """Windows indexed as if they were the array (windows, lookback, columns): rows are gathered
    when asked for, never all at once (NumPy batches on JAX)."""

    def __init__(self, windows: SeriesWindows):
        self.windows = windows

    @property
    def shape(self) -> tuple:
        return (len(self.windows), self.windows.lookback, self.windows.width)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, rows):
        return self.windows.gather(np.asarray(rows))


def window_batches(windows: SeriesWindows, y, rows_batches):
    """A tf.data pipeline of (inputs, targets) — or (inputs,) without `y` — for batches of window
    numbers: the steps become one tensor, each batch's windows are gathered from it."""
    import tensorflow as tf

    from dlrun.data.tf_data import settled

    steps = tf.convert_to_tensor(windows.matrix())
    ends, offsets = tf.convert_to_tensor(windows.ends), tf.convert_to_tensor(windows.offsets)
    targets = None if y is None else tf.nest.map_structure(tf.convert_to_tensor, y)

    def gather(rows):
        x = tf.gather(steps, tf.gather(ends, rows)[:, None] + offsets)
        return (x,) if targets is None else (x, tf.nest.map_structure(lambda t: tf.gather(t, rows), targets))

    return settled(rows_batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                   .prefetch(tf.data.AUTOTUNE))
