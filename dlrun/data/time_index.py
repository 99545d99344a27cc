"""Time-series tables: rows put in time order per series, the checks on their times (they parse, rise,
never repeat, move in whole steps) and the missing steps filled in when data.window.fill asks for it.

A table's time column orders its rows: numbers (a step index, a year) or date/time text, parsed with
pd.to_datetime (one format for the column, guessed from its first value; a datetime column read from
Parquet is taken as it is). An optional series column holds several series in one table: they are kept
in the order of their first row, each one's rows in file order. Within a series the times must rise in
the file. The step is the most common difference between consecutive times of a series, over all the
series together (on a tie, the smaller one); every difference must be a whole number of steps, and one of
more than one step is a gap: an error, unless the fill is "forward" or "interpolate".

Calendar steps: when that most common difference between dates is 28–31 days (89–92, 365–366) and every
series' times sit on its first time's monthly (quarterly, yearly) grid — the same day of the month, cut
to the month's length, and the same time of day; or every time on the last day of its month — the step is
"month" ("quarter", "year") and gaps are counted in those. Otherwise a datetime step is a pd.Timedelta.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlrun.errors import DataError, first_line

FILLS = ("error", "forward", "interpolate")
FILL_HINT = "data.window.fill: forward | interpolate"
CALENDAR_STEPS = (("month", 1, 28, 31), ("quarter", 3, 89, 92), ("year", 12, 365, 366))  # name, months, days
FLOAT_DIGITS = 9            # float time differences are compared to this many significant digits
FLOAT_TOLERANCE = 1e-6      # how far from a whole number of steps a float difference may be


@dataclass
class OrderedSeries:
    """A table in time order, series after series, with its missing steps filled in when asked.

    Example:
        >>> frame = pd.DataFrame({"t": [1, 2, 4], "x": [1.0, 2.0, 4.0]})
        >>> o = order_series(frame, "t", None, "interpolate", "d.csv")
        >>> o.frame["x"].tolist(), o.step, o.filled, o.source_rows.tolist()
        ([1.0, 2.0, 3.0, 4.0], 1, {None: 1}, [1, 2, 0, 3])
    """

    frame: pd.DataFrame        # the ordered (and filled) table, index reset; text times replaced by datetimes
    starts: np.ndarray         # per series: the position in `frame` of its first row
    stops: np.ndarray          # per series: one past the position of its last row
    names: list                # series names in order of first appearance; [None] without a series column
    times: np.ndarray          # the time column of `frame`, or the row positions without a time column
    step: object               # int | float | pd.Timedelta | "month" | "quarter" | "year"; None: no two rows to tell
    filled: dict = field(default_factory=dict)                   # series name -> rows inserted
    source_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # 1-based file row, 0: inserted

    def rows_of(self, index: int) -> slice:
        """The rows of the `index`-th series in `frame`."""
        return slice(int(self.starts[index]), int(self.stops[index]))


@dataclass
class _Table:
    """The table grouped series after series, with what the checks and messages need."""

    where: str
    time: str
    series: str | None
    names: list
    codes: np.ndarray       # per row: its series' index
    starts: np.ndarray
    stops: np.ndarray
    rows: np.ndarray        # per row: its 1-based data row in the file
    raw: np.ndarray         # the time column as the file has it, for messages
    parsed: pd.Series       # the time column as numbers or datetimes, index reset
    values: np.ndarray      # int64 / float64: the numbers, or the datetimes as counts of `unit`
    unit: str | None        # datetimes: what `values` counts ("s", "ms", "us", "ns")

    @property
    def same(self) -> np.ndarray:
        """Per pair of neighbouring rows: whether they are in the same series."""
        return self.codes[1:] == self.codes[:-1]

    def at(self, i: int) -> str:
        name = f" in series {self.names[self.codes[i]]!r}" if self.series is not None else ""
        return f"data row {self.rows[i]}{name}"

    def value(self, i: int) -> str:
        return _shown(self.raw[i])


@dataclass
class _Steps:
    step: object              # as OrderedSeries.step
    counts: np.ndarray        # per row: steps since its series' first row
    amount: object = None     # a fixed step in the units of _Table.values
    months: int | None = None                 # a calendar step: months per step
    month_ends: np.ndarray | None = None      # a calendar step, per series: on the last day of each month


def order_series(frame: pd.DataFrame, time: str | None, series: str | None, fill: str, where: str,
                 forward_columns: Iterable[str] = ()) -> OrderedSeries:
    """The table's rows in time order per series, checked and (with fill "forward" / "interpolate") with
    missing steps inserted; `where` names the file in messages. Without `time`, each series' rows are
    taken in file order. `forward_columns`: numeric columns that "interpolate" fills forward all the same
    (class labels, codes). Raises DataError for a time that does not parse or is missing, times out of
    order or repeated, a difference that is not a whole number of steps, a gap under fill "error", and a
    missing series name."""
    _check_arguments(frame, time, series, fill, where)
    codes, names = _series_codes(frame, series, where)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    starts, stops = bounds[:-1].astype(np.int64), bounds[1:].astype(np.int64)
    grouped = frame.iloc[order].reset_index(drop=True)
    rows = order.astype(np.int64) + 1
    if time is None:
        return OrderedSeries(grouped, starts, stops, names, np.arange(len(grouped)), 1,
                             {name: 0 for name in names}, rows)
    parsed = _read_times(frame[time], time, where).iloc[order].reset_index(drop=True)
    values, unit = _numbers(parsed)
    table = _Table(where, time, series, names, codes[order], starts, stops, rows,
                   frame[time].to_numpy()[order], parsed, values, unit)
    _check_order(table)
    steps = _index_steps(table)
    grouped[time] = parsed
    _check_gaps(table, steps, fill)
    if not len(steps.counts) or np.all(steps.counts[stops - 1] == stops - 1 - starts):
        return OrderedSeries(grouped, starts, stops, names, grouped[time].to_numpy(), steps.step,
                             {name: 0 for name in names}, rows)
    return _filled(table, grouped, steps, fill == "interpolate", set(forward_columns))


def missing_numbers(ordered: OrderedSeries, columns: Iterable[str] | None = None) -> dict[str, tuple[int, int]]:
    """Per numeric column (or per column of `columns`) with missing values in the file's own rows: how many,
    and the first such data row of the file. Inserted rows are not counted (their values are copied).

        >>> o = order_series(pd.DataFrame({"t": [1, 2], "x": [np.nan, 1.0]}), "t", None, "error", "d.csv")
        >>> missing_numbers(o)
        {'x': (1, 1)}
    """
    frame = ordered.frame
    if columns is None:
        columns = [c for c in frame.columns if _is_measurement(frame[c])]
    own = ordered.source_rows > 0
    found = {}
    for column in columns:
        missing = frame[column].isna().to_numpy() & own
        if missing.any():
            found[column] = (int(missing.sum()), int(ordered.source_rows[missing].min()))
    return found


def _check_arguments(frame: pd.DataFrame, time: str | None, series: str | None, fill: str, where: str) -> None:
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, not {fill!r}")
    if time is not None and time == series:
        raise DataError(f"{where}: column '{time}' cannot be both the time and the series column")
    for role, name in (("time", time), ("series", series)):
        if name is not None and name not in frame.columns:
            from dlrun.did_you_mean import suggest

            raise DataError(f"{where}: has no {role} column '{name}'{suggest(name, frame.columns)} "
                            f"(columns: {', '.join(map(str, frame.columns))})")


def _series_codes(frame: pd.DataFrame, series: str | None, where: str) -> tuple[np.ndarray, list]:
    """Per row, the index of its series (in order of first appearance), and the series names."""
    if series is None:
        return np.zeros(len(frame), np.int64), [None]
    column = frame[series]
    missing = column.isna().to_numpy()
    if missing.any():
        raise DataError(f"{where}: series column '{series}' is empty on data row {int(np.flatnonzero(missing)[0]) + 1} "
                        f"({int(missing.sum())} row(s) in all); every row needs the name of its series")
    codes, names = pd.factorize(column, sort=False)
    return codes.astype(np.int64), [_plain(name) for name in names]


def _read_times(column: pd.Series, name: str, where: str) -> pd.Series:
    """The time column as numbers or datetimes (text parsed); a missing or unreadable time is a DataError."""
    missing = column.isna().to_numpy()
    if missing.any():
        raise DataError(f"{where}: time column '{name}' is empty on data row {int(np.flatnonzero(missing)[0]) + 1} "
                        f"({int(missing.sum())} row(s) in all); every row needs a time")
    if pd.api.types.is_bool_dtype(column):
        raise DataError(f"{where}: time column '{name}' holds true/false values; it needs numbers or dates")
    if pd.api.types.is_numeric_dtype(column):
        infinite = ~np.isfinite(column.to_numpy(dtype=np.float64))
        if infinite.any():
            raise DataError(f"{where}: time column '{name}' holds an infinite value on data row "
                            f"{int(np.flatnonzero(infinite)[0]) + 1}")
        return column
    if pd.api.types.is_datetime64_any_dtype(column):
        return column
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": each value parsed on its own
        try:
            parsed = pd.to_datetime(column, errors="coerce")
        except (ValueError, TypeError, OverflowError) as exc:
            raise DataError(f"{where}: time column '{name}' does not read as dates or times: "
                            f"{first_line(exc)}") from None
    failed = parsed.isna().to_numpy()
    if failed.any():
        row = int(np.flatnonzero(failed)[0])
        like = "" if row == 0 or failed[0] else f" like data row 1 ({_shown(column.iloc[0])})"
        raise DataError(f"{where}: time column '{name}' holds {_shown(column.iloc[row])} on data row {row + 1}, "
                        f"which does not read as a date or time{like}")
    return parsed


def _numbers(parsed: pd.Series) -> tuple[np.ndarray, str | None]:
    """The times as int64 / float64 numbers, and for datetimes the unit they count."""
    if pd.api.types.is_datetime64_any_dtype(parsed):
        index = pd.DatetimeIndex(parsed)
        return index.asi8.astype(np.int64), index.unit
    if pd.api.types.is_integer_dtype(parsed):
        return parsed.to_numpy(dtype=np.int64), None
    return parsed.to_numpy(dtype=np.float64), None


def _check_order(t: _Table) -> None:
    """Each series' times rise in the file: the first one that does not is a DataError."""
    bad = np.flatnonzero(t.same & (np.diff(t.values) <= 0))
    if not len(bad):
        return
    i = int(bad[0]) + 1
    before = f"{t.value(i - 1)} on data row {t.rows[i - 1]}"
    if t.values[i] == t.values[i - 1]:
        raise DataError(f"{t.where}: time column '{t.time}' repeats {t.value(i)} on {t.at(i)} (also {before}); "
                        f"each time may appear once per series")
    raise DataError(f"{t.where}: time column '{t.time}' goes back on {t.at(i)}: {t.value(i)} comes after {before}; "
                    f"sort the rows by time{' within each series' if t.series is not None else ''}")


