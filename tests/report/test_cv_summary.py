"""Cross-validation summaries: describe (mean, sample std, 95% t-interval), per-fold scalars,
the summary table, and curves averaged across folds of different lengths."""

from __future__ import annotations

import math

import pytest

from dlrun.report.cv_summary import average_curves, describe, fold_scalars, summarize, t_critical

# two-sided 95% Student-t critical values from a printed table (t_{0.975, dof})
T_TABLE = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 9: 2.262}


# ---- describe ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dof", sorted(T_TABLE))
def test_t_critical_matches_the_printed_table(dof):
    assert t_critical(dof) == pytest.approx(T_TABLE[dof], abs=5e-4)


def test_describe_mean_and_sample_std_use_ddof_1():
    values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]  # population std 2, sample std sqrt(32/7)
    d = describe(values)
    assert d["n"] == 8
    assert d["mean"] == pytest.approx(5.0)
    assert d["std"] == pytest.approx(math.sqrt(32 / 7))
    assert d["std"] != pytest.approx(2.0)


def test_describe_ci95_is_the_t_interval_by_hand_for_three_values():
    d = describe([0.9, 1.0, 0.95])
    mean = (0.9 + 1.0 + 0.95) / 3
    std = math.sqrt(((0.9 - mean) ** 2 + (1.0 - mean) ** 2 + (0.95 - mean) ** 2) / 2)  # 0.05
    half = 4.303 * std / math.sqrt(3)                                                   # t_{0.975, 2}
    assert d["mean"] == pytest.approx(0.95)
    assert d["std"] == pytest.approx(0.05)
    assert d["ci95"][0] == pytest.approx(mean - half, abs=1e-4)
    assert d["ci95"][1] == pytest.approx(mean + half, abs=1e-4)
    assert d["ci95"][0] == pytest.approx(0.8258, abs=1e-4) and d["ci95"][1] == pytest.approx(1.0742, abs=1e-4)


def test_describe_ci95_for_ten_folds_uses_nine_degrees_of_freedom():
    values = [0.8, 0.9, 0.85, 0.95, 0.9, 0.7, 1.0, 0.85, 0.9, 0.95]
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = 2.262 * std / math.sqrt(n)
    d = describe(values)
    assert d["ci95"] == pytest.approx([mean - half, mean + half], abs=2e-4)
    normal_half = 1.96 * std / math.sqrt(n)  # a z-interval would be too narrow for 10 folds
    assert d["ci95"][1] - d["ci95"][0] > 2 * normal_half + 1e-3


def test_describe_two_values_uses_one_degree_of_freedom():
    d = describe([1.0, 3.0])
    assert d["mean"] == 2.0
    assert d["std"] == pytest.approx(math.sqrt(2))
    half = 12.706 * math.sqrt(2) / math.sqrt(2)
    assert d["ci95"] == pytest.approx([2.0 - half, 2.0 + half], abs=1e-3)


def test_describe_interval_is_symmetric_and_contains_the_mean():
    d = describe([3.0, 1.0, 4.0, 1.0, 5.0])
    low, high = d["ci95"]
    assert low < d["mean"] < high
    assert d["mean"] - low == pytest.approx(high - d["mean"])


def test_describe_identical_values_has_zero_std_and_a_point_interval():
    d = describe([0.5, 0.5, 0.5])
    assert d["std"] == 0.0
    assert d["ci95"] == [0.5, 0.5]


def test_describe_one_value_has_a_mean_but_no_std_or_interval():
    assert describe([0.7]) == {"n": 1, "mean": 0.7, "std": None, "ci95": None}


def test_describe_no_values_has_nothing():
    assert describe([]) == {"n": 0, "mean": None, "std": None, "ci95": None}


def test_describe_skips_missing_and_non_finite_values():
    d = describe([1.0, None, float("nan"), 3.0, float("inf")])
    assert d["n"] == 2 and d["mean"] == 2.0
    assert describe([None, float("nan")])["n"] == 0


# ---- fold_scalars ---------------------------------------------------------------------------------

CLASSIFICATION = {
    "task": "multiclass", "target": "target", "n": 15, "accuracy": 0.8, "balanced_accuracy": 0.75,
    "precision_macro": 0.7, "recall_macro": 0.75, "f1_macro": 0.72, "log_loss": 0.5, "roc_auc_ovr": 0.9,
    "confusion_matrix": [[5, 0], [3, 7]], "labels": ["a", "b"], "per_class": {"a": {"precision": 1.0}},
    "baseline": {"kind": "always predict the training majority class 'a'", "accuracy": 0.3333},
    "margin_over_baseline": 0.4667,
}
REGRESSION = {"task": "regression", "target": "y", "n": 20, "mae": 40.0, "mse": 2500.0, "rmse": 50.0, "r2": 0.4,
              "baseline": {"kind": "always predict the training mean 150", "mae": 60.0, "mse": 4900.0},
              "margin_over_baseline": 20.0}


def test_fold_scalars_of_a_classification_report():
    assert fold_scalars(CLASSIFICATION) == {
        "accuracy": 0.8, "balanced_accuracy": 0.75, "f1_macro": 0.72, "precision_macro": 0.7, "recall_macro": 0.75,
        "roc_auc_ovr": 0.9, "log_loss": 0.5, "baseline_accuracy": 0.3333}


def test_fold_scalars_of_a_regression_report_keeps_the_baseline_mae():
    assert fold_scalars(REGRESSION) == {"mae": 40.0, "mse": 2500.0, "rmse": 50.0, "r2": 0.4, "baseline_mae": 60.0}


def test_fold_scalars_leave_out_non_scalars_and_none():
    scalars = fold_scalars({**REGRESSION, "r2": None})
    assert "r2" not in scalars
    assert not {"n", "task", "target", "margin_over_baseline"} & set(scalars)


