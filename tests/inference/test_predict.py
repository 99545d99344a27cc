"""dlrun predict on real, tiny runs: the run's preprocessing, a column check, class probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlrun.errors import DataError
from dlrun.inference.predict import predict
from tests.inference.samples import iris_csv, metrics, pets_frame, splits


def test_predict_gives_the_class_and_probabilities_that_sum_to_one(iris, tmp_path):
    path = iris_csv(np.arange(0, 150, 10), tmp_path / "iris_new.csv")
    table = predict(iris.run, path)
    assert list(table.columns) == ["target_predicted", "target_p_setosa", "target_p_versicolor",
                                   "target_p_virginica"]
    assert len(table) == 15
    assert set(table["target_predicted"]) <= {"setosa", "versicolor", "virginica"}
    probs = table[["target_p_setosa", "target_p_versicolor", "target_p_virginica"]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert ((probs >= 0) & (probs <= 1)).all()
    names = np.array(["setosa", "versicolor", "virginica"])
    assert (names[probs.argmax(axis=1)] == table["target_predicted"].to_numpy()).all()


def test_predict_on_the_test_rows_agrees_with_the_recorded_test_accuracy(iris, tmp_path):
    test_rows = np.array(splits(iris.run)["test"])
    path = iris_csv(test_rows, tmp_path / "iris_test.csv", with_target=True)  # the target column is allowed
    table = predict(iris.run, path)
    truth = np.array(["setosa", "versicolor", "virginica"])[pd.read_csv(path)["target"].to_numpy()]
    accuracy = float(np.mean(table["target_predicted"].to_numpy() == truth))
    assert accuracy == metrics(iris.run)["test"]["accuracy"]


def test_predict_binary_csv_has_both_class_probabilities(binary, tmp_path):
    path = tmp_path / "pets_new.csv"
    pets_frame(n=12, seed=3).drop(columns=["label"]).to_csv(path, index=False)
    table = predict(binary.run, path)
    assert list(table.columns) == ["label_predicted", "label_p_cat", "label_p_dog"]
    assert set(table["label_predicted"]) <= {"cat", "dog"}
    assert np.allclose(table["label_p_cat"] + table["label_p_dog"], 1.0)


def test_predict_allows_the_target_column_and_any_column_order(binary, tmp_path):
    frame = pets_frame(n=12, seed=3)
    plain, shuffled = tmp_path / "plain.csv", tmp_path / "shuffled.csv"
    frame.drop(columns=["label"]).to_csv(plain, index=False)
    frame[["label", "c", "a", "b"]].to_csv(shuffled, index=False)
    pd.testing.assert_frame_equal(predict(binary.run, plain), predict(binary.run, shuffled))


def test_predict_with_a_missing_column_is_a_data_error_naming_it(binary, tmp_path):
    path = tmp_path / "no_b.csv"
    pets_frame(n=5).drop(columns=["label", "b"]).to_csv(path, index=False)
    with pytest.raises(DataError) as caught:
        predict(binary.run, path)
    message = str(caught.value)
    assert "no_b.csv" in message
    assert "missing column(s) the model was trained on: b" in message


def test_predict_ignores_an_extra_column_with_a_note_naming_it(binary, tmp_path):
    path = tmp_path / "extra.csv"
    frame = pets_frame(n=5).drop(columns=["label"])
    frame["colour"] = 1.0
    frame.to_csv(path, index=False)
    table = predict(binary.run, path)
    assert len(table) == 5
    assert any("ignored column(s) the model was not trained on: colour" in note for note in table.attrs["notes"])


def test_predict_writes_the_table_to_the_output_csv(regression, tmp_path):
    path = tmp_path / "houses_new.csv"
    pd.DataFrame({"rooms": [0.1, -1.0], "age": [0.5, 0.0], "area": [1.0, 2.0]}).to_csv(path, index=False)
    output = tmp_path / "out" / "predictions.csv"
    table = predict(regression.run, path, output)
    assert list(table.columns) == ["price_predicted"]
    assert np.isfinite(table["price_predicted"]).all()
    pd.testing.assert_frame_equal(pd.read_csv(output), table)


def test_predict_a_missing_file_is_a_data_error(binary, tmp_path):
    with pytest.raises(DataError, match="not found"):
        predict(binary.run, tmp_path / "nothing.csv")
