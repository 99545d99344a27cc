"""Custom losses and metrics from a spec's `imports:` modules: validated at build, compiled,
trained, evaluated; an unknown custom name is a located error with did-you-mean."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import SpecError
from dlrun.spec import load_spec

runner = CliRunner()

MODULE = '''
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="{name}")
def smooth_xent(y_true, y_pred):
    y_true = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    onehot = ops.one_hot(y_true, ops.shape(y_pred)[-1])
    onehot = onehot * 0.9 + 0.1 / ops.cast(ops.shape(y_pred)[-1], "float32")
    return -ops.sum(onehot * ops.log(ops.clip(y_pred, 1e-7, 1.0)), axis=-1)


@keras.saving.register_keras_serializable(package="{name}")
class TopClassRate(keras.metrics.Metric):
    def __init__(self, name="top_class_rate", **kwargs):
        super().__init__(name=name, **kwargs)
        self.hits = self.add_weight(name="hits", initializer="zeros")
        self.seen = self.add_weight(name="seen", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        hit = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float32")
        self.hits.assign_add(ops.sum(hit))
        self.seen.assign_add(ops.cast(ops.shape(hit)[0], "float32"))

    def result(self):
        return self.hits / ops.maximum(self.seen, 1.0)
'''


def _spec(tmp_path, loss: str = "smooth_xent", metrics: str = "[accuracy, TopClassRate]") -> tuple:
    name = f"dlrun_custom_obj_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODULE.format(name=name), encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"""name: custom-objects
imports: [{name}]
seed: 3
data: {{source: "sklearn:iris"}}
model:
  layers:
    - Dense: {{units: 8, activation: relu}}
    - Dense: {{units: 3, activation: softmax}}
loss: {loss}
metrics: {metrics}
training: {{epochs: 1, batch_size: 16}}
output: {{runs_dir: {tmp_path / 'runs'}}}
""", encoding="utf-8")
    return spec, name


def test_custom_names_pass_validation_only_with_imports(tmp_path):
    spec, _ = _spec(tmp_path)
    assert load_spec(spec).spec.loss == "smooth_xent"
    without = tmp_path / "without.yaml"
    without.write_text("\n".join(line for line in spec.read_text().splitlines() if not line.startswith("imports")))
    with pytest.raises(SpecError) as caught:
        load_spec(without)
    assert "unknown loss 'smooth_xent'" in str(caught.value)


def test_validate_build_resolves_the_custom_loss_and_metric(tmp_path):
    spec, _ = _spec(tmp_path)
    result = runner.invoke(app, ["validate", str(spec), "--build"])
    assert result.exit_code == 0, result.output
    assert "smooth_xent" in result.output


def test_train_one_epoch_with_custom_loss_and_metric_then_evaluate(tmp_path):
    from dlrun.inference.evaluate import evaluate
    from dlrun.protocols.holdout import train

    spec, _ = _spec(tmp_path)
    result = train(load_spec(spec))
    assert result.status == "completed"
    assert "top_class_rate" in result.history[-1] and "val_top_class_rate" in result.history[-1]
    assert 0.0 <= result.history[-1]["top_class_rate"] <= 1.0
    evaluation = evaluate(result.run)  # the saved model loads again with the module imported
    assert evaluation is not None
    outcome = runner.invoke(app, ["evaluate", result.run.run_id, "--runs-dir", str(tmp_path / "runs"), "--json"])
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    assert 0.0 <= document["test"]["accuracy"] <= 1.0


@pytest.mark.parametrize("command", [["validate", "--build"], ["train"]])
def test_an_unknown_custom_loss_is_located_with_did_you_mean(tmp_path, command):
    spec, _ = _spec(tmp_path, loss="smoth_xent")
    result = runner.invoke(app, [*command, str(spec)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "spec.yaml:9:1  loss: unknown loss 'smoth_xent'" in result.output, result.output
    assert "did you mean 'smooth_xent'" in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_unknown_custom_metric_is_located_at_its_position(tmp_path):
    spec, _ = _spec(tmp_path, metrics="[accuracy, TopClassRat]")
    result = runner.invoke(app, ["validate", str(spec), "--build"])
    assert result.exit_code == 2, result.output
    assert "metrics[1]: unknown metric 'TopClassRat'" in result.output
    assert "did you mean 'TopClassRate'" in result.output
