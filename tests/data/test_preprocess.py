"""FeaturePreprocessor: statistics fitted on the training rows only, applied unchanged to any rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dlrun.data.preprocess import FeaturePreprocessor
from dlrun.errors import DataError
from dlrun.spec.models import DataSpec


def spec(**fields) -> DataSpec:
    return DataSpec(source="csv:x.csv", target="y", **fields)


@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [10.0, 20.0, 20.0, 50.0]})


@pytest.fixture
def test_rows() -> pd.DataFrame:
    return pd.DataFrame({"a": [1e6, 2.0], "b": [-1e6, 20.0]})   # a planted outlier in the first row


# ---- scaling -------------------------------------------------------------------------------------

def test_standard_statistics_come_from_the_training_rows_only(train, test_rows):
    pre = FeaturePreprocessor.fit(train, spec(scale="standard"))
    np.testing.assert_allclose(pre.center, [2.5, 25.0])
    np.testing.assert_allclose(pre.spread, [np.std([1, 2, 3, 4]), np.std([10, 20, 20, 50])])
    before = (list(pre.center), list(pre.spread))
    out = pre.transform(test_rows)
    assert (pre.center, pre.spread) == before            # transforming never refits
    np.testing.assert_allclose(out[1], [(2.0 - 2.5) / np.std([1, 2, 3, 4]), (20 - 25) / np.std([10, 20, 20, 50])],
                               rtol=1e-6)
    assert out[0, 0] > 1e5                                # the outlier is scaled with training statistics


def test_standardized_training_rows_have_zero_mean_and_unit_std(train):
    pre = FeaturePreprocessor.fit(train, spec(scale="standard"))
    out = pre.transform(train)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-6)


def test_minmax_statistics_come_from_the_training_rows_only(train, test_rows):
    pre = FeaturePreprocessor.fit(train, spec(scale="minmax"))
    assert pre.center == [1.0, 10.0]
    assert pre.spread == [3.0, 40.0]
    out_train = pre.transform(train)
    assert out_train.min() == 0.0 and out_train.max() == 1.0
    np.testing.assert_allclose(pre.transform(test_rows)[1], [1 / 3, 0.25], rtol=1e-6)


def test_scale_none_leaves_values_as_they_are(train):
    pre = FeaturePreprocessor.fit(train, spec(scale="none"))
    np.testing.assert_array_equal(pre.transform(train), train.to_numpy(dtype=np.float32))


def test_constant_column_stays_finite():
    frame = pd.DataFrame({"c": [7.0, 7.0, 7.0], "d": [1.0, 2.0, 3.0]})
    for scale in ("standard", "minmax"):
        pre = FeaturePreprocessor.fit(frame, spec(scale=scale))
        out = pre.transform(frame)
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(out[:, 0], 0.0)


# ---- imputation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("impute, fill", [("median", 2.5), ("mean", 3.0), ("most_frequent", 1.0)])
def test_missing_values_are_filled_from_training_statistics(impute, fill):
    train = pd.DataFrame({"a": [1.0, 1.0, np.nan, 4.0, 6.0]})
    pre = FeaturePreprocessor.fit(train, spec(impute=impute, scale="none"))
    assert pre.fill == pytest.approx([fill])
    new = pd.DataFrame({"a": [np.nan, 100.0]})
    out = pre.transform(new)
    assert out[:, 0] == pytest.approx([fill, 100.0])
    assert pre.missing_seen == {"a": 1}


def test_imputed_values_are_scaled_like_the_rest():
    train = pd.DataFrame({"a": [1.0, 3.0, np.nan]})
    pre = FeaturePreprocessor.fit(train, spec(impute="mean", scale="standard"))
    out = pre.transform(pd.DataFrame({"a": [np.nan]}))
    assert out[0, 0] == pytest.approx(0.0)                 # the mean, scaled to 0
    assert np.isfinite(pre.transform(train)).all()


def test_column_missing_everywhere_in_training_is_filled_with_zero():
    train = pd.DataFrame({"a": [np.nan, np.nan], "b": [1.0, 2.0]})
    for impute in ("median", "mean", "most_frequent"):
        pre = FeaturePreprocessor.fit(train, spec(impute=impute))
        assert pre.fill[0] == 0.0
        assert np.isfinite(pre.transform(train)).all()


# ---- categorical and passthrough ------------------------------------------------------------------

def test_one_hot_categories_come_from_training_and_unknown_is_all_zeros():
    train = pd.DataFrame({"colour": ["red", "blue", "red", "green"], "x": [1.0, 2.0, 3.0, 4.0]})
    pre = FeaturePreprocessor.fit(train, spec(categorical=["colour"]))
    assert pre.categories == {"colour": ["blue", "green", "red"]}
    assert pre.numeric == ["x"]
    assert pre.sample_shape == [4]
    assert pre.output_origin == ["colour", "colour", "colour", "x"]
    out = pre.transform(pd.DataFrame({"colour": ["green", "purple", None], "x": [2.5, 2.5, 2.5]}))
    assert out[0, :3].tolist() == [0.0, 1.0, 0.0]
    assert out[1, :3].tolist() == [0.0, 0.0, 0.0]         # never seen in training
    assert out[2, :3].tolist() == [0.0, 0.0, 0.0]         # missing


def test_categorical_glob_expands_to_matching_columns():
    train = pd.DataFrame({"cat_a": ["x", "y"], "cat_b": ["u", "u"], "n": [1.0, 2.0]})
    pre = FeaturePreprocessor.fit(train, spec(categorical=["cat_*"]))
    assert sorted(pre.categories) == ["cat_a", "cat_b"]
    assert pre.output_columns_for(["cat_a"]) == [0, 1]
    assert pre.output_columns_for(["n"]) == [3]


def test_passthrough_columns_are_not_scaled_or_imputed():
    train = pd.DataFrame({"tok": [5, 17, 3, 900], "x": [1.0, 2.0, 3.0, 4.0]})
    pre = FeaturePreprocessor.fit(train, spec(passthrough=["tok"], scale="standard"))
    assert pre.passthrough == ["tok"] and pre.numeric == ["x"]
    out = pre.transform(pd.DataFrame({"tok": [42, 0], "x": [2.5, 2.5]}))
    assert out[:, 0].tolist() == [42.0, 0.0]
    assert out[:, 1].tolist() == [0.0, 0.0]


# ---- shapes --------------------------------------------------------------------------------------

def test_reshape_gives_samples_of_the_requested_shape():
    frame = pd.DataFrame(np.arange(3 * 64, dtype=float).reshape(3, 64), columns=[f"p{i}" for i in range(64)])
    pre = FeaturePreprocessor.fit(frame, spec(reshape=[8, 8, 1], scale="none"))
    out = pre.transform(frame)
    assert out.shape == (3, 8, 8, 1)
    assert out[1, 0, 1, 0] == 65.0


def test_wrong_reshape_is_a_data_error_with_both_numbers():
    frame = pd.DataFrame(np.ones((3, 64)), columns=[f"p{i}" for i in range(64)])
    with pytest.raises(DataError) as err:
        FeaturePreprocessor.fit(frame, spec(reshape=[8, 8, 2]))
    text = str(err.value)
    assert "[8, 8, 2]" in text and "128" in text and "64" in text


def test_array_features_keep_their_sample_shape_and_per_position_statistics():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(10, 4, 3))
    pre = FeaturePreprocessor.fit(train, spec(scale="standard"))
    assert pre.kind == "array"
    assert pre.sample_shape == [4, 3]
    np.testing.assert_allclose(pre.center, train.reshape(10, -1).mean(axis=0))
    out = pre.transform(train)
    assert out.shape == (10, 4, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.reshape(10, -1).mean(axis=0), 0.0, atol=1e-5)


def test_array_features_can_be_reshaped():
    train = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    pre = FeaturePreprocessor.fit(train, spec(reshape=[28, 28, 1], scale="none"))
    assert pre.transform(train).shape == (2, 28, 28, 1)


def test_array_with_another_sample_size_is_a_data_error():
    pre = FeaturePreprocessor.fit(np.ones((4, 6)), spec())
    with pytest.raises(DataError, match="each sample has 5 values, the model was trained on 6"):
        pre.transform(np.ones((2, 5)))


def test_array_missing_values_are_imputed_per_position():
    train = np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, 8.0]])
    pre = FeaturePreprocessor.fit(train, spec(impute="mean", scale="none"))
    assert pre.fill == [2.0, 6.0]
    assert pre.transform(np.array([[np.nan, np.nan]])).tolist() == [[2.0, 6.0]]


# ---- JSON and missing columns ----------------------------------------------------------------------

def test_json_round_trip_transforms_identically():
    train = pd.DataFrame({"colour": ["red", "blue", "red"], "x": [1.0, np.nan, 4.0], "tok": [1, 2, 3]})
    pre = FeaturePreprocessor.fit(train, spec(categorical=["colour"], passthrough=["tok"], impute="mean"))
    text = json.dumps(pre.to_json())
    back = FeaturePreprocessor.from_json(json.loads(text))
    new = pd.DataFrame({"colour": ["blue", "pink"], "x": [np.nan, 9.0], "tok": [7, 8]})
    np.testing.assert_array_equal(back.transform(new), pre.transform(new))
    assert back == pre


def test_json_round_trip_of_an_array_preprocessor():
    train = np.random.default_rng(1).normal(size=(5, 2, 2))
    pre = FeaturePreprocessor.fit(train, spec(scale="minmax"))
    back = FeaturePreprocessor.from_json(json.loads(json.dumps(pre.to_json())))
    np.testing.assert_array_equal(back.transform(train), pre.transform(train))


def test_transform_of_a_frame_missing_a_training_column_names_it():
    pre = FeaturePreprocessor.fit(pd.DataFrame({"height": [1.0, 2.0], "weight": [3.0, 4.0]}), spec())
    with pytest.raises(DataError) as err:
        pre.transform(pd.DataFrame({"height": [1.0], "wieght": [3.0]}), where="new.csv")
    text = str(err.value)
    assert "new.csv" in text and "'weight'" in text and "did you mean 'wieght'" in text


def test_transform_of_a_frame_with_text_in_a_numeric_column_names_column_and_row():
    pre = FeaturePreprocessor.fit(pd.DataFrame({"a": [1.0, 2.0]}), spec())
    with pytest.raises(DataError) as err:
        pre.transform(pd.DataFrame({"a": ["3", "oops"]}))
    assert "'a'" in str(err.value) and "data row 2" in str(err.value) and "'oops'" in str(err.value)


def test_transform_uses_columns_by_name_not_position():
    pre = FeaturePreprocessor.fit(pd.DataFrame({"a": [0.0, 2.0], "b": [10.0, 30.0]}), spec(scale="minmax"))
    out = pre.transform(pd.DataFrame({"b": [30.0], "a": [0.0], "extra": ["ignored"]}))
    assert out.tolist() == [[0.0, 1.0]]


# ---- reported bugs ---------------------------------------------------------------------------------

def test_text_in_a_passthrough_column_is_a_data_error_naming_column_and_row():
    train = pd.DataFrame({"tok": ["5", "abc", "7"], "x": [1.0, 2.0, 3.0]})
    pre = FeaturePreprocessor.fit(train, spec(passthrough=["tok"]))
    with pytest.raises(DataError) as err:
        pre.transform(train)
    assert "'tok'" in str(err.value) and "data row 2" in str(err.value)


def test_scaling_statistics_ignore_missing_values_when_not_imputing():
    pre = FeaturePreprocessor.fit(pd.DataFrame({"a": [1.0, np.nan, 3.0]}), spec(impute="none", scale="standard"))
    assert pre.center == pytest.approx([2.0])
    assert pre.spread == pytest.approx([1.0])
