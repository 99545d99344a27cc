"""Custom pieces by name: callbacks (`callbacks.custom`), an optimizer and a keras.Model subclass from
`imports:` modules, per-step learning-rate schedules (`type: keras`, `type: cyclic`), and F1 / IoU
metrics configured for each head — each on a real, tiny training, and each wrong name a located
problem (exit 2) before any run folder exists."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import uuid
import zipfile

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.runs.artifacts import model_path
from tests.support import ROOT, assert_refused, child_env, combined_output, write_dedented

runner = CliRunner()
MODULE = f"dlrun_pieces_{uuid.uuid4().hex[:8]}"  # a fresh name: a module is imported once per process

PIECES = f'''
from pathlib import Path

import keras


class EpochFiles(keras.callbacks.Callback):
    """Writes <prefix>-<epoch>.txt into the fit's folder after every epoch."""

    def __init__(self, prefix="epoch", run_dir=None):
        super().__init__()
        self.prefix, self.run_dir = prefix, Path(run_dir)

    def on_epoch_end(self, epoch, logs=None):
        (self.run_dir / f"{{self.prefix}}-{{epoch + 1}}.txt").write_text(str(logs["loss"]))


TRACED = []  # a TensorFlow train_step runs in Python when it is traced into a graph


@keras.saving.register_keras_serializable(package="{MODULE}")
class CountingModel(keras.Model):
    """A custom training loop: Keras's step, plus a `custom_step` log of 1 (a history column)."""

    def train_step(self, data):
        TRACED.append(1)
        logs = super().train_step(data)
        return {{**logs, "custom_step": 1.0}}


@keras.saving.register_keras_serializable(package="{MODULE}")
class JaxCountingModel(keras.Model):
    """The same loop in JAX's form: the state goes in and comes back."""

    def train_step(self, state, data):
        logs, state = super().train_step(state, data)
        return {{**logs, "custom_step": 1.0}}, state


@keras.saving.register_keras_serializable(package="{MODULE}")
class HalfSGD(keras.optimizers.SGD):
    """SGD at half the learning rate it is given."""

    def __init__(self, learning_rate=0.01, **kwargs):
        super().__init__(learning_rate=learning_rate / 2, **kwargs)