def _index_steps(t: _Table) -> _Steps:
    """The step, and per row the number of steps since its series' first row."""
    diffs = np.diff(t.values)[t.same]
    if not len(diffs):
        return _Steps(None, np.zeros(len(t.values), np.int64))
    amount = _most_common(diffs)
    if t.unit is None:
        return _Steps(amount.item(), _fixed_counts(t, amount, amount.item()), amount)
    step = pd.Timedelta(int(amount), unit=t.unit)
    per_day = pd.Timedelta(days=1) // pd.Timedelta(1, unit=t.unit)
    for name, months, low, high in CALENDAR_STEPS:
        if low * per_day <= amount <= high * per_day:
            calendar = _calendar_steps(t, name, months)
            if isinstance(calendar, _Steps):
                return calendar
            if not _whole_steps(t, amount)[1][t.same].all():  # nor a fixed step: say what the calendar needs
                _not_whole(t, calendar, f"{name}s", f"; for a step of one {name}, the times of a series must "
                           f"all fall on the same day of the month (or all on the last day of their month), "
                           f"at the same time of day")
    return _Steps(step, _fixed_counts(t, amount, step), amount)


def _most_common(diffs: np.ndarray):
    """The most common of the differences (floats: to FLOAT_DIGITS significant digits); the smaller on a tie."""
    if diffs.dtype.kind == "f":
        scale = 10.0 ** (FLOAT_DIGITS - 1 - np.floor(np.log10(diffs)))
        diffs = np.round(diffs * scale) / scale
    values, counts = np.unique(diffs, return_counts=True)
    return values[int(np.argmax(counts))]


