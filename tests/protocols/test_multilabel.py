"""Multilabel targets end to end: 0/1 columns or one column of label sets → one sigmoid output
of as many units; train, evaluate, predict and a 2-fold k-fold on tiny generated CSVs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import DataError
from dlrun.inference.evaluate import evaluate
from dlrun.inference.predict import predict
from dlrun.protocols.kfold import kfold
from dlrun.spec import load_spec

LABELS = ["sports", "politics", "tech"]


def tags_frame(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Three features; each label switches on with its own feature."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    frame = pd.DataFrame(x, columns=["f1", "f2", "f3"])
    for i, label in enumerate(LABELS):
        frame[label] = (x[:, i] > 0).astype(int)
    return frame


def with_sets(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[["f1", "f2", "f3"]].copy()
    out["tags"] = ["|".join(label for label in LABELS if row[label]) for _, row in frame.iterrows()]
    return out


COLUMNS_SPEC = """
name: tags
seed: 3
data: {source: "csv:tags.csv", target: [sports, politics, tech]}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: sigmoid}
training: {epochs: 2, batch_size: 16}
"""

SETS_SPEC = """
name: tag-sets
seed: 3
data: {source: "csv:tags.csv", target: tags, label_separator: "|"}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3}
training: {epochs: 2, batch_size: 16}
"""


def _write(folder, spec: str, frame: pd.DataFrame):
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "tags.csv", index=False)
    (folder / "spec.yaml").write_text(spec, encoding="utf-8")
    return folder / "spec.yaml"


@pytest.fixture(scope="module")
def column_run(tmp_path_factory):
    from dlrun.protocols.holdout import train

    folder = tmp_path_factory.mktemp("tags")
    path = _write(folder, COLUMNS_SPEC, tags_frame())
    return train(load_spec(path, [f"output.runs_dir={folder / 'runs'}"])), folder


def _check_multilabel_metrics(result: dict) -> None:
    assert result["task"] == "multilabel"
    for key in ("subset_accuracy", "hamming_loss", "f1_micro", "f1_macro"):
        assert 0.0 <= result[key] <= 1.0, key
    assert set(result["per_label"]) == set(LABELS)
    assert {"precision", "recall", "f1", "support"} <= set(result["per_label"]["tech"])
    assert "label_majority" not in result["baseline"] and "subset_accuracy" in result["baseline"]
    assert "hamming_loss" in result["baseline"]


def test_zero_one_columns_train_as_one_multilabel_output(column_run):
    result, _ = column_run
    run = result.run.path
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == {"sports+politics+tech": "multilabel"}
    _check_multilabel_metrics(metrics[metrics["part"]])
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["loss"] == "binary_crossentropy" and config["metrics"] == ["binary_accuracy"]
    report = (run / "report.md").read_text()
    assert "hamming_loss" in report and "| politics |" in report
    balance = metrics["audit"]["class_balance"]["train"]
    assert set(balance) == set(LABELS)


def test_evaluate_and_predict_a_multilabel_run(column_run, tmp_path):
    result, folder = column_run
    evaluation = evaluate(result.run, part="validation")
    _check_multilabel_metrics(evaluation.document["validation"])
    new = tags_frame(20, seed=9)
    new.to_csv(tmp_path / "new.csv", index=False)  # label columns in the file are ignored by predict
    table = predict(result.run, tmp_path / "new.csv")
    name = "sports+politics+tech"
    assert list(table.columns) == [f"{name}_predicted"] + [f"{name}_p_{label}" for label in LABELS]
    for cell in table[f"{name}_predicted"]:
        assert set(filter(None, cell.split("|"))) <= set(LABELS)
    probabilities = table[[f"{name}_p_{label}" for label in LABELS]].to_numpy()
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    chosen = ["|".join(label for label, p in zip(LABELS, row) if p >= 0.5) for row in probabilities]
    assert chosen == list(table[f"{name}_predicted"])
    on_file = evaluate(result.run, tmp_path / "new.csv")  # a new labelled file: the columns gather again
    _check_multilabel_metrics(on_file.document["data"])


def test_a_column_of_label_sets_trains_and_predicts(tmp_path):
    from dlrun.protocols.holdout import train

    path = _write(tmp_path / "spec", SETS_SPEC, with_sets(tags_frame()))
    result = train(load_spec(path, [f"output.runs_dir={tmp_path / 'runs'}"]))
    metrics = json.loads((result.run.path / "metrics.json").read_text())
    assert metrics["task"] == {"tags": "multilabel"}
    _check_multilabel_metrics(metrics[metrics["part"]])
    config = yaml.safe_load((result.run.path / "config.yaml").read_text())
    assert config["model"]["layers"][-1]["Dense"]["activation"] == "sigmoid"  # filled in from the task
    tags_frame(10, seed=4)[["f1", "f2", "f3"]].to_csv(tmp_path / "new.csv", index=False)
    table = predict(result.run, tmp_path / "new.csv")
    assert {"tags_predicted", "tags_p_sports", "tags_p_politics", "tags_p_tech"} == set(table.columns)


def test_two_fold_kfold_on_a_multilabel_target(tmp_path):
    path = _write(tmp_path / "spec", COLUMNS_SPEC + "split: {protocol: kfold, folds: 2}\n", tags_frame())
    result = kfold(load_spec(path, [f"output.runs_dir={tmp_path / 'runs'}"]))
    stats = result.summary["stats"]
    assert {"subset_accuracy", "hamming_loss", "f1_micro", "f1_macro", "baseline_subset_accuracy"} <= set(stats)
    assert result.run.read_info()["headline"]["name"] == "cv_subset_accuracy"


def test_stratified_kfold_is_refused_for_multilabel(tmp_path):
    path = _write(tmp_path / "spec", COLUMNS_SPEC + "split: {protocol: stratified_kfold, folds: 2}\n", tags_frame())
    with pytest.raises(DataError, match="multilabel.*use protocol: kfold"):
        kfold(load_spec(path, [f"output.runs_dir={tmp_path / 'runs'}"]))


def test_a_head_with_the_wrong_units_is_a_located_error(tmp_path):
    path = _write(tmp_path, COLUMNS_SPEC.replace("units: 3, activation: sigmoid", "units: 2, activation: sigmoid"),
                  tags_frame())
    result = CliRunner().invoke(app, ["validate", str(path), "--build"], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "multilabel with 3 labels" in result.output and "Dense(units: 3, activation: sigmoid)" in result.output
    assert "Traceback" not in result.output


def test_target_columns_that_are_not_zero_one(tmp_path):
    frame = tags_frame()
    frame["tech"] = frame["tech"] * 3
    declared = _write(tmp_path / "declared", COLUMNS_SPEC.replace("target: [", "task: multilabel, target: ["), frame)
    result = CliRunner().invoke(app, ["validate", str(declared), "--build"], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "'tech' must hold only 0 and 1" in result.output
    inferred = _write(tmp_path / "inferred", COLUMNS_SPEC, frame)  # not multilabel: one Sequential output is refused
    result = CliRunner().invoke(app, ["validate", str(inferred), "--build"], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    # validate sees it in the first rows already, before --build reads the data
    assert "a Sequential model has one output but there are 3 targets" in result.output
    assert "'tech' holds 3" in result.output


def test_the_cli_trains_and_shows_a_multilabel_run(tmp_path):
    path = _write(tmp_path, COLUMNS_SPEC, tags_frame())
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path / "runs")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "test subset_accuracy" in result.output and "baseline subset_accuracy" in result.output
    shown = runner.invoke(app, ["show", "latest", "--runs-dir", str(tmp_path / "runs")], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "subset_accuracy=" in shown.output and "hamming_loss=" in shown.output