'''

IRIS = f"""
name: pieces
seed: 4
imports: [{MODULE}]
data: {{source: "sklearn:iris"}}
model:
  model_class: CountingModel
  layers:
    - Dense: {{units: 8, activation: relu}}
    - Dense: {{units: 3, activation: softmax}}
optimizer: {{name: HalfSGD, learning_rate: 0.2}}
metrics: [accuracy, f1_score, iou, mean_iou]
training: {{epochs: 2, batch_size: 16}}
callbacks:
  custom:
    - EpochFiles: {{prefix: seen}}
    - TerminateOnNaN: {{}}
"""

BREAST_CANCER = """
name: binary-metrics
seed: 4
data: {source: "sklearn:breast_cancer"}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 1, activation: sigmoid}
optimizer: {name: adam, learning_rate: 0.01}
metrics: [accuracy, F1Score, IoU, MeanIoU]
training: {epochs: 2, batch_size: 32}
"""

SCHEDULED = """
name: scheduled
seed: 4
data: {source: "sklearn:iris"}
model:
  layers:
    - Dense: {units: 3, activation: softmax}
optimizer: {name: sgd, learning_rate: 0.01}
training: {epochs: 3, batch_size: 16}
"""
STEPS_PER_EPOCH = 6  # iris: 90 training rows in batches of 16


@pytest.fixture(scope="module")
def pieces(trained_run):
    """The iris run with every custom piece: callbacks, model class, optimizer, f1 and IoU metrics."""
    return trained_run(IRIS, files={f"{MODULE}.py": PIECES})


def _invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    return result, combined_output(result)


def _evaluated(run, part: str = "validation") -> dict:
    """`dlrun evaluate RUN --split PART --json` (the saved model.keras, loaded again), its metrics."""
    result, output = _invoke("evaluate", run.run_id, "--runs-dir", run.path.parent, "--split", part, "--json")
    assert result.exit_code == 0, output
    return json.loads(result.stdout)[part]


def _iou(matrix: list[list[int]], classes: list[int]) -> list[float]:
    return [matrix[c][c] / (sum(matrix[c]) + sum(row[c] for row in matrix) - matrix[c][c]) for c in classes]


# ---- callbacks, model class, optimizer ---------------------------------------------------------------

def test_a_custom_callback_gets_the_run_folder_and_writes_a_file_every_epoch(pieces):
    written = sorted(p.name for p in pieces.run.path.glob("seen-*.txt"))
    assert written == ["seen-1.txt", "seen-2.txt"]
    losses = [float((pieces.run.path / name).read_text()) for name in written]
    assert losses == pytest.approx([row["loss"] for row in pieces.history])


def test_the_model_class_train_step_is_the_training_loop(pieces):
    import importlib

    assert [row["custom_step"] for row in pieces.history] == [1.0, 1.0]  # logs only its train_step returns
    assert importlib.import_module(MODULE).TRACED  # and TensorFlow traced (called) it


def test_the_saved_model_is_the_model_class_and_the_imported_optimizer(pieces):
    with zipfile.ZipFile(model_path(pieces.run.path)) as archive:
        config = json.loads(archive.read("config.json"))
    assert config["registered_name"] == f"{MODULE}>CountingModel"
    optimizer = config["compile_config"]["optimizer"]
    assert optimizer["registered_name"] == f"{MODULE}>HalfSGD"
    assert optimizer["config"]["learning_rate"] == pytest.approx(0.1)  # its own __init__ ran
    assert {"n", "accuracy"} <= set(_evaluated(pieces.run, "test"))  # model.keras loads again


@pytest.mark.parametrize("setting, field, fragment", [
    ("callbacks.custom[0]={EpochFile: {prefix: x}}", "callbacks.custom[0].EpochFile",
     "unknown callback 'EpochFile'"),
    ("callbacks.custom[0]={EpochFiles: {prefx: x}}", "callbacks.custom[0].EpochFiles.prefx",
     "did you mean 'prefix'?"),
    ("optimizer.name=HalfSDG", "optimizer.name", "unknown optimizer 'HalfSDG'"),
    ("model.model_class=CountingModle", "model.model_class", "unknown model class 'CountingModle'"),
])
def test_an_unknown_piece_is_a_located_problem_at_validate_build(tmp_path, setting, field, fragment):
    write_dedented(tmp_path / f"{MODULE}.py", PIECES)
    spec = write_dedented(tmp_path / "spec.yaml", IRIS)
    result, output = _invoke("validate", "--build", spec, "--set", setting)
    assert_refused(result, output, f"{field}: ", fragment, "did you mean")


def test_pieces_that_need_imports_are_refused_by_validate_without_building(tmp_path):
    spec = write_dedented(tmp_path / "spec.yaml", """
    data: {source: "sklearn:iris"}
    model:
      model_class: CountingModel
      layers: [{Dense: {units: 3, activation: softmax}}]
    optimizer: {name: HalfSGD}
    callbacks:
      custom:
        - CSVLoger: {filename: log.csv}
        - EarlyStopping: {patience: 2, run_dir: here}
    """)
    result, output = _invoke("validate", spec)
    assert_refused(result, output, "spec.yaml:3:", "model.model_class: 'CountingModel' must be a keras.Model subclass",
                   "spec.yaml:5:", "optimizer.name: unknown optimizer 'HalfSGD'",
                   "spec.yaml:8:", "callbacks.custom[0].CSVLoger: unknown callback 'CSVLoger' — did you mean 'CSVLogger'?",
                   "callbacks.custom[1].EarlyStopping.run_dir: run_dir is the fit's folder")


def _dlrun(*args, timeout: float = 300) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "dlrun", *map(str, args)], cwd=ROOT, env=child_env(),
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.slow  # a fresh process on JAX
def test_a_tensorflow_train_step_on_jax_is_refused_naming_the_backend(tmp_path):
    write_dedented(tmp_path / f"{MODULE}.py", PIECES)
    spec = write_dedented(tmp_path / "spec.yaml", IRIS)
    code, output = _dlrun("validate", "--build", spec, "--set", "training.backend=jax")
    assert code == 2, output
    assert "spec.yaml:6:" in output and "model.model_class: CountingModel.train_step(self, data)" in output
    assert "runs on backend tensorflow" in output and "Traceback" not in output


@pytest.mark.slow  # a fresh process on JAX, 2 epochs
def test_a_jax_train_step_trains_on_jax(tmp_path):
    from dlrun.runs.artifacts import read_history

    write_dedented(tmp_path / f"{MODULE}.py", PIECES)
    spec = write_dedented(tmp_path / "spec.yaml", IRIS)
    code, output = _dlrun("train", spec, "--backend", "jax", "--set", "model.model_class=JaxCountingModel",
                          "--runs-dir", tmp_path / "runs")
    assert code == 0, output
    (run,) = (tmp_path / "runs").iterdir()
    assert [row["custom_step"] for row in read_history(run)] == [1.0, 1.0]
    assert sorted(p.name for p in run.glob("seen-*.txt")) == ["seen-1.txt", "seen-2.txt"]


# ---- learning-rate schedules --------------------------------------------------------------------------

def test_a_keras_schedule_sets_the_rate_every_step_and_history_shows_it(trained_run):
    import keras

    result = trained_run(SCHEDULED, "optimizer.schedule={type: keras, name: CosineDecayRestarts, "
                                    "args: {first_decay_steps: 4, alpha: 0.1}}")
    expected = keras.optimizers.schedules.CosineDecayRestarts(0.01, 4, alpha=0.1)
    rates = [row["learning_rate"] for row in result.history]
    assert rates == pytest.approx([float(expected(STEPS_PER_EPOCH * epoch)) for epoch in (1, 2, 3)], rel=1e-5)
    assert len(set(round(r, 8) for r in rates)) == 3


def test_a_cyclic_schedule_over_epochs_goes_up_then_down(trained_run):
    result = trained_run(SCHEDULED, "optimizer.schedule={type: cyclic, max_learning_rate: 0.05, step_size: 1}")
    assert [row["learning_rate"] for row in result.history] == pytest.approx([0.01, 0.05, 0.01])


def test_a_cyclic_schedule_over_steps_is_the_optimizers_rate(trained_run):
    # up for 9 steps, down for 9: after 6 steps 2/3 of the way up, after 12 2/3 of the way again, after 18 at the bottom
    result = trained_run(SCHEDULED, "optimizer.schedule={type: cyclic, max_learning_rate: 0.04, step_size: 9, "
                                    "unit: steps}")
    assert [row["learning_rate"] for row in result.history] == pytest.approx([0.03, 0.03, 0.01], rel=1e-5)


def test_a_keras_schedule_is_checked_against_its_signature(tmp_path):
    spec = write_dedented(tmp_path / "spec.yaml", SCHEDULED)
    result, output = _invoke("validate", spec, "--set", "optimizer.schedule={type: keras, name: CosineDecayRestarts, "
                                                       "args: {first_decay_step: 4}}")
    assert_refused(result, output, "optimizer.schedule.args.first_decay_step: unknown argument of CosineDecayRestarts "
                                   "— did you mean 'first_decay_steps'?",
                   "optimizer.schedule.args: CosineDecayRestarts needs `first_decay_steps:`")
    result, output = _invoke("validate", spec, "--set", "optimizer.schedule={type: keras, name: CosineDecayRestart}")
    assert_refused(result, output, "optimizer.schedule.name: unknown schedule 'CosineDecayRestart'")


# ---- F1 and IoU ---------------------------------------------------------------------------------------

def _assert_in_history_and_metrics(result, names: list[str]) -> None:
    for name in names:
        for key in (name, f"val_{name}"):
            values = [row[key] for row in result.history]
            assert all(0.0 <= v <= 1.0 for v in values), (key, values)
        assert f"val_{name}" in result.metrics["validation_at_best"]


def test_f1_and_iou_on_a_multiclass_head_are_macro_scores_over_the_classes(pieces):
    _assert_in_history_and_metrics(pieces, ["f1_score", "iou", "mean_iou"])
    last, scored = pieces.history[-1], _evaluated(pieces.run)  # the final model on the validation rows
    assert last["val_f1_score"] == pytest.approx(scored["f1_macro"], abs=1e-4)
    mean_iou = sum(_iou(scored["confusion_matrix"], [0, 1, 2])) / 3
    assert last["val_mean_iou"] == pytest.approx(mean_iou, abs=1e-4)
    assert last["val_iou"] == pytest.approx(mean_iou, abs=1e-4)


def test_f1_and_iou_on_a_binary_head_score_the_positive_class(trained_run):
    result = trained_run(BREAST_CANCER)
    _assert_in_history_and_metrics(result, ["f1_score", "iou", "mean_iou"])
    last, scored = result.history[-1], _evaluated(result.run)
    positive = list(scored["per_class"].values())[1]
    assert last["val_f1_score"] == pytest.approx(positive["f1"], abs=1e-4)
    ious = _iou(scored["confusion_matrix"], [0, 1])
    assert last["val_iou"] == pytest.approx(ious[1], abs=1e-4)
    assert last["val_mean_iou"] == pytest.approx(sum(ious) / 2, abs=1e-4)
    assert math.isfinite(result.metrics["validation_at_best"]["val_f1_score"])


def test_f1_on_a_regression_head_is_a_located_problem(tmp_path):
    spec = write_dedented(tmp_path / "spec.yaml", """
    data: {source: "sklearn:diabetes"}
    model:
      layers: [{Dense: {units: 1}}]
    metrics: [mae, f1_score]
    """)
    result, output = _invoke("validate", "--build", spec)
    assert_refused(result, output, "spec.yaml:4:", "metrics[1]: f1_score scores classes, but this output's loss mse "
                                                   "is a regression loss")
