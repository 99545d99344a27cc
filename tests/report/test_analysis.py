"""Fit diagnosis from a history, and the data audit: leakage, class balance, missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlrun.report.analysis import audit_data
from dlrun.report.fit_verdict import diagnose_fit


def history(loss, val_loss=None):
    rows = []
    for i, value in enumerate(loss):
        row = {"epoch": i + 1, "loss": value}
        if val_loss is not None:
            row["val_loss"] = val_loss[i]
        rows.append(row)
    return rows


# ---- diagnose_fit --------------------------------------------------------------------------------

def test_rising_validation_loss_while_training_loss_falls_is_overfitting():
    rows = history([1.0, 0.8, 0.6, 0.4, 0.3], [0.9, 0.7, 0.75, 0.85, 0.95])
    fit = diagnose_fit(rows, best_epoch=2)
    assert fit["verdict"] == "overfitting"
    (flag,) = [f for f in fit["flags"] if f.startswith("overfitting:")]
    # (0.95 - 0.7) / 0.7 = 36%
    assert "rose 36% above its minimum (epoch 2)" in flag
    assert "early stopping" in flag
    assert fit["epochs_run"] == 5 and fit["best_epoch"] == 2
    assert fit["gap_at_best"]["loss"] == 0.8 and fit["gap_at_best"]["val_loss"] == 0.7
    assert fit["gap_at_best"]["difference"] == pytest.approx(-0.1)


def test_a_small_late_rise_in_validation_loss_is_not_overfitting():
    # 0.72 is under 10% above the minimum 0.7
    rows = history([1.0, 0.8, 0.7, 0.65, 0.6], [0.9, 0.75, 0.7, 0.71, 0.72])
    fit = diagnose_fit(rows, best_epoch=3)
    assert fit["verdict"] == "good fit"
    assert fit["flags"] == []


def test_validation_loss_rising_while_training_loss_also_rises_is_not_overfitting():
    rows = history([0.5, 0.6, 0.7, 0.8], [0.5, 0.6, 0.8, 1.0])
    fit = diagnose_fit(rows, best_epoch=1)
    assert not any(f.startswith("overfitting:") for f in fit["flags"])
    assert fit["verdict"] != "overfitting"


def test_best_epoch_at_the_last_epoch_is_still_improving_underfitting():
    rows = history([1.0, 0.8, 0.6, 0.5], [1.0, 0.82, 0.62, 0.52])
    fit = diagnose_fit(rows, best_epoch=4)
    assert fit["verdict"] == "underfitting"
    assert fit["flags"] == ["still improving at the last epoch: val_loss fell 16.1% over the last 1 epoch(s) — "
                            "more epochs may help (underfitting)"]


def test_a_single_epoch_is_not_called_still_improving():
    fit = diagnose_fit(history([1.0], [1.0]), best_epoch=1)
    assert fit["verdict"] == "good fit"


def test_best_epoch_in_the_middle_with_a_small_gap_is_a_good_fit():
    rows = history([1.0, 0.7, 0.5, 0.45, 0.44], [1.0, 0.72, 0.52, 0.53, 0.54])
    fit = diagnose_fit(rows, best_epoch=3)
    assert fit["verdict"] == "good fit"
    assert fit["flags"] == []
    assert fit["gap_at_best"]["difference"] == pytest.approx(0.02)
    assert fit["gap_at_best"]["relative"] == pytest.approx(0.04)


def test_a_large_gap_at_the_best_epoch_is_an_overfitting_risk():
    # at the best epoch (3): 0.9 against 0.5 is 80% above, more than 0.05 in absolute terms
    rows = history([1.0, 0.7, 0.5, 0.45, 0.44], [1.2, 1.0, 0.9, 0.92, 0.95])
    fit = diagnose_fit(rows, best_epoch=3)
    assert fit["verdict"] == "overfitting risk"
    assert fit["flags"] == ["overfitting risk: validation loss is 80% above training loss at the best epoch"]


def test_without_validation_only_the_still_improving_flag_can_be_raised():
    fit = diagnose_fit(history([1.0, 0.5, 0.4]), best_epoch=3)
    assert "gap_at_best" not in fit
    assert fit["verdict"] == "underfitting"
    assert diagnose_fit(history([1.0, 0.5, 0.6]), best_epoch=2)["verdict"] == "good fit"


def test_unknown_best_epoch_uses_the_last_row_for_the_gap():
    rows = history([1.0, 0.8], [1.1, 0.82])
    fit = diagnose_fit(rows, best_epoch=None)
    assert fit["gap_at_best"]["loss"] == 0.8
    assert fit["verdict"] == "good fit"


def test_empty_history_has_no_verdict():
    assert diagnose_fit([], None) == {"epochs_run": 0, "best_epoch": None, "flags": [], "verdict": "no history"}


def test_still_improving_with_a_large_gap_is_one_verdict_not_two():
    # val_loss is 27% above loss at the best (last) epoch and still falling: the report once said both
    # "underfitting" and "overfitting risk"; now one verdict, with only its own reason
    rows = history([1.0, 0.7, 0.5, 0.42, 0.41], [1.2, 0.9, 0.65, 0.54, 0.52])
    fit = diagnose_fit(rows, best_epoch=5)
    assert fit["verdict"] == "underfitting"
    assert len(fit["flags"]) == 1 and "overfitting" not in fit["flags"][0]


def test_a_lasting_rise_in_training_loss_says_the_learning_rate_is_too_high():
    rows = history([1.0, 0.6, 0.7, 0.9, 1.2], [1.0, 0.6, 0.7, 0.9, 1.2])
    fit = diagnose_fit(rows, best_epoch=2)
    assert fit["verdict"] == "learning rate too high"
    (flag,) = fit["flags"]
    assert "rose 100% above its lowest (epoch 2)" in flag and "optimizer.learning_rate" in flag


def test_one_noisy_epoch_of_training_loss_is_not_a_learning_rate_verdict():
    rows = history([1.0, 0.6, 0.5, 0.56], [1.0, 0.6, 0.5, 0.52])
    assert diagnose_fit(rows, best_epoch=3)["verdict"] == "good fit"


def test_an_unscaled_target_far_from_zero_is_named_when_the_loss_still_falls():
    rows = history([1.0e6, 9.0e5, 8.1e5], [1.0e6, 9.1e5, 8.2e5])
    fit = diagnose_fit(rows, best_epoch=3, unscaled={"price": (1000.0, 5.0)})
    assert fit["verdict"] == "unscaled target"
    (flag,) = fit["flags"]
    assert "'price' (mean 1000, std 5)" in flag and "data.target_scale: standard" in flag


def test_an_unscaled_target_near_zero_or_a_finished_fit_is_not_blamed_on_scaling():
    falling = history([1.0, 0.9, 0.8], [1.0, 0.9, 0.8])
    assert diagnose_fit(falling, 3, unscaled={"y": (0.5, 1.0)})["verdict"] == "underfitting"
    settled = history([1.0, 0.5, 0.5, 0.5], [1.0, 0.5, 0.5, 0.5])
    assert diagnose_fit(settled, 2, unscaled={"y": (1000.0, 5.0)})["verdict"] == "good fit"


@pytest.mark.parametrize("loss, val_loss, best", [
    ([1.0, 0.8, 0.6, 0.4, 0.3], [0.9, 0.7, 0.75, 0.85, 0.95], 2),
    ([1.0, 0.7, 0.5, 0.42, 0.41], [1.2, 0.9, 0.65, 0.54, 0.52], 5),
    ([1.0, 0.6, 0.7, 0.9, 1.2], [1.0, 0.6, 0.7, 0.9, 1.2], 2),
    ([1.0, 0.7, 0.5, 0.45, 0.44], [1.2, 1.0, 0.9, 0.92, 0.95], 3),
])
def test_every_verdict_comes_with_exactly_its_own_reason(loss, val_loss, best):
    fit = diagnose_fit(history(loss, val_loss), best_epoch=best)
    assert len(fit["flags"]) == 1
    words = {"overfitting": "overfitting:", "underfitting": "still improving", "overfitting risk": "overfitting risk",
             "learning rate too high": "learning rate too high"}
    assert fit["flags"][0].startswith(words[fit["verdict"]])



# ---- audit_data: leakage -----------------------------------------------------------------------

def _frame():
    return pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 9.0],
                         "b": ["x", "y", "z", "w", "x", "y", "v"]})


def test_test_rows_that_duplicate_train_rows_are_flagged_as_leakage_in_a_dataframe():
    splits = {"train": np.array([0, 1, 2, 3]), "validation": np.array([6]), "test": np.array([4, 5])}
    audit = audit_data(_frame(), splits, None, None)
    assert audit["duplicates_shared_with_train"] == {"validation": 0, "test": 2}
    (flag,) = audit["flags"]
    assert flag.startswith("leakage: 2 of 2 test rows also appear in the training rows")


def test_leakage_ignores_the_row_index_and_compares_all_columns():
    frame = _frame()
    frame.loc[5, "b"] = "different"  # same 'a' as row 1, different 'b': not a duplicate
    frame.index = range(100, 107)
    splits = {"train": np.array([0, 1, 2, 3]), "test": np.array([4, 5])}
    audit = audit_data(frame, splits, None, None)
    assert audit["duplicates_shared_with_train"] == {"test": 1}


def test_test_rows_that_duplicate_train_rows_are_flagged_as_leakage_in_an_array():
    images = np.arange(5 * 2 * 2, dtype=np.float32).reshape(5, 2, 2)
    images[4] = images[1]
    splits = {"train": np.array([0, 1, 2]), "validation": np.array([3]), "test": np.array([4])}
    audit = audit_data(images, splits, None, None)
    assert audit["duplicates_shared_with_train"] == {"validation": 0, "test": 1}
    assert any(f.startswith("leakage: 1 of 1 test rows") for f in audit["flags"])


def test_no_duplicates_means_no_leakage_flag():
    splits = {"train": np.array([0, 1, 2]), "validation": np.array([3]), "test": np.array([6])}
    audit = audit_data(_frame(), splits, None, None)
    assert audit["duplicates_shared_with_train"] == {"validation": 0, "test": 0}
    assert audit["flags"] == []


def test_duplicates_within_train_are_not_leakage():
    splits = {"train": np.array([0, 1, 4, 5]), "test": np.array([2, 3])}
    assert audit_data(_frame(), splits, None, None)["flags"] == []


# ---- audit_data: class balance -----------------------------------------------------------------

def test_class_balance_is_reported_per_split_by_label():
    features = np.arange(10, dtype=np.float64).reshape(10, 1)
    codes = np.array([0, 0, 1, 1, 2, 2, 0, 1, 2, 0])
    splits = {"train": np.arange(6), "validation": np.array([6, 7]), "test": np.array([8, 9])}
    audit = audit_data(features, splits, codes, ["a", "b", "c"])
    assert audit["class_balance"] == {"train": {"a": 2, "b": 2, "c": 2},
                                      "validation": {"a": 1, "b": 1, "c": 0},
                                      "test": {"a": 1, "b": 0, "c": 1}}
    assert audit["flags"] == []


def test_a_rare_class_in_training_is_flagged_as_imbalance():
    features = np.arange(13, dtype=np.float64).reshape(13, 1)
    codes = np.array([0] * 11 + [1] * 2)
    splits = {"train": np.array([*range(10), 11]), "test": np.array([10, 12])}
    audit = audit_data(features, splits, codes, ["common", "rare"])
    assert audit["class_balance"]["train"] == {"common": 10, "rare": 1}
    (flag,) = audit["flags"]
    assert flag.startswith("class imbalance: the rarest class has 1 training row against 10")
    assert "balanced accuracy" in flag


def test_five_to_one_is_not_yet_imbalance():
    features = np.arange(6, dtype=np.float64).reshape(6, 1)
    codes = np.array([0, 0, 0, 0, 0, 1])
    audit = audit_data(features, {"train": np.arange(6)}, codes, ["a", "b"])
    assert audit["flags"] == []


def test_no_class_balance_for_regression():
    features = np.arange(4, dtype=np.float64).reshape(4, 1)
    audit = audit_data(features, {"train": np.arange(3), "test": np.array([3])}, None, None)
    assert audit["class_balance"] == {}


# ---- audit_data: missing values ------------------------------------------------------------------

def test_missing_values_are_counted_per_split_and_column_in_a_dataframe():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.nan, 5.0], "b": ["x", None, "z", "w", "v"],
                          "c": [1, 2, 3, 4, 5]})
    splits = {"train": np.array([0, 1, 2]), "test": np.array([3, 4])}
    audit = audit_data(frame, splits, None, None)
    assert audit["missing_values"] == {"train": {"a": 1, "b": 1}, "test": {"a": 1}}
    assert "missing values: 3 cells were missing (data.impute decides how they are filled)" in audit["flags"]


def test_missing_values_are_counted_in_a_float_array():
    array = np.ones((4, 3))
    array[0, 1] = np.nan
    array[3, :] = np.nan
    audit = audit_data(array, {"train": np.array([0, 1, 2]), "test": np.array([3])}, None, None)
    assert audit["missing_values"] == {"train": {"features": 1}, "test": {"features": 3}}
    assert "missing values: 4 cells were missing (data.impute decides how they are filled)" in audit["flags"]


def test_no_missing_values_gives_empty_counts_and_no_flag():
    audit = audit_data(np.ones((3, 2)), {"train": np.arange(2), "test": np.array([2])}, None, None)
    assert audit["missing_values"] == {"train": {}, "test": {}}
    assert not any(f.startswith("missing") for f in audit["flags"])
