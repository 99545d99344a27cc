"""dlrun evaluate and dlrun predict on real, tiny runs trained once per module."""

from __future__ import annotations

import hashlib
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlrun.errors import DataError, RunLookupError, UserError
from dlrun.inference.evaluate import evaluate
from dlrun.protocols.holdout import train
from dlrun.inference.predict import predict
from dlrun.runs.rundir import RunDir
from dlrun.spec import load_spec

PNG = b"\x89PNG\r\n\x1a\n"

IRIS = """
name: tiny-iris
seed: 5
data: {source: "sklearn:iris"}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
training: {epochs: 2, batch_size: 16}
"""

BINARY = """
name: tiny-binary
seed: 6
data: {source: "csv:pets.csv", target: label}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 1, activation: sigmoid}
training: {epochs: 2, batch_size: 16}
"""

REGRESSION = """
name: tiny-regression
seed: 7
data: {source: "csv:houses.csv", target: price}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 1}
training: {epochs: 2, batch_size: 16}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _train(folder: Path, spec_text: str):
    spec = _write(folder, "spec.yaml", spec_text)
    return train(load_spec(spec, [f"output.runs_dir={folder / 'runs'}"]))


def _pets_frame(n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).round(4)
    label = np.where(x[:, 0] + x[:, 1] > 0, "dog", "cat")
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": label})


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("iris"), IRIS)


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    folder = tmp_path_factory.mktemp("binary")
    _pets_frame().to_csv(folder / "pets.csv", index=False)
    return _train(folder, BINARY)


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regression")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3)).round(4)
    price = (3 * x[:, 0] - x[:, 1] + 0.1 * rng.normal(size=60)).round(4)
    pd.DataFrame({"rooms": x[:, 0], "age": x[:, 1], "area": x[:, 2], "price": price}).to_csv(
        folder / "houses.csv", index=False)
    return _train(folder, REGRESSION)


def _metrics(run: RunDir) -> dict:
    return json.loads(run.file("metrics.json").read_text())


def _splits(run: RunDir) -> dict:
    return json.loads(run.file("splits.json").read_text())


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != "evaluations"}


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 100 and path.read_bytes()[:8] == PNG


# ---- evaluate on the run's own split ----------------------------------------------------------

def test_evaluate_reproduces_the_test_accuracy_training_recorded(iris):
    result = evaluate(iris.run)
    recorded = _metrics(iris.run)["test"]
    assert result.part == "test"
    assert result.notes == []
    assert result.document["test"]["n"] == len(_splits(iris.run)["test"]) == recorded["n"]
    assert result.document["test"]["accuracy"] == recorded["accuracy"]
    assert result.document["test"]["confusion_matrix"] == recorded["confusion_matrix"]
    assert result.document["test"]["log_loss"] == pytest.approx(recorded["log_loss"], rel=1e-6)
    assert result.document["test"]["baseline"] == recorded["baseline"]


def test_evaluate_writes_metrics_report_and_plots_in_a_new_evaluations_folder(iris):
    result = evaluate(iris.run)
    folder = result.folder
    assert folder.parent == iris.run.file("evaluations")
    written = json.loads((folder / "metrics.json").read_text())
    assert written["run_id"] == iris.run.run_id
    assert written["part"] == "test"
    assert written["test"]["accuracy"] == result.document["test"]["accuracy"]
    assert written["fit"]["epochs_run"] == 2 and "verdict" in written["fit"]
    assert set(written["audit"]["class_balance"]) == {"train", "validation", "test"}
    report = (folder / "report.md").read_text()
    assert report.startswith(f"# Evaluation of run `{iris.run.run_id}` on test")
    assert "| accuracy |" in report and "Confusion matrix" in report and "Baseline" in report
    for name in ("loss.png", "accuracy.png", "confusion_matrix.png"):
        assert _is_png(folder / "plots" / name), name
        assert f"(plots/{name})" in report


def test_each_evaluation_gets_its_own_folder(iris):
    first = evaluate(iris.run).folder
    second = evaluate(iris.run).folder
    assert first != second
    assert (first / "metrics.json").is_file() and (second / "metrics.json").is_file()


def test_evaluate_leaves_every_training_artifact_byte_identical(iris):
    before = _hashes(iris.run.path)
    assert {"run.json", "config.yaml", "splits.json", "preprocessing.json", "history.csv", "model.keras",
            "metrics.json", "report.md"} <= set(before)
    evaluate(iris.run)
    evaluate(iris.run, part="validation")
    assert _hashes(iris.run.path) == before


def test_split_validation_evaluates_the_validation_rows(iris):
    result = evaluate(iris.run, part="validation")
    assert result.part == "validation"
    assert result.document["part"] == "validation"
    assert "test" not in result.document
    section = result.document["validation"]
    assert section["n"] == len(_splits(iris.run)["validation"])
    assert sum(map(sum, section["confusion_matrix"])) == section["n"]
    assert "on validation" in (result.folder / "report.md").read_text().splitlines()[0]


def test_split_train_evaluates_the_training_rows(iris):
    result = evaluate(iris.run, part="train")
    assert result.document["train"]["n"] == len(_splits(iris.run)["train"])


def test_unknown_split_is_a_user_error(iris):
    with pytest.raises(UserError, match="--split must be one of test, validation, train, not 'holdout'"):
        evaluate(iris.run, part="holdout")


def test_evaluate_a_run_without_model_keras_is_a_clear_error(iris, tmp_path):
    copy = tmp_path / iris.run.run_id
    shutil.copytree(iris.run.path, copy, ignore=shutil.ignore_patterns("model.keras", "evaluations"))
    with pytest.raises(UserError, match="has no model.keras"):
        evaluate(RunDir(copy))
    assert not (copy / "evaluations").exists() or not any((copy / "evaluations").iterdir())


def test_evaluate_an_incomplete_run_is_a_lookup_error(iris, tmp_path):
    copy = tmp_path / iris.run.run_id
    shutil.copytree(iris.run.path, copy, ignore=shutil.ignore_patterns("preprocessing.json", "evaluations"))
    with pytest.raises(RunLookupError, match=r"not a complete run \(missing preprocessing.json\)"):
        evaluate(RunDir(copy))


def test_evaluate_notes_when_the_data_changed_since_training(binary, tmp_path):
    data_dir = tmp_path / "changed"
    data_dir.mkdir()
    frame = _pets_frame()
    frame.loc[0, "a"] += 1.0
    frame.to_csv(data_dir / "pets.csv", index=False)
    copy = tmp_path / binary.run.run_id
    shutil.copytree(binary.run.path, copy, ignore=shutil.ignore_patterns("evaluations"))
    info = json.loads((copy / "run.json").read_text())
    (copy / "run.json").write_text(json.dumps({**info, "data_dir": str(data_dir)}))
    result = evaluate(RunDir(copy))
    assert len(result.notes) == 1 and "the data differs from what this run was trained on" in result.notes[0]
    assert result.document["notes"] == result.notes


def test_evaluate_a_smoke_run_uses_the_same_sampled_rows(tmp_path):
    spec = _write(tmp_path, "smoke.yaml", """
    name: smoke-digits
    seed: 2
    data: {source: "sklearn:digits"}
    model:
      layers:
        - Dense: {units: 10, activation: softmax}
    training: {epochs: 1}
    """)
    trained = train(load_spec(spec, [f"output.runs_dir={tmp_path / 'runs'}"]), smoke=True)
    assert len(_splits(trained.run)["sample"]) < 1797
    result = evaluate(trained.run)
    assert result.notes == []
    assert result.document["test"]["n"] == trained.metrics["test"]["n"] == len(_splits(trained.run)["test"])
    assert result.document["test"]["accuracy"] == trained.metrics["test"]["accuracy"]


# ---- evaluate on a new data file ---------------------------------------------------------------

def test_data_file_with_labels_is_evaluated_for_a_csv_trained_run(binary, tmp_path):
    fresh = _pets_frame(n=30, seed=99)
    path = tmp_path / "new_pets.csv"
    fresh.to_csv(path, index=False)
    result = evaluate(binary.run, data=path)
    assert result.part == "data"
    assert result.document["data"]["n"] == 30
    assert result.document["data"]["labels"] == ["cat", "dog"]
    assert (result.folder / "report.md").is_file()


def test_data_file_for_a_sklearn_trained_run_is_read_with_the_runs_target_column(iris, tmp_path):
    path = _iris_csv(np.arange(0, 150, 5), tmp_path / "iris_labelled.csv", with_target=True)
    result = evaluate(iris.run, data=path)
    assert result.document["data"]["n"] == 30


def test_data_file_without_the_target_column_is_a_data_error(binary, tmp_path):
    path = tmp_path / "unlabelled.csv"
    _pets_frame(n=10).drop(columns=["label"]).to_csv(path, index=False)
    with pytest.raises(DataError) as caught:
        evaluate(binary.run, data=path)
    assert "label" in str(caught.value) and "unlabelled.csv" in str(caught.value)


def test_missing_data_file_is_a_data_error(binary, tmp_path):
    with pytest.raises(DataError, match="nowhere.csv: data file not found"):
        evaluate(binary.run, data=tmp_path / "nowhere.csv")


# ---- plots per task ----------------------------------------------------------------------------

def test_binary_run_evaluation_has_roc_and_precision_recall_plots(binary):
    result = evaluate(binary.run)
    plots = result.folder / "plots"
    for name in ("roc.png", "precision_recall.png", "confusion_matrix.png", "loss.png"):
        assert _is_png(plots / name), name
    section = result.document["test"]
    assert section["task"] == "binary" and section["labels"] == ["cat", "dog"]
    assert section["accuracy"] == _metrics(binary.run)["test"]["accuracy"]
    assert "roc_auc" in section  # a stratified test split holds both classes


def test_regression_run_evaluation_has_predicted_vs_true_and_residual_plots(regression):
    result = evaluate(regression.run)
    plots = result.folder / "plots"
    for name in ("predicted_vs_true.png", "residuals.png", "loss.png"):
        assert _is_png(plots / name), name
    assert not (plots / "confusion_matrix.png").exists()
    section = result.document["test"]
    recorded = _metrics(regression.run)["test"]
    assert section["task"] == "regression"
    assert section["mae"] == pytest.approx(recorded["mae"], rel=1e-6)
    assert section["baseline"] == recorded["baseline"]
    report = (result.folder / "report.md").read_text()
    assert "| mae |" in report and "| r2 |" in report and "| accuracy |" not in report


# ---- predict -----------------------------------------------------------------------------------

def _iris_csv(rows: np.ndarray, path: Path, with_target: bool = False) -> Path:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.iloc[rows]
    if not with_target:
        frame = frame.drop(columns=["target"])
    frame.to_csv(path, index=False)
    return path


def test_predict_gives_the_class_and_probabilities_that_sum_to_one(iris, tmp_path):
    path = _iris_csv(np.arange(0, 150, 10), tmp_path / "iris_new.csv")
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
    test_rows = np.array(_splits(iris.run)["test"])
    path = _iris_csv(test_rows, tmp_path / "iris_test.csv", with_target=True)  # the target column is allowed
    table = predict(iris.run, path)
    truth = np.array(["setosa", "versicolor", "virginica"])[pd.read_csv(path)["target"].to_numpy()]
    accuracy = float(np.mean(table["target_predicted"].to_numpy() == truth))
    assert accuracy == _metrics(iris.run)["test"]["accuracy"]


def test_predict_binary_csv_has_both_class_probabilities(binary, tmp_path):
    path = tmp_path / "pets_new.csv"
    _pets_frame(n=12, seed=3).drop(columns=["label"]).to_csv(path, index=False)
    table = predict(binary.run, path)
    assert list(table.columns) == ["label_predicted", "label_p_cat", "label_p_dog"]
    assert set(table["label_predicted"]) <= {"cat", "dog"}
    assert np.allclose(table["label_p_cat"] + table["label_p_dog"], 1.0)


def test_predict_allows_the_target_column_and_any_column_order(binary, tmp_path):
    frame = _pets_frame(n=12, seed=3)
    plain, shuffled = tmp_path / "plain.csv", tmp_path / "shuffled.csv"
    frame.drop(columns=["label"]).to_csv(plain, index=False)
    frame[["label", "c", "a", "b"]].to_csv(shuffled, index=False)
    pd.testing.assert_frame_equal(predict(binary.run, plain), predict(binary.run, shuffled))


def test_predict_with_a_missing_column_is_a_data_error_naming_it(binary, tmp_path):
    path = tmp_path / "no_b.csv"
    _pets_frame(n=5).drop(columns=["label", "b"]).to_csv(path, index=False)
    with pytest.raises(DataError) as caught:
        predict(binary.run, path)
    message = str(caught.value)
    assert "no_b.csv" in message
    assert "missing column(s) the model was trained on: b" in message


def test_predict_with_an_extra_column_is_a_data_error_naming_it(binary, tmp_path):
    path = tmp_path / "extra.csv"
    frame = _pets_frame(n=5).drop(columns=["label"])
    frame["colour"] = 1.0
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as caught:
        predict(binary.run, path)
    assert "column(s) the model has never seen: colour" in str(caught.value)
    assert "missing" not in str(caught.value)


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
