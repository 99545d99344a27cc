"""order_series: time-series tables put in order per series, their times checked, missing steps filled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlrun.data.time_index import missing_numbers, order_series
from dlrun.errors import DataError


def order(frame: dict, time="t", series=None, fill="error", **kw):
    return order_series(pd.DataFrame(frame), time, series, fill, "sales.csv", **kw)


def refused(frame: dict, time="t", series=None, fill="error") -> str:
    with pytest.raises(DataError) as caught:
        order(frame, time, series, fill)
    message = str(caught.value)
    assert message.startswith("sales.csv: ") and "\n" not in message
    return message


# ---- numbers, dates, calendar steps ---------------------------------------------------------------

def test_integer_times_in_order_keep_the_file_as_it_is():
    o = order({"t": [3, 4, 5, 6], "x": [1.0, 2.0, 3.0, 4.0]})
    assert o.step == 1 and isinstance(o.step, int)
    assert o.names == [None] and o.filled == {None: 0}
    assert o.starts.tolist() == [0] and o.stops.tolist() == [4]
    assert o.times.tolist() == [3, 4, 5, 6]
    assert o.source_rows.tolist() == [1, 2, 3, 4]
    assert o.frame["x"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_years_as_numbers_step_by_one_and_float_steps_are_read_to_nine_digits():
    assert order({"t": [1990, 1991, 1992]}).step == 1
    o = order({"t": [0.1, 0.2, 0.3, 0.4]})
    assert o.step == pytest.approx(0.1) and o.filled == {None: 0}


def test_date_text_is_parsed_and_its_step_is_a_timedelta():
    o = order({"t": ["2024-03-01", "2024-03-02", "2024-03-03"], "x": [1, 2, 3]})
    assert o.step == pd.Timedelta(days=1)
    assert pd.api.types.is_datetime64_any_dtype(o.frame["t"])
    assert o.times.dtype.kind == "M"
    assert pd.Timestamp(o.times[2]) == pd.Timestamp("2024-03-03")


def test_hourly_times_step_by_an_hour():
    o = order({"t": ["2024-03-01 00:00", "2024-03-01 01:00", "2024-03-01 02:00"]})
    assert o.step == pd.Timedelta(hours=1)


def test_month_starts_and_month_ends_step_by_a_month():
    assert order({"t": ["2023-11-01", "2023-12-01", "2024-01-01", "2024-02-01", "2024-03-01"]}).step == "month"
    assert order({"t": ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"]}).step == "month"


def test_years_as_dates_step_by_a_year_across_a_leap_year():
    assert order({"t": ["2019-06-30", "2020-06-30", "2021-06-30", "2022-06-30"]}).step == "year"


def test_thirty_day_steps_that_drift_through_the_month_stay_a_timedelta():
    times = pd.date_range("2024-01-01", periods=5, freq="30D").strftime("%Y-%m-%d").tolist()
    assert order({"t": times}).step == pd.Timedelta(days=30)


def test_a_datetime_column_from_parquet_is_taken_as_it_is():
    o = order({"t": pd.date_range("2024-01-01", periods=3, freq="D"), "x": [1, 2, 3]})
    assert o.step == pd.Timedelta(days=1)


# ---- series ---------------------------------------------------------------------------------------

def test_two_series_interleaved_are_grouped_in_order_of_first_appearance():
    o = order({"store": ["b", "a", "b", "a", "b"], "t": [1, 1, 2, 2, 3], "x": [10, 20, 11, 21, 12]},
              series="store")
    assert o.names == ["b", "a"]
    assert o.starts.tolist() == [0, 3] and o.stops.tolist() == [3, 5]
    assert o.frame["x"].tolist() == [10, 11, 12, 20, 21]
    assert o.source_rows.tolist() == [1, 3, 5, 2, 4]
    assert o.frame["x"].iloc[o.rows_of(1)].tolist() == [20, 21]
    assert o.filled == {"b": 0, "a": 0}


def test_series_names_that_are_numbers_come_back_as_plain_numbers():
    o = order({"id": [7, 3, 7], "t": [1, 1, 2]}, series="id")
    assert o.names == [7, 3] and type(o.names[0]) is int


def test_a_missing_series_name_is_refused_with_its_row():
    message = refused({"store": ["a", None, "a"], "t": [1, 2, 3]}, series="store")
    assert "series column 'store'" in message and "data row 2" in message


def test_without_a_time_column_rows_are_taken_in_file_order():
    o = order({"store": ["a", "b", "a", "b"], "x": [4, 3, 2, 1]}, time=None, series="store")
    assert o.frame["x"].tolist() == [4, 2, 3, 1]
    assert o.times.tolist() == [0, 1, 2, 3]
    assert o.step == 1 and o.source_rows.tolist() == [1, 3, 2, 4]


# ---- order and repeats ----------------------------------------------------------------------------

def test_unsorted_times_name_column_series_row_and_both_values():
    message = refused({"store": ["a", "b", "a", "a"], "t": [1, 1, 3, 2]}, series="store")
    assert "time column 't'" in message and "series 'a'" in message
    assert "goes back on data row 4" in message and "2 comes after 3 on data row 3" in message
    assert "sort the rows by time within each series" in message


def test_unsorted_date_text_is_quoted_as_the_file_has_it():
    message = refused({"t": ["2024-01-02", "2024-01-01"]})
    assert "data row 2" in message and "'2024-01-01' comes after '2024-01-02' on data row 1" in message
    assert "series" not in message


def test_a_repeated_time_is_refused_naming_both_rows():
    message = refused({"store": ["a", "a", "b", "a"], "t": [1, 2, 2, 2]}, series="store")
    assert "repeats 2 on data row 4 in series 'a'" in message and "also 2 on data row 2" in message


def test_the_same_time_in_two_series_is_fine():
    assert order({"store": ["a", "b"], "t": [1, 1]}, series="store").step is None


# ---- gaps -----------------------------------------------------------------------------------------

GAP = {"store": ["a", "b", "a", "b", "a", "b"], "t": [1, 1, 2, 2, 5, 3],
       "x": [1.0, 10.0, 2.0, 20.0, 5.0, 30.0], "kind": ["p", "q", "r", "s", "u", "v"], "label": [0, 1, 1, 0, 3, 1]}


def test_a_gap_is_refused_by_default_with_the_fill_hint():
    message = refused(GAP, series="store")
    assert "time column 't'" in message and "misses 2 step(s) of 1 before data row 5 in series 'a'" in message
    assert "5 follows 2 on data row 3" in message
    assert "data.window.fill: forward | interpolate" in message


def test_fill_forward_copies_the_row_before_each_missing_step():
    o = order(GAP, series="store", fill="forward")
    a = o.frame.iloc[o.rows_of(0)]
    assert a["t"].tolist() == [1, 2, 3, 4, 5]
    assert a["x"].tolist() == [1.0, 2.0, 2.0, 2.0, 5.0]
    assert a["kind"].tolist() == ["p", "r", "r", "r", "u"]
    assert o.filled == {"a": 2, "b": 0}
    assert o.starts.tolist() == [0, 5] and o.stops.tolist() == [5, 8]
    assert o.source_rows.tolist() == [1, 3, 0, 0, 5, 2, 4, 6]
    assert o.times.tolist() == [1, 2, 3, 4, 5, 1, 2, 3]


def test_fill_interpolate_draws_numbers_on_a_line_and_copies_the_rest():
    o = order(GAP, series="store", fill="interpolate", forward_columns=["label"])
    a = o.frame.iloc[o.rows_of(0)]
    assert a["x"].tolist() == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])
    assert a["kind"].tolist() == ["p", "r", "r", "r", "u"]
    assert a["label"].tolist() == [0, 1, 1, 1, 3]
    assert o.frame["x"].iloc[o.rows_of(1)].tolist() == [10.0, 20.0, 30.0]


def test_fill_interpolate_fills_date_gaps_with_the_missing_dates():
    o = order({"t": ["2024-01-01", "2024-01-02", "2024-01-05"], "x": [0.0, 1.0, 4.0]}, fill="interpolate")
    assert o.frame["t"].dt.strftime("%m-%d").tolist() == ["01-01", "01-02", "01-03", "01-04", "01-05"]
    assert o.frame["x"].tolist() == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])
    assert o.filled == {None: 2} and o.source_rows.tolist() == [1, 2, 0, 0, 3]


def test_a_missing_month_end_is_filled_with_the_end_of_that_month():
    o = order({"t": ["2024-01-31", "2024-02-29", "2024-04-30"], "x": [1.0, 2.0, 4.0]}, fill="interpolate")
    assert o.step == "month"
    assert o.frame["t"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"]
    assert o.frame["x"].tolist() == pytest.approx([1.0, 2.0, 3.0, 4.0])


def test_a_missing_month_is_a_gap_named_in_months():
    message = refused({"t": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-05-01"]})
    assert "misses 1 step(s) of month before data row 4" in message


def test_a_difference_that_is_not_a_whole_number_of_steps_is_refused_whatever_the_fill():
    for fill in ("error", "forward", "interpolate"):
        message = refused({"store": ["a"] * 4, "t": [0, 2, 4, 7]}, series="store", fill=fill)
        assert "time column 't' moves from 4 on data row 3 to 7 on data row 4 in series 'a'" in message
        assert "not a whole number of steps of 2" in message


def test_a_month_series_off_its_day_says_what_a_month_step_needs():
    message = refused({"t": ["2024-01-15", "2024-02-15", "2024-03-15", "2024-04-18"]}, fill="forward")
    assert "data row 4" in message and "same day of the month" in message


# ---- unreadable times -----------------------------------------------------------------------------

def test_date_text_that_does_not_parse_is_refused_with_its_row_and_value():
    message = refused({"t": ["2024-01-01", "2024-01-02", "soon", "2024-01-04"]})
    assert "time column 't' holds 'soon' on data row 3" in message and "date or time" in message


def test_a_missing_time_is_refused_with_its_row():
    message = refused({"t": [1.0, np.nan, 3.0]})
    assert "time column 't' is empty on data row 2" in message


def test_an_unknown_column_is_refused_with_a_suggestion():
    message = refused({"time": [1, 2]}, time="tme")
    assert "'tme'" in message and "did you mean 'time'" in message


# ---- missing values -------------------------------------------------------------------------------

def test_missing_numbers_of_the_files_own_rows_are_kept_and_reported_by_file_row():
    o = order({"store": ["a", "b", "a", "b"], "t": [1, 1, 2, 3], "x": [1.0, 2.0, np.nan, np.nan]},
              series="store", fill="forward")
    assert np.isnan(o.frame["x"].iloc[1])
    assert missing_numbers(o) == {"x": (2, 3)}
    assert missing_numbers(o, ["t"]) == {}
