"""dlrun evaluate on real, tiny runs: the run's own split, a new data file, plots per task."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from dlrun.errors import DataError, RunLookupError, UserError
from dlrun.inference.evaluate import evaluate
from dlrun.runs.rundir import RunDir
from tests.inference.samples import hashes, iris_csv, is_png, metrics, pets_frame, splits


# ---- evaluate on the run's own split ----------------------------------------------------------

def test_evaluate_reproduces_the_test_accuracy_training_recorded(iris):
    result = evaluate(iris.run)
    recorded = metrics(iris.run)["test"]
    assert result.part == "test"
    assert result.notes == []
    assert result.document["test"]["n"] == len(splits(iris.run)["test"]) == recorded["n"]
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
        assert is_png(folder / "plots" / name), name
        assert f"(plots/{name})" in report


def test_each_evaluation_gets_its_own_folder(iris):
    first = evaluate(iris.run).folder
    second = evaluate(iris.run).folder
    assert first != second
    assert (first / "metrics.json").is_file() and (second / "metrics.json").is_file()


def test_evaluate_leaves_every_training_artifact_byte_identical(iris):
    before = hashes(iris.run.path)
    assert {"run.json", "config.yaml", "splits.json", "preprocessing.json", "history.csv", "model.keras",
            "metrics.json", "report.md"} <= set(before)
    evaluate(iris.run)
    evaluate(iris.run, part="validation")
    assert hashes(iris.run.path) == before


def test_split_validation_evaluates_the_validation_rows(iris):
    result = evaluate(iris.run, part="validation")
    assert result.part == "validation"
    assert result.document["part"] == "validation"
    assert "test" not in result.document
    section = result.document["validation"]
    assert section["n"] == len(splits(iris.run)["validation"])
    assert sum(map(sum, section["confusion_matrix"])) == section["n"]
    assert "on validation" in (result.folder / "report.md").read_text().splitlines()[0]


def test_split_train_evaluates_the_training_rows(iris):
    result = evaluate(iris.run, part="train")
    assert result.document["train"]["n"] == len(splits(iris.run)["train"])


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
    frame = pets_frame()
    frame.loc[0, "a"] += 1.0
    frame.to_csv(data_dir / "pets.csv", index=False)
    copy = tmp_path / binary.run.run_id
    shutil.copytree(binary.run.path, copy, ignore=shutil.ignore_patterns("evaluations"))
    info = json.loads((copy / "run.json").read_text())
    (copy / "run.json").write_text(json.dumps({**info, "data_dir": str(data_dir)}))
    result = evaluate(RunDir(copy))
    assert len(result.notes) == 1 and "the data differs from what this run was trained on" in result.notes[0]
    assert result.document["notes"] == result.notes


def test_evaluate_a_smoke_run_uses_the_same_sampled_rows(trained_run):
    trained = trained_run("""
    name: smoke-digits
    seed: 2
    data: {source: "sklearn:digits"}
    model:
      layers:
        - Dense: {units: 10, activation: softmax}
    training: {epochs: 1}
    """, smoke=True)
    assert len(splits(trained.run)["sample"]) < 1797
    result = evaluate(trained.run)
    assert result.notes == []
    assert result.document["test"]["n"] == trained.metrics["test"]["n"] == len(splits(trained.run)["test"])
    assert result.document["test"]["accuracy"] == trained.metrics["test"]["accuracy"]


# ---- evaluate on a new data file ---------------------------------------------------------------

def test_data_file_with_labels_is_evaluated_for_a_csv_trained_run(binary, tmp_path):
    fresh = pets_frame(n=30, seed=99)
    path = tmp_path / "new_pets.csv"
    fresh.to_csv(path, index=False)
    result = evaluate(binary.run, data=path)
    assert result.part == "data"
    assert result.document["data"]["n"] == 30
    assert result.document["data"]["labels"] == ["cat", "dog"]
    assert (result.folder / "report.md").is_file()


def test_data_file_for_a_sklearn_trained_run_is_read_with_the_runs_target_column(iris, tmp_path):
    path = iris_csv(np.arange(0, 150, 5), tmp_path / "iris_labelled.csv", with_target=True)
    result = evaluate(iris.run, data=path)
    assert result.document["data"]["n"] == 30


def test_data_file_without_the_target_column_is_a_data_error(binary, tmp_path):
    path = tmp_path / "unlabelled.csv"
    pets_frame(n=10).drop(columns=["label"]).to_csv(path, index=False)
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
        assert is_png(plots / name), name
    section = result.document["test"]
    assert section["task"] == "binary" and section["labels"] == ["cat", "dog"]
    assert section["accuracy"] == metrics(binary.run)["test"]["accuracy"]
    assert "roc_auc" in section  # a stratified test split holds both classes


def test_regression_run_evaluation_has_predicted_vs_true_and_residual_plots(regression):
    result = evaluate(regression.run)
    plots = result.folder / "plots"
    for name in ("predicted_vs_true.png", "residuals.png", "loss.png"):
        assert is_png(plots / name), name
    assert not (plots / "confusion_matrix.png").exists()
    section = result.document["test"]
    recorded = metrics(regression.run)["test"]
    assert section["task"] == "regression"
    assert section["mae"] == pytest.approx(recorded["mae"], rel=1e-6)
    assert section["baseline"] == recorded["baseline"]
    report = (result.folder / "report.md").read_text()
    assert "| mae |" in report and "| r2 |" in report and "| accuracy |" not in report
