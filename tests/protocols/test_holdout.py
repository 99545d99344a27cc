"""dlrun train (the holdout protocol), end to end: real Keras training on tiny data, real run directories."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from dlrun.errors import Diverged, SpecError
from dlrun.runs.artifacts import read_info
from dlrun.spec import load_spec
from tests.support import CONFIGS, TINY_DIGITS


def test_run_directory_holds_every_artifact(trained_run):
    run = trained_run(TINY_DIGITS).run.path
    for name in ("run.json", "config.yaml", "splits.json", "preprocessing.json", "history.csv",
                 "model.keras", "metrics.json", "checkpoints/best.keras", "plots/loss.png", "plots/accuracy.png"):
        assert (run / name).is_file(), name
        assert (run / name).stat().st_size > 0, name
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed"
    assert info["seed"] == 3
    assert len(info["data"]["fingerprint"]) == 64
    assert info["versions"]["tensorflow"] != "not installed"
    assert info["runtime"]["device"] == "cpu"
    assert info["runtime"]["device_reason"] == "no GPU on this machine"
    assert {"command", "host", "git_commit", "started", "finished"} <= set(info)
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["loss"] == "sparse_categorical_crossentropy"  # filled in from the task
    assert resolved["metrics"] == ["accuracy"]
    assert resolved["training"]["device"] == "auto"  # every default is written out
    splits = json.loads((run / "splits.json").read_text())
    every = sorted(splits["train"] + splits["validation"] + splits["test"])
    assert every == list(range(1797))
    with open(run / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(rows[0])


def test_saved_model_reproduces_test_accuracy_exactly(trained_run, write_spec):
    import keras

    from dlrun.protocols.stages import prepare

    result = trained_run(TINY_DIGITS)
    metrics = json.loads((result.run.path / "metrics.json").read_text())
    model = keras.models.load_model(result.run.path / "model.keras")
    prepared = prepare(load_spec(write_spec(TINY_DIGITS)))
    x_test, y_test = prepared.part("test")
    splits = json.loads((result.run.path / "splits.json").read_text())
    assert prepared.splits.test.tolist() == splits["test"]
    accuracy = float(np.mean(model.predict(x_test, verbose=0).argmax(axis=1) == y_test))
    assert accuracy == metrics["test"]["accuracy"]


def test_same_seed_gives_identical_history(trained_run, runs_dir):
    first = trained_run(TINY_DIGITS).run.file("history.csv")
    second = trained_run(TINY_DIGITS, runs_dir=runs_dir).run.file("history.csv")  # trained again, here
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.slow  # 30 epochs of digits (early stopping may end it sooner)
def test_digits_mlp_config_reaches_95_percent(trained_run):
    result = trained_run(CONFIGS / "digits_mlp.yaml")
    assert read_info(result.run.path)["status"] == "completed"
    assert result.metrics["test"]["accuracy"] >= 0.95


def test_output_units_not_matching_classes_is_a_located_error(trained_run, runs_dir):
    with pytest.raises(SpecError) as caught:
        trained_run(TINY_DIGITS.replace("units: 10", "units: 3"), runs_dir=runs_dir)
    assert "spec.yaml:7:" in str(caught.value)
    assert "10 classes" in str(caught.value) and "units: 10" in str(caught.value)
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # nothing written for a bad spec


def test_nan_loss_marks_run_diverged(trained_run, runs_dir):
    spec = """
    data: {source: "sklearn:diabetes", scale: none}
    model:
      layers:
        - Dense: {units: 32, activation: relu}
        - Dense: {units: 1}
    optimizer: {name: sgd, learning_rate: 1000000.0}
    training: {epochs: 3}
    """
    with pytest.raises(Diverged) as caught:
        trained_run(spec, runs_dir=runs_dir)
    assert "learning_rate" in str(caught.value)
    (run,) = list(runs_dir.iterdir())
    assert json.loads((run / "run.json").read_text())["status"] == "diverged"