def _whole_steps(t: _Table, amount) -> tuple[np.ndarray, np.ndarray]:
    """Per pair of neighbouring rows: the steps of `amount` between them, and whether that is a whole number."""
    diffs = np.diff(t.values)
    if diffs.dtype.kind == "f":
        whole = np.round(diffs / amount)
        return whole, np.abs(diffs / amount - whole) <= FLOAT_TOLERANCE * np.maximum(1.0, whole)
    return diffs // amount, diffs % amount == 0


def _fixed_counts(t: _Table, amount, step) -> np.ndarray:
    whole, ok = _whole_steps(t, amount)
    bad = np.flatnonzero(t.same & ~ok)
    if len(bad):
        _not_whole(t, int(bad[0]) + 1, f"steps of {_step_text(step)}")
    return _counts(t, np.where(t.same, whole, 0).astype(np.int64))


def _counts(t: _Table, steps: np.ndarray) -> np.ndarray:
    """Per row, the steps since its series' first row, from the steps between neighbouring rows."""
    total = np.concatenate([[0], np.cumsum(steps)])
    return total - np.repeat(total[t.starts], t.stops - t.starts)


def _calendar_steps(t: _Table, name: str, months: int) -> _Steps | int:
    """Steps of `months` calendar months when every series' times sit on its first time's grid; else the
    first row off it (of the first series off both grids: the later of its first rows off each)."""
    times = t.parsed
    anchor = times.iloc[np.repeat(t.starts, t.stops - t.starts)].reset_index(drop=True)
    moved = (_month_number(times) - _month_number(anchor)).astype(np.int64)
    on = ((times - times.dt.normalize()).to_numpy() == (anchor - anchor.dt.normalize()).to_numpy()) \
        & (moved % months == 0)
    same_day = on & (times.dt.day.to_numpy() == np.minimum(anchor.dt.day.to_numpy(), times.dt.days_in_month.to_numpy()))
    month_end = on & times.dt.is_month_end.to_numpy()
    month_ends = np.logical_and.reduceat(month_end, t.starts)
    fits = month_ends | np.logical_and.reduceat(same_day, t.starts)
    if fits.all():
        return _Steps(name, moved // months, None, months, month_ends)
    s = int(np.argmin(fits))
    first, last = t.starts[s], t.stops[s]
    return int(first + max(np.argmin(same_day[first:last]), np.argmin(month_end[first:last])))


def _month_number(times: pd.Series) -> np.ndarray:
    return (times.dt.year * 12 + times.dt.month - 1).to_numpy()


def _not_whole(t: _Table, i: int, steps: str, note: str = "") -> None:
    raise DataError(f"{t.where}: time column '{t.time}' moves from {t.value(i - 1)} on data row {t.rows[i - 1]} "
                    f"to {t.value(i)} on {t.at(i)}, which is not a whole number of {steps} "
                    f"(the most common difference between neighbouring times){note}")


def _check_gaps(t: _Table, steps: _Steps, fill: str) -> None:
    if fill != "error" or not len(steps.counts):
        return
    gaps = np.flatnonzero(t.same & (np.diff(steps.counts) > 1))
    if len(gaps):
        i = int(gaps[0]) + 1
        missing = int(steps.counts[i] - steps.counts[i - 1] - 1)
        raise DataError(f"{t.where}: time column '{t.time}' misses {missing} step(s) of {_step_text(steps.step)} "
                        f"before {t.at(i)}: {t.value(i)} follows {t.value(i - 1)} on data row {t.rows[i - 1]}; "
                        f"add the missing rows, or have them filled in with {FILL_HINT}")


def _filled(t: _Table, grouped: pd.DataFrame, steps: _Steps, interpolate: bool, forward: set) -> OrderedSeries:
    """The table with a row inserted at each missing step: a copy of the row before it, its time moved on,
    and (interpolating) its numeric values on the line between the rows either side."""
    k = steps.counts
    lengths = k[t.stops - 1] + 1
    stops = np.cumsum(lengths)
    starts = stops - lengths
    src = np.full(int(stops[-1]), -1, np.int64)
    src[np.repeat(starts, t.stops - t.starts) + k] = np.arange(len(k))
    prev = np.maximum.accumulate(src)  # each series' first row is its own, so this never reaches back a series
    after = np.minimum.accumulate(np.where(src >= 0, src, len(k))[::-1])[::-1]
    inserted = src < 0
    moved = np.arange(len(src)) - np.repeat(starts, lengths) - k[prev]  # steps on from the row before
    out = grouped.iloc[prev].reset_index(drop=True)
    out[t.time] = _moved_times(t, steps, out[t.time], prev, moved, inserted)
    if interpolate:
        weight = np.where(inserted, moved / np.maximum(k[after] - k[prev], 1), 0.0)
        for column in out.columns:
            if column not in (t.time, t.series) and column not in forward and _is_measurement(out[column]):
                values = grouped[column].to_numpy(dtype=np.float64, na_value=np.nan)
                out[column] = np.where(inserted, values[prev] + weight * (values[after] - values[prev]), values[prev])
    filled = {name: int(lengths[s] - (t.stops[s] - t.starts[s])) for s, name in enumerate(t.names)}
    return OrderedSeries(out, starts.astype(np.int64), stops.astype(np.int64), t.names, out[t.time].to_numpy(),
                         steps.step, filled, np.where(inserted, 0, t.rows[np.maximum(src, 0)]))


def _moved_times(t: _Table, steps: _Steps, before: pd.Series, prev: np.ndarray, moved: np.ndarray,
                 inserted: np.ndarray):
    """The times of the filled table: the rows' own, and for an inserted row its row-before's moved on."""
    if steps.months is None and t.unit is None:
        return t.values[prev] + moved * steps.amount
    if steps.months is None:
        return before + pd.to_timedelta(moved * int(steps.amount), unit=t.unit)
    times = before.copy()
    series = t.codes[prev]
    for i in np.flatnonzero(inserted):
        anchor = t.parsed.iloc[t.starts[series[i]]]
        count = int(steps.counts[prev[i]] + moved[i]) * steps.months
        offset = pd.offsets.MonthEnd(count) if steps.month_ends[series[i]] else pd.DateOffset(months=count)
        times.iloc[i] = anchor + offset
    return times


def _is_measurement(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _step_text(step) -> str:
    if isinstance(step, pd.Timedelta):
        for unit, name in (("D", "day"), ("h", "hour"), ("min", "minute"), ("s", "second")):
            count, rest = divmod(step, pd.Timedelta(1, unit=unit))
            if not rest:
                return f"{count} {name}{'s' if count != 1 else ''}"
        return str(step)
    return str(step)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _shown(value) -> str:
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return f"'{pd.Timestamp(value)}'"
    return repr(_plain(value))
