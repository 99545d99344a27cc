"""A sweep's lifecycle end to end through the command line: a spec whose `imports:` module sits beside
it, a sweep whose every trial fails (exit 1, status failed, the first error), a sweep that cannot
start (never left `running`)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.runs.lookup import list_runs
from tests.support import write_dedented

runner = CliRunner()

SPEC = """
name: lifecycle
seed: 3
imports: [beside]
data: {source: "sklearn:iris"}
split: {test: 0.2, validation: 0.2}
model:
  layers:
    - Dense: {units: 4, activation: relu}
    - LAST
training: {epochs: 1, batch_size: 32}
callbacks:
  model_checkpoint: {monitor: val_loss}
output: {plots: false, save_model: false}
sweep:
  trials: 2
  pruner: none
  params:
    optimizer.learning_rate: {loguniform: [0.001, 0.1]}
"""

# a custom layer from a module next to the spec; Broken fails inside its first training step
BESIDE = '''
import keras


@keras.saving.register_keras_serializable(package="lifecycle")
class Scaled(keras.layers.Layer):
    def call(self, x):
        return x * 1.0


@keras.saving.register_keras_serializable(package="lifecycle")
class Broken(keras.layers.Layer):
    def call(self, x):
        raise RuntimeError("planted failure in a training step")
'''


def _sweep(tmp_path, last: str):
    write_dedented(tmp_path / "beside.py", BESIDE)
    config = write_dedented(tmp_path / "sweep.yaml", SPEC.replace("LAST", last))
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["sweep", str(config), "--set", f"output.runs_dir={json.dumps(str(runs))}"])
    return result, list_runs(runs)


def test_a_sweep_finds_an_imports_module_beside_its_spec_and_a_checkpoint_per_trial(tmp_path):
    result, runs = _sweep(tmp_path, "Scaled: {}\n    - Dense: {units: 3, activation: softmax}")
    assert result.exit_code == 0, result.output
    [sweep] = runs
    assert sweep["status"] == "completed" and sweep["failed_trials"] == 0
    for trial in ("000", "001"):
        folder = tmp_path / "runs" / sweep["run_id"] / "trials" / trial
        assert json.loads((folder / "run.json").read_text())["status"] == "completed"
        assert (folder / "history.csv").is_file()


def test_a_sweep_whose_every_trial_fails_exits_1_with_status_failed_and_the_first_error(tmp_path):
    result, runs = _sweep(tmp_path, "Broken: {}\n    - Dense: {units: 3, activation: softmax}")
    assert result.exit_code == 1, result.output
    assert "no trial of sweep" in result.output and "2 of 2 failed" in result.output
    assert "planted failure" in result.output
    [sweep] = runs
    assert sweep["status"] == "failed" and "planted failure" in sweep["error"]


def test_a_sweep_stopped_before_its_first_trial_is_not_left_running(tmp_path, monkeypatch):
    from dlrun.protocols import sweep

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C as the trials are about to start

    monkeypatch.setattr(sweep, "_run_trials", stopped)
    result, runs = _sweep(tmp_path, "Dense: {units: 3, activation: softmax}")
    assert result.exit_code == 130, result.output
    [record] = runs
    assert record["status"] == "interrupted"
    assert f"dlrun sweep --resume {record['run_id']} --runs-dir" in " ".join(result.output.split())


def test_a_kfold_trial_reads_val_objectives_from_held_out_metrics_else_the_best_epoch():
    from dlrun.protocols.sweep_trial import ObjectiveMissing, fold_objective

    fold = {"metrics": {"accuracy": 0.9, "log_loss": 0.3}, "best_epoch": 2,
            "history": [{"epoch": 1, "val_loss": 0.8}, {"epoch": 2, "val_loss": 0.5}, {"epoch": 3, "val_loss": 0.6}]}
    assert fold_objective("val_accuracy", fold) == 0.9     # the held-out accuracy
    assert fold_objective("log_loss", fold) == 0.3
    assert fold_objective("val_loss", fold) == 0.5         # not a held-out metric: the best epoch's value
    with pytest.raises(ObjectiveMissing, match="val_auc"):
        fold_objective("val_auc", fold)
