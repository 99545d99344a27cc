"""Held-out metrics on tiny predictions whose every number is worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlrun.report.metrics import (baseline_of, baseline_verdict, classification_metrics, probabilities,
                                  regression_metrics, score)

approx = pytest.approx

# Six rows, three classes. argmax per row: 0, 1, 1, 1, 2, 0.
#   true 0: rows 0, 1  → predicted 0, 1
#   true 1: rows 2, 3  → predicted 1, 1
#   true 2: rows 4, 5  → predicted 2, 0
MULTI_TRUE = np.array([0, 0, 1, 1, 2, 2])
MULTI_PROBA = np.array([
    [0.7, 0.2, 0.1],
    [0.4, 0.5, 0.1],
    [0.1, 0.8, 0.1],
    [0.3, 0.6, 0.1],
    [0.2, 0.2, 0.6],
    [0.5, 0.1, 0.4],
])
LABELS = ["setosa", "versicolor", "virginica"]


@pytest.fixture
def multi():
    return classification_metrics(MULTI_TRUE, MULTI_PROBA, LABELS, majority=1)


def test_accuracy_is_the_share_of_rows_whose_argmax_is_the_truth(multi):
    assert multi["n"] == 6
    assert multi["accuracy"] == approx(4 / 6)


def test_confusion_matrix_rows_are_true_classes_columns_predicted(multi):
    assert multi["confusion_matrix"] == [[1, 1, 0],
                                         [0, 2, 0],
                                         [1, 0, 1]]
    assert multi["labels"] == LABELS


def test_balanced_accuracy_is_the_mean_recall_over_classes(multi):
    # recalls: 1/2, 2/2, 1/2
    assert multi["balanced_accuracy"] == approx((0.5 + 1.0 + 0.5) / 3)


def test_macro_precision_recall_f1_average_the_per_class_values(multi):
    # precision: class 0 predicted on rows 0, 5 (1 right) = 1/2; class 1 on rows 1, 2, 3 (2 right) = 2/3;
    #            class 2 on row 4 (right) = 1
    # recall:    1/2, 1, 1/2
    # f1 = 2PR/(P+R): 1/2, 2*(2/3)*1/(5/3) = 4/5, 2*1*(1/2)/(3/2) = 2/3
    assert multi["precision_macro"] == approx((1 / 2 + 2 / 3 + 1) / 3)
    assert multi["recall_macro"] == approx((1 / 2 + 1 + 1 / 2) / 3)
    assert multi["f1_macro"] == approx((1 / 2 + 4 / 5 + 2 / 3) / 3)


def test_per_class_metrics_are_keyed_by_label_with_support(multi):
    per_class = multi["per_class"]
    assert list(per_class) == LABELS
    assert per_class["setosa"] == approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert per_class["versicolor"] == approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert per_class["virginica"] == approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})


def test_log_loss_is_the_mean_negative_log_probability_of_the_truth(multi):
    # probability given to the true class per row: 0.7, 0.4, 0.8, 0.6, 0.6, 0.4
    expected = -(math.log(0.7) + math.log(0.4) + math.log(0.8) + math.log(0.6) + math.log(0.6) + math.log(0.4)) / 6
    assert multi["log_loss"] == approx(expected)


def test_roc_auc_one_vs_rest_is_the_macro_mean_of_pairwise_orderings(multi):
    # class 0 scores, positives 0.7, 0.4 vs negatives 0.1, 0.3, 0.2, 0.5: 4 + 3 of 8 pairs ordered = 7/8
    # class 1 positives 0.8, 0.6 vs 0.2, 0.5, 0.2, 0.1: 8/8; class 2 positives 0.6, 0.4 vs 0.1 x4: 8/8
    assert multi["roc_auc_ovr"] == approx((7 / 8 + 1 + 1) / 3)
    assert "roc_auc" not in multi


def test_roc_auc_ovr_is_left_out_when_a_class_is_absent_from_the_truth():
    result = classification_metrics(np.array([0, 0, 1, 1]), MULTI_PROBA[:4], LABELS, majority=0)
    assert "roc_auc_ovr" not in result and "roc_auc" not in result
    assert result["per_class"]["virginica"]["support"] == 0
    assert result["confusion_matrix"][2] == [0, 0, 0]


def test_majority_baseline_accuracy_and_margin(multi):
    # the training majority is class 1 ('versicolor'); 2 of the 6 test rows are class 1
    assert multi["baseline"]["accuracy"] == approx(2 / 6)
    assert "'versicolor'" in multi["baseline"]["kind"]
    assert multi["margin_over_baseline"] == approx(4 / 6 - 2 / 6)
    assert baseline_verdict(multi) is None


# Binary with one sigmoid unit: five rows, P(positive) per row.
#   p > 0.5 → 1: predictions 0, 1, 0, 1, 1 against truth 0, 0, 1, 1, 1
BIN_TRUE = np.array([0, 0, 1, 1, 1])
BIN_SIGMOID = np.array([[0.1], [0.6], [0.4], [0.8], [0.9]])


def test_probabilities_turn_one_sigmoid_unit_into_two_columns():
    proba = probabilities(BIN_SIGMOID, "binary")
    assert proba.shape == (5, 2)
    assert proba[:, 1] == approx([0.1, 0.6, 0.4, 0.8, 0.9])
    assert proba[:, 0] == approx([0.9, 0.4, 0.6, 0.2, 0.1])
    assert proba.sum(axis=1) == approx(np.ones(5))


def test_probabilities_accept_a_flat_sigmoid_vector():
    assert probabilities(np.array([0.25, 0.75]), "binary") == approx(np.array([[0.75, 0.25], [0.25, 0.75]]))


def test_probabilities_of_float32_softmax_rows_sum_to_one():
    raw = np.array([[0.2, 0.3, 0.5000001], [0.1, 0.1, 0.8]], dtype=np.float32)
    proba = probabilities(raw, "multiclass")
    assert proba.dtype == np.float64
    assert proba.sum(axis=1) == approx([1.0, 1.0], abs=1e-12)


def test_binary_metrics_by_hand():
    result = classification_metrics(BIN_TRUE, probabilities(BIN_SIGMOID, "binary"), ["no", "yes"], majority=1)
    assert result["accuracy"] == approx(3 / 5)
    assert result["confusion_matrix"] == [[1, 1], [1, 2]]
    # recall: no 1/2, yes 2/3; precision: no (rows 0, 2 predicted) 1/2, yes (rows 1, 3, 4) 2/3
    assert result["balanced_accuracy"] == approx((1 / 2 + 2 / 3) / 2)
    assert result["per_class"]["yes"]["precision"] == approx(2 / 3)
    assert result["per_class"]["no"]["precision"] == approx(1 / 2)
    # positives 0.4, 0.8, 0.9 vs negatives 0.1, 0.6: 0.4 beats one, 0.8 and 0.9 beat both = 5/6
    assert result["roc_auc"] == approx(5 / 6)
    assert "roc_auc_ovr" not in result
    expected_log_loss = -(math.log(0.9) + math.log(0.4) + math.log(0.4) + math.log(0.8) + math.log(0.9)) / 5
    assert result["log_loss"] == approx(expected_log_loss)
    # majority 'yes' is right on 3 of 5: exactly the model's accuracy, so no margin
    assert result["baseline"]["accuracy"] == approx(3 / 5)
    assert result["margin_over_baseline"] == approx(0.0)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_binary_roc_auc_left_out_when_the_truth_has_one_class():
    result = classification_metrics(np.array([1, 1, 1]), probabilities(np.array([0.2, 0.7, 0.9]), "binary"),
                                    ["no", "yes"], majority=1)
    assert "roc_auc" not in result
    assert result["accuracy"] == approx(2 / 3)


def test_a_probability_of_exactly_one_half_predicts_the_negative_class():
    result = classification_metrics(np.array([0, 1]), probabilities(np.array([0.5, 0.5]), "binary"),
                                    ["no", "yes"], majority=0)
    assert result["confusion_matrix"] == [[1, 0], [1, 0]]


def test_score_dispatches_on_the_task():
    binary = score("binary", BIN_TRUE, BIN_SIGMOID, ["no", "yes"], {"majority": 0})
    assert binary["accuracy"] == approx(3 / 5) and binary["baseline"]["accuracy"] == approx(2 / 5)
    regression = score("regression", np.array([1.0, 3.0]), np.array([[1.0], [2.0]]), [], {"mean": 2.0})
    assert regression["mae"] == approx(0.5)


# Regression: truth 1, 2, 3, 4; predictions 1.5, 2, 2, 5 → errors 0.5, 0, -1, 1
REG_TRUE = np.array([1.0, 2.0, 3.0, 4.0])
REG_PRED = np.array([[1.5], [2.0], [2.0], [5.0]])


def test_regression_metrics_by_hand():
    result = regression_metrics(REG_TRUE, REG_PRED, mean=2.0)
    assert result["n"] == 4
    assert result["mae"] == approx((0.5 + 0 + 1 + 1) / 4)            # 0.625
    assert result["mse"] == approx((0.25 + 0 + 1 + 1) / 4)           # 0.5625
    assert result["rmse"] == approx(0.75)
    # R² = 1 - SS_res / SS_tot = 1 - 2.25 / (2.25 + 0.25 + 0.25 + 2.25)
    assert result["r2"] == approx(1 - 2.25 / 5)


def test_regression_baseline_predicts_the_training_mean():
    result = regression_metrics(REG_TRUE, REG_PRED, mean=2.0)
    # |1-2| + |2-2| + |3-2| + |4-2| = 4 → MAE 1; squares 1 + 0 + 1 + 4 = 6 → MSE 1.5
    assert result["baseline"]["mae"] == approx(1.0)
    assert result["baseline"]["mse"] == approx(1.5)
    assert "training median 2 (mae) or mean 2 (mse)" in result["baseline"]["kind"]  # no median given: the mean
    assert result["margin_over_baseline"] == approx(1.0 - 0.625)
    assert baseline_verdict(result) is None


def test_r2_of_a_single_row_is_nan_not_an_error():
    result = regression_metrics(np.array([3.0]), np.array([2.0]), mean=0.0)
    assert math.isnan(result["r2"])
    assert result["mae"] == approx(1.0)


def test_baseline_of_picks_the_training_majority_or_mean():
    assert baseline_of("multiclass", np.array([2, 0, 2, 1, 2])) == {"majority": 2}
    assert baseline_of("binary", np.array([0, 0, 1])) == {"majority": 0}
    assert baseline_of("regression", np.array([1.0, 2.0, 6.0])) == {"mean": approx(3.0), "median": approx(2.0),
                                                                   "std": approx(np.std([1.0, 2.0, 6.0]))}


def test_the_mae_baseline_is_the_training_median_and_the_mse_baseline_the_mean():
    # a skewed target: the median 2 is the best constant for absolute error, the mean 3 for squared error
    truth = np.array([1.0, 2.0, 6.0])
    result = regression_metrics(truth, np.full(3, 2.0), mean=3.0, median=2.0)
    assert result["baseline"]["mae"] == approx((1 + 0 + 4) / 3)
    assert result["baseline"]["mse"] == approx((4 + 1 + 9) / 3)
    assert "training median 2" in result["baseline"]["kind"] and "mean 3" in result["baseline"]["kind"]
    # predicting the median is no better than the median baseline: no margin, so a warning
    assert result["margin_over_baseline"] == approx(0.0)
    assert baseline_verdict(result) is not None


def test_zero_rows_give_nan_metrics_not_an_exception():
    result = classification_metrics(np.array([], dtype=int), np.zeros((0, 3)), LABELS, majority=0)
    assert result["n"] == 0
    assert math.isnan(result["accuracy"]) and math.isnan(result["balanced_accuracy"])
    assert math.isnan(result["margin_over_baseline"])
    assert result["confusion_matrix"] == [[0, 0, 0]] * 3
    assert baseline_verdict(result) is None


# ---- the baseline verdict ------------------------------------------------------------------------

def test_verdict_warns_when_a_classifier_only_matches_the_majority_baseline():
    truth = np.array([0, 0, 0, 1])
    always_zero = np.array([[0.9, 0.1]] * 4)
    result = classification_metrics(truth, always_zero, ["neg", "pos"], majority=0)
    assert result["accuracy"] == approx(0.75) and result["baseline"]["accuracy"] == approx(0.75)
    warning = baseline_verdict(result)
    assert warning is not None
    assert "does not beat the trivial baseline" in warning
    assert "always predict the training majority class 'neg'" in warning
    assert "accuracy" in warning


def test_verdict_warns_when_a_classifier_is_worse_than_the_baseline():
    truth = np.array([0, 0, 0, 1])
    always_one = np.array([[0.1, 0.9]] * 4)
    result = classification_metrics(truth, always_one, ["neg", "pos"], majority=0)
    assert result["margin_over_baseline"] == approx(0.25 - 0.75)
    assert "does not beat" in baseline_verdict(result)


def test_verdict_warns_when_a_regressor_only_predicts_the_training_mean():
    truth = np.array([1.0, 2.0, 6.0])
    result = regression_metrics(truth, np.full(3, 3.0), mean=3.0)
    assert result["margin_over_baseline"] == approx(0.0)
    warning = baseline_verdict(result)
    assert warning is not None and "MAE" in warning and "training median 3" in warning


def test_verdict_warns_when_a_regressor_is_worse_than_the_mean():
    result = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([3.0, 0.0, 5.0]), mean=2.0)
    assert result["margin_over_baseline"] < 0
    assert baseline_verdict(result) is not None


def test_verdict_is_silent_when_the_model_beats_the_baseline():
    result = classification_metrics(np.array([0, 0, 1]), np.array([[0.8, 0.2], [0.7, 0.3], [0.2, 0.8]]),
                                    ["a", "b"], majority=0)
    assert result["margin_over_baseline"] == approx(1 / 3)
    assert baseline_verdict(result) is None


def test_verdict_is_silent_without_a_finite_margin():
    assert baseline_verdict({}) is None
    assert baseline_verdict({"margin_over_baseline": float("nan"), "baseline": {"kind": "x"}}) is None
