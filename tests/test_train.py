"""dlrun train, end to end: real Keras training on tiny data, real run directories."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import CONFIGS, ROOT
from dlrun.errors import Diverged, SpecError, UserError
from dlrun.protocols.holdout import train
from dlrun.spec import load_spec

TINY_DIGITS = """
name: tiny-digits
seed: 3
data: {source: "sklearn:digits"}
model:
  layers:
    - Dense: {units: 16, activation: relu}
    - Dense: {units: 10, activation: softmax}
training: {epochs: 2, batch_size: 64}
callbacks:
  early_stopping: {monitor: val_loss, patience: 3}
  model_checkpoint: {monitor: val_accuracy}
"""


def _train(path, runs_dir, *sets):
    return train(load_spec(path, [f"output.runs_dir={runs_dir}", *sets]))


def test_run_directory_holds_every_artifact(write_spec, runs_dir):
    result = _train(write_spec(TINY_DIGITS), runs_dir)
    run = result.run.path
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


def test_saved_model_reproduces_test_accuracy_exactly(write_spec, runs_dir):
    import keras

    from dlrun.protocols.stages import prepare

    path = write_spec(TINY_DIGITS)
    result = _train(path, runs_dir)
    metrics = json.loads((result.run.path / "metrics.json").read_text())
    model = keras.models.load_model(result.run.path / "model.keras")
    prepared = prepare(load_spec(path))
    x_test, y_test = prepared.part("test")
    splits = json.loads((result.run.path / "splits.json").read_text())
    assert prepared.splits.test.tolist() == splits["test"]
    accuracy = float(np.mean(model.predict(x_test, verbose=0).argmax(axis=1) == y_test))
    assert accuracy == metrics["test"]["accuracy"]


def test_same_seed_gives_identical_history(write_spec, runs_dir):
    path = write_spec(TINY_DIGITS)
    first = _train(path, runs_dir).run.path / "history.csv"
    second = _train(path, runs_dir).run.path / "history.csv"
    assert first.read_bytes() == second.read_bytes()


def test_digits_mlp_config_reaches_95_percent(runs_dir):
    result = _train(CONFIGS / "digits_mlp.yaml", runs_dir)
    assert result.metrics["test"]["accuracy"] >= 0.95


def test_graph_model_with_two_inputs_and_two_outputs(runs_dir):
    result = _train(CONFIGS / "reviews_two_inputs.yaml", runs_dir, "training.epochs=2")
    test = result.metrics["test"]
    assert set(test) == {"positive_head", "stars_head"}
    assert test["positive_head"]["task"] == "binary" and 0 <= test["positive_head"]["accuracy"] <= 1
    assert test["stars_head"]["task"] == "regression" and math.isfinite(test["stars_head"]["mae"])
    header = (result.run.path / "history.csv").read_text().splitlines()[0].split(",")
    assert "positive_head_accuracy" in header and "val_stars_head_mae" in header


def test_shared_layer_node_reuses_the_same_weights(write_spec, tmp_path, runs_dir):
    import keras

    rng = np.random.default_rng(0)
    frame = "a1,a2,b1,b2,y\n" + "\n".join(
        ",".join(f"{v:.3f}" for v in row) + f",{int(row[0] + row[2] > 0)}" for row in rng.normal(size=(80, 4)))
    (tmp_path / "pairs.csv").write_text(frame + "\n")
    path = write_spec("""
    data: {source: "csv:pairs.csv", target: y}
    model:
      inputs:
        left: {columns: [a1, a2]}
        right: {columns: [b1, b2]}
      nodes:
        - {name: encode, inputs: left, Dense: {units: 4, activation: relu}}
        - {name: encode_right, inputs: right, shared: encode}
        - {name: both, inputs: [encode, encode_right], Concatenate: {}}
        - {name: out, inputs: both, Dense: {units: 1}}
      outputs:
        - {node: out, target: y}
    training: {epochs: 1}
    """)
    result = _train(path, runs_dir)
    model = keras.models.load_model(result.run.path / "model.keras")
    dense_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense_layers) == 2  # the shared encoder appears once
    resolved = yaml.safe_load((result.run.path / "config.yaml").read_text())
    assert resolved["model"]["outputs"][0]["loss"] == "binary_crossentropy"
    assert resolved["model"]["nodes"][3]["Dense"]["activation"] == "sigmoid"


def test_output_units_not_matching_classes_is_a_located_error(write_spec, runs_dir):
    path = write_spec(TINY_DIGITS.replace("units: 10", "units: 3"))
    with pytest.raises(SpecError) as caught:
        _train(path, runs_dir)
    assert "spec.yaml:7:" in str(caught.value)
    assert "10 classes" in str(caught.value) and "units: 10" in str(caught.value)
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # nothing written for a bad spec


def test_nan_loss_marks_run_diverged(write_spec, runs_dir):
    path = write_spec("""
    data: {source: "sklearn:diabetes", scale: none}
    model:
      layers:
        - Dense: {units: 32, activation: relu}
        - Dense: {units: 1}
    optimizer: {name: sgd, learning_rate: 1000000.0}
    training: {epochs: 3}
    """)
    with pytest.raises(Diverged) as caught:
        _train(path, runs_dir)
    assert "learning_rate" in str(caught.value)
    (run,) = list(runs_dir.iterdir())
    assert json.loads((run / "run.json").read_text())["status"] == "diverged"


def test_gpu_requested_without_gpu_is_a_clear_error(write_spec, runs_dir):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(UserError, match="no GPU"):
        _train(write_spec(TINY_DIGITS), runs_dir, "training.device=gpu")


@pytest.mark.parametrize("schedule", ["{type: exponential, decay_rate: 0.5}", "{type: step, drop: 0.5, epochs_drop: 1}",
                                      "{type: time_based, decay: 1.0}", "{type: cosine, warmup_epochs: 1}"])
def test_learning_rate_schedule_is_applied_per_epoch(write_spec, runs_dir, schedule):
    path = write_spec(TINY_DIGITS.replace("callbacks:\n  early_stopping: {monitor: val_loss, patience: 3}\n", "callbacks:\n")
                      + f"optimizer: {{name: sgd, learning_rate: 0.1, schedule: {schedule}}}\n")
    result = _train(path, runs_dir, "training.epochs=3")
    rates = [row["learning_rate"] for row in result.history]
    assert len(set(round(r, 8) for r in rates)) > 1  # the rate changed between epochs


OFFLINE = sorted(p.name for p in CONFIGS.glob("*.yaml")
                 if "keras:" not in p.read_text() and "kfold" not in p.read_text().split("protocol:")[-1][:30])


@pytest.mark.parametrize("config", OFFLINE)
def test_every_offline_config_passes_smoke(config, runs_dir):
    loaded = load_spec(CONFIGS / config, [f"output.runs_dir={runs_dir}", "training.epochs=1"])
    result = train(loaded, smoke=True)
    assert result.status == "completed"
    assert result.epochs_run == 1


def test_cli_train_smoke_in_a_subprocess(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dlrun", "train", str(CONFIGS / "iris.yaml"), "--smoke",
                           "--runs-dir", str(tmp_path / "runs"), "--name", "cli-smoke"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "completed" in proc.stdout and "cli-smoke" in proc.stdout
    assert "oneDNN" not in proc.stderr + proc.stdout  # TensorFlow's C++ noise is hidden
    (run,) = list((tmp_path / "runs").iterdir())
    assert run.name.split("-", 2)[2].startswith("cli-smoke")


def test_cli_bad_data_file_exits_2_without_traceback(write_spec, tmp_path):
    path = write_spec('data: {source: "csv:nowhere.csv", target: y}\nmodel: {layers: [{Dense: {units: 1}}]}\n')
    proc = subprocess.run([sys.executable, "-m", "dlrun", "train", str(path), "--runs-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "nowhere.csv" in proc.stderr and "not found" in proc.stderr


def test_tensorboard_and_reduce_lr_callbacks_run(write_spec, runs_dir):
    # mode max on a falling val_loss: no epoch "improves", so the rate halves after every epoch
    path = write_spec(TINY_DIGITS.replace("  model_checkpoint: {monitor: val_accuracy}\n",
                                          "  tensorboard: true\n  reduce_lr_on_plateau: {monitor: val_loss, patience: 0, "
                                          "factor: 0.5, mode: max}\n"))
    result = _train(path, runs_dir, "training.epochs=3")
    assert any((result.run.path / "tensorboard").rglob("*.tfevents*"))
    rates = [row["learning_rate"] for row in result.history]
    assert rates[-1] < rates[0] and rates == sorted(rates, reverse=True)
