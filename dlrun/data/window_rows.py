"""New rows of a window run (data.window) for `dlrun predict`: the recent steps of each series, put in
time order with the run's time, series and fill (data/time_index.py), and one window per series that
ends at its last row. A forecast's rows are each series' next `horizon` steps, at the times that follow
its last one (last time + k × step: a number, a Timedelta, or calendar months, quarters or years); a
window classifier's rows are one per series, the class of its last window.

The file's columns meet the rule of new rows (data/saved_inputs.py, `new_table_columns`): the time and
series columns and every input column of the windows must be there; any other column is ignored, with
a note.

Example:
    >>> from types import SimpleNamespace
    >>> window = SimpleNamespace(time="t", series=None, lookback=2, sampling_rate=1, fill="error")
    >>> frame = pd.DataFrame({"t": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
    >>> recent = recent_windows(frame, window, ["x"], 2, "new.csv")
    >>> recent.windows.ends.tolist(), recent.index.to_dict("list")
    ([2], {'t': [4, 5], 'step': [1, 2]})
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dlrun.data.saved_inputs import new_table_columns
from dlrun.data.time_index import CALENDAR_STEPS, OrderedSeries, order_series
from dlrun.data.windows import SeriesWindows
from dlrun.errors import DataError

STEP_COLUMN = "step"  # the forecast's step ahead, 1..horizon
MONTHS = {name: months for name, months, _, _ in CALENDAR_STEPS}
NAMED_SERIES = 5      # short series an error names before it counts the rest


@dataclass
class RecentWindows:
    """One window per series, ending at its last row, and what each row of the predictions stands for."""

    windows: SeriesWindows     # the raw steps of the file (in time order, filled) and one window per series
    index: pd.DataFrame        # per prediction row: the series, the time, and (forecasts) the step ahead
    notes: list[str]           # columns ignored


def read_recent(paths, window, columns: list[str], horizon: int) -> RecentWindows:
    """`recent_windows` over one table file (CSV or Parquet); `paths`: the command line's files."""
    from dlrun.data.sources import read_table_file

    paths = [Path(p) for p in paths] if isinstance(paths, (list, tuple)) else [Path(paths)]
    if len(paths) != 1:
        raise DataError(f"{len(paths)} data files given; a window run predicts from one table file of recent rows")
    frame = read_table_file(paths[0])
    frame.columns = [str(c) for c in frame.columns]
    return recent_windows(frame, window, columns, horizon, str(paths[0]))


def recent_windows(frame: pd.DataFrame, window, columns: list[str], horizon: int, where: str) -> RecentWindows:
    """The window that ends at each series' last row of `frame`, over the input `columns` (the run's
    preprocessor's), and the prediction rows: `horizon` per series (a forecast) or one (horizon 0: a
    window classifier). A series with fewer rows than a window spans is a DataError naming it."""
    keys = [c for c in (window.time, window.series) if c]
    notes = new_table_columns(list(frame.columns), list(dict.fromkeys([*keys, *columns])), where)
    ordered = order_series(frame[list(dict.fromkeys([*keys, *columns]))], window.time, window.series,
                           window.fill, where)
    need = (window.lookback - 1) * window.sampling_rate + 1
    _check_lengths(ordered, need, window, where)
    ends = (ordered.stops - 1).astype(np.int64)
    windows = SeriesWindows(ordered.frame[columns].copy(), ends, window.lookback, window.sampling_rate, horizon,
                            np.arange(len(ends), dtype=np.int64), np.asarray(ordered.times), list(ordered.names),
                            {}, ordered.step)
    return RecentWindows(windows, _index(ordered, window, horizon, where), notes)


def _check_lengths(ordered: OrderedSeries, need: int, window, where: str) -> None:
    lengths = ordered.stops - ordered.starts
    short = np.flatnonzero(lengths < need)
    if not len(short):
        return
    spans = f"(lookback {window.lookback} × sampling_rate {window.sampling_rate})"
    if window.series is None:
        raise DataError(f"{where}: the series has {int(lengths[0])} row(s), but a window needs its last {need} "
                        f"{spans}; give at least {need} recent rows")
    named = ", ".join(f"'{ordered.names[i]}' ({int(lengths[i])})" for i in short[:NAMED_SERIES])
    more = f", … ({len(short)} series in all)" if len(short) > NAMED_SERIES else ""
    raise DataError(f"{where}: series {named}{more} {'has' if len(short) == 1 else 'have'} fewer rows than a "
                    f"window needs: {need} {spans}; give at least {need} recent rows of each series")


def _index(ordered: OrderedSeries, window, horizon: int, where: str) -> pd.DataFrame:
    """Per prediction row, series after series: the series name, the time it is for (a forecast: the
    step's; a classifier: the last row's) and, forecasting, the step ahead."""
    ahead = np.arange(1, horizon + 1) if horizon else np.zeros(1, dtype=np.int64)
    count = len(ordered.names)
    columns: dict[str, object] = {}
    if window.series is not None:
        columns[window.series] = np.repeat(np.asarray(ordered.names, dtype=object), len(ahead))
    if window.time is not None:
        times = [t for number in range(count) for t in steps_after(ordered, number, ahead, where)]
        columns[window.time] = pd.Series(times) if times and isinstance(times[0], pd.Timestamp) else times
    if horizon:
        columns[STEP_COLUMN if STEP_COLUMN not in columns else f"{STEP_COLUMN}_ahead"] = np.tile(ahead, count)
    return pd.DataFrame(columns, index=range(count * len(ahead)))


def steps_after(ordered: OrderedSeries, number: int, ahead: np.ndarray, where: str) -> list:
    """The times `ahead` steps after the last row of series `number` (0 steps: its last time). Calendar
    steps stay on the series' grid: its month ends, or the day of the month of its first time.

        >>> o = order_series(pd.DataFrame({"d": ["2024-01-31", "2024-02-29"]}), "d", None, "error", "f")
        >>> [str(t.date()) for t in steps_after(o, 0, np.array([1, 2]), "f")]
        ['2024-03-31', '2024-04-30']
    """
    times = ordered.times[ordered.rows_of(number)]
    last, step = times[-1], ordered.step
    if not ahead.any():
        return [_plain(last)]
    if step is None:
        raise DataError(f"{where}: one row per series does not tell the time step; give at least two rows of a "
                        f"series")
    if isinstance(step, str):
        stamps = pd.DatetimeIndex(times)
        months = MONTHS[step] * ahead
        if stamps.is_month_end.all():
            return [stamps[-1] + pd.offsets.MonthEnd(int(m)) for m in months]
        moved = (stamps[-1].year - stamps[0].year) * 12 + stamps[-1].month - stamps[0].month
        return [stamps[0] + pd.DateOffset(months=int(moved + m)) for m in months]
    if isinstance(step, pd.Timedelta):
        return [pd.Timestamp(last) + int(k) * step for k in ahead]
    return [_plain(last + k * step) for k in ahead]


def _plain(value):
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value)
    return value.item() if isinstance(value, np.generic) else value
