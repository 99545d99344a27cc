"""Forecast scores on tiny series whose every number is worked out by hand in the comments."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dlrun.report.evaluation import _fmt
from dlrun.report.forecast import (forecast_lines, forecast_plot, forecast_scores, mase_scale, naive_forecasts,
                                   step_series)

approx = pytest.approx
SERIES = np.arange(20, dtype=np.float64)  # values[i] == i: every forecast below is an index
ENDS = np.array([5, 9])                   # the last input steps of two windows


def test_persistence_repeats_the_last_input_value():
    naive = naive_forecasts(SERIES, ENDS, 6, None, 7.5)
    assert naive["persistence"].tolist() == [[5.0] * 6, [9.0] * 6]


def test_seasonal_naive_takes_the_value_one_season_before_the_forecast_time():
    # season 4, step k takes values[end + k - 4 * ceil(k / 4)]: offsets -3, -2, -1, 0, then -3, -2 again
    naive = naive_forecasts(SERIES, ENDS, 6, 4, 7.5)
    assert naive["seasonal_naive"].tolist() == [[2, 3, 4, 5, 2, 3],
                                                [6, 7, 8, 9, 6, 7]]
    # the forecast of time 10 (end 9, step 1) is the value at time 6: one season earlier
    assert naive["seasonal_naive"][1, 0] == 10 - 4


def test_seasonal_naive_needs_a_season_of_history_in_every_window():
    # end 3: end + 1 - 4 = 0, just enough (step 1 reads index 0); end 2 reaches index -1
    assert naive_forecasts(SERIES, np.array([3, 9]), 2, 4, 0.0)["seasonal_naive"].tolist() == [[0, 1], [6, 7]]
    assert "seasonal_naive" not in naive_forecasts(SERIES, np.array([2, 9]), 2, 4, 0.0)
    assert "seasonal_naive" not in naive_forecasts(SERIES, ENDS, 2, None, 0.0)


def test_mean_forecast_is_the_training_mean_everywhere():
    naive = naive_forecasts(SERIES, ENDS, 3, 4, 7.5)
    assert naive["mean"].shape == (2, 3)
    assert np.all(naive["mean"] == 7.5)
    assert list(naive) == ["persistence", "seasonal_naive", "mean"]


def test_mase_scale_is_the_in_sample_naive_mae():
    assert mase_scale(SERIES, None) == 1.0      # |i - (i-1)| = 1 everywhere
    assert mase_scale(SERIES, 4) == 4.0         # |i - (i-4)| = 4 everywhere
    # pairs (1, 3) → 2 and (3, 7) → 4: mean 3
    assert mase_scale(np.array([1.0, 3.0, 7.0]), None) == 3.0


def test_mase_scale_skips_nan_pairs_and_is_nan_when_it_cannot_scale():
    # pairs (1, nan), (nan, 3), (3, 6): only |6 - 3| = 3 is left
    assert mase_scale(np.array([1.0, np.nan, 3.0, 6.0]), None) == 3.0
    assert math.isnan(mase_scale(np.full(10, 2.0), None))       # a flat series: scale 0
    assert math.isnan(mase_scale(np.array([1.0, 2.0]), 4))      # shorter than a season
    assert math.isnan(mase_scale(np.array([1.0, np.nan]), None))


# Two windows, horizon 2, ends 5 and 9 of SERIES: the truth is the next two values.
TRUTH = np.array([[6.0, 7.0], [10.0, 11.0]])


@pytest.fixture
def baselines():
    # persistence [[5, 5], [9, 9]]: errors 1, 2, 1, 2 → mae 1.5, rmse sqrt(10/4)
    # seasonal naive [[2, 3], [6, 7]]: errors all 4 → mae 4
    # mean 7.5: errors 1.5, 0.5, 2.5, 3.5 → mae 2
    return naive_forecasts(SERIES, ENDS, 2, 4, 7.5)


def test_a_perfect_forecast_has_no_error_and_a_positive_margin(baselines):
    scores = forecast_scores(TRUTH, TRUTH.copy(), baselines, 4.0)
    assert (scores["n"], scores["horizon"]) == (2, 2)
    assert (scores["mae"], scores["rmse"], scores["smape"], scores["mase"]) == (0.0, 0.0, 0.0, 0.0)
    assert scores["baselines"]["persistence"] == approx(
        {"mae": 1.5, "rmse": math.sqrt(2.5), "smape": (200 / 11 + 400 / 12 + 200 / 19 + 400 / 20) / 4,
         "mase": 1.5 / 4})
    assert scores["baselines"]["seasonal_naive"]["mae"] == 4.0
    assert scores["baselines"]["mean"]["mae"] == 2.0
    assert scores["best_baseline"] == "persistence"
    assert scores["margin_over_baseline"] == 1.5
    assert scores["warning"] is None


def test_a_forecast_equal_to_persistence_has_no_margin_and_a_warning(baselines):
    scores = forecast_scores(TRUTH, baselines["persistence"], baselines, 4.0)
    assert scores["margin_over_baseline"] == 0.0
    assert scores["warning"] == "the model does not beat the persistence forecast (mae 1.5 against 1.5)"


def test_smape_is_symmetric_in_percent_and_zero_where_both_are_zero():
    # cells: both 0 → 0; |2 - 1| → 200 * 1 / 3; |100 - 110| → 200 * 10 / 210
    scores = forecast_scores(np.array([[0.0, 2.0, 100.0]]), np.array([[0.0, 1.0, 110.0]]), {}, 1.0)
    assert scores["smape"] == approx((0 + 200 / 3 + 2000 / 210) / 3)
    assert [s["smape"] for s in scores["per_step"]] == approx([0.0, 200 / 3, 2000 / 210])
    assert forecast_scores(np.zeros((2, 2)), np.zeros((2, 2)), {}, 1.0)["smape"] == 0.0


def test_per_step_scores_one_column_each(baselines):
    # step 1 is perfect; step 2 is off by 1 in the first window only: mae 0.5, rmse sqrt(1/2)
    predicted = np.array([[6.0, 8.0], [10.0, 11.0]])
    scores = forecast_scores(TRUTH, predicted, baselines, 2.0)
    assert [s["step"] for s in scores["per_step"]] == [1, 2]
    assert scores["per_step"][0] == approx({"step": 1, "mae": 0.0, "rmse": 0.0, "smape": 0.0, "mase": 0.0})
    assert scores["per_step"][1]["mae"] == 0.5
    assert scores["per_step"][1]["rmse"] == approx(math.sqrt(0.5))
    assert scores["per_step"][1]["mase"] == 0.25
    assert scores["mae"] == 0.25
    assert len(forecast_scores(np.ones((3, 7)), np.ones((3, 7)), {}, 1.0)["per_step"]) == 7


def test_mase_is_nan_without_a_scale(baselines):
    scores = forecast_scores(TRUTH, TRUTH, baselines, float("nan"))
    assert math.isnan(scores["mase"]) and math.isnan(scores["baselines"]["mean"]["mase"])
    assert scores["mae"] == 0.0


def test_zero_windows_give_nan_scores_not_an_error():
    naive = naive_forecasts(SERIES, np.array([], dtype=np.int64), 3, 4, 0.0)
    assert all(b.shape == (0, 3) for b in naive.values())
    scores = forecast_scores(np.empty((0, 3)), np.empty((0, 3)), naive, 1.0)
    assert (scores["n"], scores["horizon"], len(scores["per_step"])) == (0, 3, 3)
    assert all(math.isnan(scores[key]) for key in ("mae", "rmse", "smape", "mase", "margin_over_baseline"))
    assert math.isnan(scores["per_step"][2]["mae"])
    assert scores["best_baseline"] is None and scores["warning"] is None


def test_scores_are_plain_python_numbers_ready_for_json(baselines):
    scores = forecast_scores(TRUTH, TRUTH, baselines, 4.0)
    assert type(scores["mae"]) is float and type(scores["n"]) is int
    assert type(scores["baselines"]["mean"]["rmse"]) is float and type(scores["per_step"][0]["mase"]) is float
    assert json.loads(json.dumps(scores))["best_baseline"] == "persistence"


def test_shapes_that_differ_are_refused(baselines):
    with pytest.raises(ValueError, match="differ in shape"):
        forecast_scores(TRUTH, TRUTH[:, :1], baselines, 1.0)
    with pytest.raises(ValueError, match="persistence"):
        forecast_scores(TRUTH, TRUTH, {"persistence": np.zeros((2, 3))}, 1.0)


def test_forecast_lines_hold_the_tables_the_margin_and_the_warning(baselines):
    lines = forecast_lines(forecast_scores(TRUTH, baselines["persistence"], baselines, 4.0), _fmt)
    text = "\n".join(lines)
    assert "| forecast | mae | rmse | smape (%) | mase |" in lines
    assert "| model | 1.5000 | 1.5811 | 20.5104 | 0.3750 |" in lines
    assert "| baseline | mae | rmse | smape (%) | mase |" in lines
    assert "| seasonal_naive | 4.0000 | 4.0000 | 68.6111 | 1.0000 |" in lines  # 800/8, 800/10, 800/16, 800/18
    assert "| step | mae | rmse | smape (%) | mase |" in lines
    assert "| 2 | 2.0000 | 2.0000 | 26.6667 | 0.5000 |" in lines  # 200·2/12 and 200·2/20, averaged
    assert "the model's margin over it: 0.0000" in text
    assert "**Warning:** the model does not beat the persistence forecast" in text


def test_forecast_lines_show_the_first_24_steps_and_say_so():
    lines = forecast_lines(forecast_scores(np.ones((2, 30)), np.ones((2, 30)), {}, float("nan")), _fmt)
    step_rows = [line for line in lines if line.startswith("| ") and line.split(" | ")[0][2:].isdigit()]
    assert len(step_rows) == 24 and step_rows[-1].startswith("| 24 |")
    assert any("first 24 of 30 steps" in line for line in lines)
    assert "| model | 0.0000 | 0.0000 | 0.0000 | — |" in lines
    assert not any(line.startswith("Best baseline") for line in lines)


def test_step_series_lines_each_forecast_up_with_the_time_it_forecasts():
    times = np.arange(100, 105)                       # first forecast step of windows 0..4
    predicted = np.arange(15.0).reshape(5, 3)         # row i: [3i, 3i+1, 3i+2]
    x, y = step_series(times, predicted, 3)
    # window 0's 3-step-ahead forecast (2.0) is of time 102, window 2's (8.0) of time 104
    assert x.tolist() == [102, 103, 104] and y.tolist() == [2.0, 5.0, 8.0]
    assert [a.tolist() for a in step_series(times, predicted, 1)] == [times.tolist(), [0.0, 3.0, 6.0, 9.0, 12.0]]
    x, y = step_series(times[:2], predicted[:2], 3)   # more shift than windows: nothing left
    assert len(x) == len(y) == 0


@pytest.mark.parametrize("times", [np.arange(10), np.arange("2024-01-01", "2024-01-11", dtype="datetime64[D]")])
def test_forecast_plot_writes_a_png(tmp_path, times):
    truth = np.sin(np.arange(30.0)).reshape(10, 3)
    path = forecast_plot(times, truth, truth + 0.1, tmp_path / "forecast.png", "test period", steps=(1, 3, 9))
    assert path == tmp_path / "forecast.png"
    assert path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