def test_fold_scalars_of_two_outputs_are_prefixed_by_output_name():
    scalars = fold_scalars({"kind_head": CLASSIFICATION, "price_head": REGRESSION})
    assert scalars["kind_head.accuracy"] == 0.8
    assert scalars["kind_head.baseline_accuracy"] == 0.3333
    assert scalars["price_head.mae"] == 40.0
    assert scalars["price_head.baseline_mae"] == 60.0
    assert not [k for k in scalars if "." not in k]


def test_fold_scalars_of_an_empty_report_is_empty():
    assert fold_scalars({}) == {}


# ---- summarize ----------------------------------------------------------------------------------

def _fold(number, accuracy, baseline=0.33, repeat=1):
    return {"fold": number, "repeat": repeat,
            "metrics": {**CLASSIFICATION, "accuracy": accuracy, "baseline": {"accuracy": baseline}}}


def test_summarize_lists_each_fold_and_describes_each_metric():
    summary = summarize([_fold(1, 0.9, 0.30), _fold(2, 1.0, 0.36), _fold(3, 0.95, 0.33)])
    assert [row["fold"] for row in summary["folds"]] == [1, 2, 3]
    assert [row["accuracy"] for row in summary["folds"]] == [0.9, 1.0, 0.95]
    assert [row["baseline_accuracy"] for row in summary["folds"]] == [0.30, 0.36, 0.33]
    assert all(row["repeat"] == 1 for row in summary["folds"])
    stats = summary["stats"]
    assert stats["accuracy"] == describe([0.9, 1.0, 0.95])
    assert stats["baseline_accuracy"]["mean"] == pytest.approx(0.33)
    assert "fold" not in stats and "repeat" not in stats


def test_summarize_keeps_repeat_numbers():
    summary = summarize([_fold(1, 0.9, repeat=1), _fold(2, 0.8, repeat=1), _fold(3, 0.7, repeat=2)])
    assert [row["repeat"] for row in summary["folds"]] == [1, 1, 2]
    assert summary["stats"]["accuracy"]["n"] == 3


def test_summarize_of_no_folds_is_empty():
    assert summarize([]) == {"folds": [], "stats": {}}


def test_summarize_a_metric_missing_in_a_later_fold_counts_only_where_present():
    folds = [_fold(1, 0.9), _fold(2, 0.8), _fold(3, 0.7)]
    del folds[2]["metrics"]["roc_auc_ovr"]  # that fold's held-out part lacked a class
    stats = summarize(folds)["stats"]
    assert stats["roc_auc_ovr"]["n"] == 2


def test_summarize_a_metric_missing_in_the_first_fold_is_still_described():
    folds = [_fold(1, 0.9), _fold(2, 0.8), _fold(3, 0.7)]
    del folds[0]["metrics"]["roc_auc_ovr"]
    stats = summarize(folds)["stats"]
    assert "roc_auc_ovr" in stats
    assert stats["roc_auc_ovr"]["n"] == 2


# ---- average_curves -------------------------------------------------------------------------------

def _history(losses, maes):
    return [{"epoch": i + 1, "loss": loss, "val_mae": mae} for i, (loss, mae) in enumerate(zip(losses, maes))]


def test_average_curves_of_equal_lengths_is_the_per_epoch_mean():
    curves = average_curves([_history([4, 3, 2], [40, 30, 20]), _history([2, 1, 0], [20, 10, 0])])
    assert curves == [{"epoch": 1, "folds": 2, "loss": 3.0, "val_mae": 30.0},
                      {"epoch": 2, "folds": 2, "loss": 2.0, "val_mae": 20.0},
                      {"epoch": 3, "folds": 2, "loss": 1.0, "val_mae": 10.0}]


def test_average_curves_with_early_stopped_folds_average_only_folds_that_reached_the_epoch():
    short = _history([4, 3], [40, 30])            # stopped early after 2 epochs
    medium = _history([6, 5, 4], [60, 50, 40])
    long = _history([2, 1, 0.5, 0.25], [20, 10, 5, 2])
    curves = average_curves([short, medium, long])
    assert [row["epoch"] for row in curves] == [1, 2, 3, 4]
    assert [row["folds"] for row in curves] == [3, 3, 2, 1]
    assert curves[0]["val_mae"] == pytest.approx(40.0)
    assert curves[1]["loss"] == pytest.approx(3.0)
    assert curves[2]["val_mae"] == pytest.approx(22.5)   # (40 + 5) / 2: the short fold does not count as 0
    assert curves[3] == {"epoch": 4, "folds": 1, "loss": 0.25, "val_mae": 2.0}


def test_average_curves_skip_non_finite_values():
    curves = average_curves([_history([1.0, float("nan")], [10, 20]), _history([3.0, 5.0], [30, 40])])
    assert curves[1]["loss"] == 5.0
    assert curves[1]["folds"] == 2


def test_average_curves_of_no_histories_is_empty():
    assert average_curves([]) == []
    assert average_curves([[], []]) == []


def test_a_forecast_fold_adds_its_mase_and_margin_over_the_naive_forecasts():
    from dlrun.report.cv_summary import fold_scalars

    metrics = {"task": "regression", "mae": 1.0, "baseline": {"mae": 2.0},
               "forecast": {"mase": 0.8, "margin_over_baseline": 0.3}}
    scalars = fold_scalars(metrics)
    assert scalars["mase"] == 0.8 and scalars["naive_margin"] == 0.3 and scalars["mae"] == 1.0
    assert "mase" not in fold_scalars({"task": "regression", "mae": 1.0, "baseline": {"mae": 2.0}})
