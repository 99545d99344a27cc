"""TargetEncoder.fit: which task a target is, its classes in code order, and its JSON form."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlrun.data.targets import MAX_CLASSES_FOR_INTEGER_TARGET, TargetEncoder
from dlrun.errors import DataError


def fit(values, declared="auto", **kw) -> TargetEncoder:
    return TargetEncoder.fit("y", np.asarray(values), declared, **kw)


# ---- task inference -----------------------------------------------------------------------------

def test_two_strings_are_a_binary_task_with_sorted_classes():
    enc = fit(["spam", "ham", "spam", "ham"])
    assert enc.task == "binary"
    assert enc.classes == ["ham", "spam"]


def test_more_than_two_strings_are_multiclass():
    enc = fit(["b", "a", "c", "a"])
    assert enc.task == "multiclass"
    assert enc.classes == ["a", "b", "c"]
    assert enc.n_classes == 3


def test_few_integer_values_are_multiclass():
    enc = fit([0, 2, 1, 2, 0, 1])
    assert enc.task == "multiclass"
    assert enc.classes == [0, 1, 2]


def test_two_integer_values_are_binary():
    assert fit([0, 1, 1, 0]).task == "binary"


def test_many_distinct_integers_are_regression():
    values = np.arange(MAX_CLASSES_FOR_INTEGER_TARGET + 1)
    assert fit(values).task == "regression"
    assert fit(np.repeat(values[:MAX_CLASSES_FOR_INTEGER_TARGET], 2)).task == "multiclass"


def test_whole_numbers_that_are_mostly_all_different_are_measurements():
    # 20 rows, 16 different body weights: regression, not 16 classes; a handful of rows is not judged
    weights = np.array([191, 189, 193, 162, 189, 182, 211, 167, 176, 154, 169, 166, 154, 247, 193, 202, 176, 157,
                        156, 138])
    assert fit(weights).task == "regression"
    assert fit(np.repeat(np.arange(10), 2)).task == "multiclass"
    assert fit([0, 1, 2, 1]).task == "multiclass"


def test_non_integer_floats_are_regression():
    enc = fit([0.5, 1.25, 3.0, 2.75])
    assert enc.task == "regression"
    assert enc.classes is None


def test_booleans_are_binary():
    enc = fit([True, False, True])
    assert enc.task == "binary"
    assert enc.classes == [False, True]


def test_declared_task_wins_over_inference():
    assert fit([0, 1, 2, 1], declared="regression").task == "regression"
    assert fit([0.5, 1.5, 0.5], declared="binary").task == "binary"
    assert fit([0.5, 1.5, 2.5], declared="multiclass").classes == [0.5, 1.5, 2.5]


def test_declared_binary_with_three_classes_is_a_data_error():
    with pytest.raises(DataError, match="binary but target 'y' has 3 classes"):
        fit([0, 1, 2], declared="binary")


def test_declared_regression_on_text_is_a_data_error():
    with pytest.raises(DataError, match="holds text"):
        fit(["a", "b", "c"], declared="regression")


# ---- bad values -----------------------------------------------------------------------------------

def test_single_class_is_a_data_error():
    with pytest.raises(DataError) as err:
        fit(["yes", "yes", "yes"])
    assert "single class" in str(err.value) and "'yes'" in str(err.value)


def test_nan_target_is_a_data_error_naming_the_first_row():
    with pytest.raises(DataError) as err:
        TargetEncoder.fit("price", np.array([1.5, 2.5, np.nan, 3.5, np.nan]), "auto", where="csv:houses.csv")
    text = str(err.value)
    assert "csv:houses.csv" in text and "'price'" in text
    assert "2 row(s)" in text and "data row 3" in text


def test_missing_string_target_is_a_data_error_naming_the_row():
    with pytest.raises(DataError, match="first on data row 2"):
        fit(np.array(["a", None, "b"], dtype=object))


def test_infinite_target_is_a_data_error_naming_the_row():
    with pytest.raises(DataError) as err:
        fit([1.5, 2.5, 3.5, np.inf])
    assert "infinite" in str(err.value) and "data row 4" in str(err.value)


def test_negative_infinite_target_is_a_data_error():
    with pytest.raises(DataError, match="infinite"):
        fit([-np.inf, 2.5, 3.5])


# ---- encoding and JSON ----------------------------------------------------------------------------

def test_encode_gives_codes_in_class_order():
    enc = fit(["dog", "cat", "bird", "cat"])
    assert enc.encode(np.array(["bird", "cat", "dog", "dog"])).tolist() == [0, 1, 2, 2]
    assert enc.encode(np.array(["cat"])).dtype == np.int32


def test_regression_encode_is_float32_values():
    enc = fit([0.5, 1.25, 3.0])
    out = enc.encode(np.array([0.5, 2.0]))
    assert out.dtype == np.float32 and out.tolist() == [0.5, 2.0]


def test_class_names_are_used_for_labels_when_they_match_the_classes():
    enc = fit([0, 1, 2, 1], class_names=["setosa", "versicolor", "virginica"])
    assert enc.label(2) == "virginica"
    assert fit([0, 1, 2], class_names=["only", "two"]).class_names is None
    assert fit(["a", "b"]).label(1) == "b"


@pytest.mark.parametrize("values", [
    ["spam", "ham", "spam"],
    [0, 2, 1, 1],
    [True, False],
    [0.5, 1.25, 3.0],
])
def test_json_round_trip_keeps_the_encoder(values):
    enc = fit(values)
    text = json.dumps(enc.to_json())
    back = TargetEncoder.from_json(json.loads(text))
    assert back == enc
    probe = np.asarray(values)
    np.testing.assert_array_equal(back.encode(probe), enc.encode(probe))


def test_json_round_trip_of_integer_classes_still_encodes_numpy_integers():
    enc = fit(np.array([3, 7, 5], dtype=np.int64))
    back = TargetEncoder.from_json(json.loads(json.dumps(enc.to_json())))
    assert back.encode(np.array([7, 3], dtype=np.uint8)).tolist() == [2, 0]


def test_unseen_class_on_encode_is_a_data_error_naming_value_and_classes():
    enc = fit(["cat", "dog"])
    with pytest.raises(DataError) as err:
        enc.encode(np.array(["cat", "fox"]))
    text = str(err.value)
    assert "'fox'" in text and "'y'" in text and "cat" in text and "dog" in text
