"""dlrun sweep, in process: real Optuna studies in journal files, real (tiny) Keras trials.

Each sweep here trains two to four iris models for a few epochs; the sweeps several tests read
are made once per module. Kills, signals and parallel workers are in tests/e2e/test_sweep_processes.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import RunLookupError, UserError
from dlrun.inference.evaluate import evaluate_any
from dlrun.protocols.sweep import sweep_or_resume
from dlrun.runs.artifacts import read_history, read_trials_table
from dlrun.runs.lookup import list_runs, resolve_run
from tests.support import ANSI, combined_output, write_dedented

runner = CliRunner()

IRIS = """
name: sweep-iris
seed: 5
data: {source: "sklearn:iris"}
split: {test: 0.2, validation: 0.2}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: 3, batch_size: 16}
output: {plots: false}
"""

SEARCH = IRIS + """
sweep:
  trials: 3
  seed: 11
  pruner: none
  params:
    optimizer.learning_rate: {loguniform: [0.001, 0.1]}
    model.layers[0].Dense.units: {int: [4, 16], step: 4}
"""


def sweep_in(folder: Path, text: str, *sets: str, **options):
    config = write_dedented(folder / "sweep.yaml", text)
    return sweep_or_resume(config, [*sets, f"output.runs_dir={json.dumps(str(folder / 'runs'))}"], **options)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One three-trial TPE sweep with keep: best and the sweep's own plots."""
    return sweep_in(tmp_path_factory.mktemp("searched"), SEARCH, "sweep.retrain_best=true")


# ---- what a sweep writes -------------------------------------------------------------------------

def test_the_sweep_folder_holds_spec_study_table_best_report_and_plots(searched):
    folder = searched.run.path
    for name in ("config.yaml", "run.json", "study.journal", "trials.csv", "best.json", "report.md"):
        assert (folder / name).is_file(), name
    assert sorted(p.name for p in (folder / "plots").iterdir()) == ["optimization_history.png",
                                                                     "param_importances.png", "slices.png"]
    info = json.loads((folder / "run.json").read_text())
    assert info["kind"] == "sweep" and info["status"] == "completed"
    assert info["headline"]["name"] == "best val_loss"
    assert info["headline"]["value"] == pytest.approx(searched.best["objective"]["value"])


def test_trials_csv_has_one_row_per_trial_with_parameters_objective_status_epochs_seconds_run_id(searched):
    rows = read_trials_table(searched.run.path)
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert list(rows[0]) == ["number", "optimizer.learning_rate", "model.layers[0].Dense.units", "objective",
                             "status", "epochs_run", "seconds", "run_id", "error"]
    for row in rows:
        assert row["status"] == "completed" and row["epochs_run"] == "3" and float(row["seconds"]) > 0
        assert row["run_id"] == f"{searched.run.run_id}:{int(row['number']):03d}"
        assert 0.001 <= float(row["optimizer.learning_rate"]) <= 0.1
        assert int(row["model.layers[0].Dense.units"]) in (4, 8, 12, 16)


def test_each_trial_is_an_ordinary_run_folder_scored_on_validation_never_on_the_test_set(searched):
    for number in range(3):
        folder = searched.run.path / "trials" / f"{number:03d}"
        info = json.loads((folder / "run.json").read_text())
        assert info["kind"] == "train" and info["status"] == "completed"
        assert info["run_id"] == f"{searched.run.run_id}:{number:03d}" and info["trial"] == number
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["part"] == "validation" and "test" not in metrics
        config = (folder / "config.yaml").read_text()
        params = info["params"]
        assert f"units: {params['model.layers[0].Dense.units']}" in config


def test_the_objective_is_the_best_epochs_validation_loss_and_best_json_names_the_lowest(searched):
    rows = read_trials_table(searched.run.path)
    for row in rows:
        history = read_history(searched.run.path / "trials" / f"{int(row['number']):03d}")
        assert float(row["objective"]) == pytest.approx(min(float(h["val_loss"]) for h in history))
    lowest = min(rows, key=lambda r: float(r["objective"]))
    best = json.loads((searched.run.path / "best.json").read_text())
    assert best["number"] == int(lowest["number"])
    assert best["objective"] == {"metric": "val_loss", "value": pytest.approx(float(lowest["objective"])),
                                 "direction": "minimize"}
    assert set(best["params"]) == {"optimizer.learning_rate", "model.layers[0].Dense.units"}


def test_keep_best_leaves_exactly_one_trial_model_the_best_ones(searched):
    models = sorted(p.parent.name for p in (searched.run.path / "trials").glob("*/model.keras"))
    assert models == [f"{searched.best['number']:03d}"]
    dropped = [json.loads(p.read_text()) for p in (searched.run.path / "trials").glob("*/run.json")]
    assert sum(info.get("model_kept") is False for info in dropped) == 2


def test_retrain_best_fits_train_plus_validation_and_scores_the_test_set_once(searched):
    retrained = searched.best["retrained"]
    assert retrained["folder"] == "best" and retrained["train_rows"] == 120 and retrained["test_rows"] == 30
    best_folder = searched.run.path / "best"
    metrics = json.loads((best_folder / "metrics.json").read_text())
    assert metrics["part"] == "test" and metrics["test"]["accuracy"] == pytest.approx(retrained["test"]["accuracy"])
    splits = json.loads((best_folder / "splits.json").read_text())
    trial_splits = json.loads((searched.run.path / "trials" / f"{searched.best['number']:03d}" / "splits.json").read_text())
    assert sorted(splits["train"]) == sorted(trial_splits["train"] + trial_splits["validation"])
    assert splits["test"] == trial_splits["test"] and splits["validation"] == []


def test_report_md_has_the_best_trial_top_trials_importances_and_the_baseline(searched):
    report = (searched.run.path / "report.md").read_text()
    for heading in ("## Best trial", "## Top trials", "## Which parameters mattered"):
        assert heading in report
    assert "Trivial baseline of val_loss" in report
    assert "scored once on 30 test rows" in report
    assert "![optimization_history](plots/optimization_history.png)" in report


# ---- trials as runs: lookup, evaluate, show, runs ------------------------------------------------------

def test_a_trial_is_named_sweep_colon_number_or_best(searched):
    runs_dir = searched.run.path.parent
    best = resolve_run(f"{searched.run.run_id}:best", runs_dir)
    assert best.path == searched.run.path / "trials" / f"{searched.best['number']:03d}"
    assert resolve_run("latest:1", runs_dir).path.name == "001"
    assert resolve_run(str(searched.run.path / "trials" / "002"), runs_dir).path.name == "002"
    with pytest.raises(RunLookupError, match="has no trial 7"):
        resolve_run("latest:7", runs_dir)


def test_evaluate_scores_the_best_trial_and_refuses_a_trial_whose_model_was_not_kept(searched):
    runs_dir = searched.run.path.parent
    [result] = evaluate_any(resolve_run("latest:best", runs_dir), None, "validation")
    assert result.document["part"] == "validation"
    dropped = next(n for n in range(3) if n != searched.best["number"])
    with pytest.raises(UserError, match="sweep.keep: best"):
        evaluate_any(resolve_run(f"latest:{dropped}", runs_dir), None, "validation")


def test_runs_lists_the_sweep_and_show_prints_its_top_trials(searched, monkeypatch):
    from dlrun import cli

    monkeypatch.setattr(cli.out, "width", 250)
    runs_dir = searched.run.path.parent
    [listed] = list_runs(runs_dir)
    assert listed["kind"] == "sweep" and listed["run_id"] == searched.run.run_id
    shown = runner.invoke(app, ["show", searched.run.run_id, "--runs-dir", str(runs_dir)])
    assert shown.exit_code == 0, shown.output
    text = ANSI.sub("", shown.output)
    assert "3 of 3 trials finished: 3 completed, 0 pruned, 0 failed" in text
    assert f"best: trial {searched.best['number']:03d}" in text and "Dense.units" in text
    as_json = runner.invoke(app, ["show", searched.run.run_id, "--runs-dir", str(runs_dir), "--json"])
    assert len(json.loads(as_json.output)["trials"]) == 3
    table = runner.invoke(app, ["runs", "--runs-dir", str(runs_dir)])
    assert "best val_loss" in ANSI.sub("", table.output)


# ---- reproducible, pruned, failed -------------------------------------------------------------------

def test_one_seed_gives_the_same_parameter_sequence_and_the_same_best_trial(tmp_path, searched):
    again = sweep_in(tmp_path, SEARCH, "sweep.retrain_best=true")
    first, second = read_trials_table(searched.run.path), read_trials_table(again.run.path)
    keys = ["number", "optimizer.learning_rate", "model.layers[0].Dense.units", "objective", "status"]
    assert [[r[k] for k in keys] for r in first] == [[r[k] for k in keys] for r in second]
    assert again.best["number"] == searched.best["number"] and again.best["params"] == searched.best["params"]


def test_the_pruner_is_fed_every_epoch_and_a_pruned_trial_runs_fewer_epochs(tmp_path):
    spec = IRIS.replace("training: {epochs: 3, batch_size: 16}", "training: {epochs: 6, batch_size: 16}") + """
sweep:
  algorithm: random
  trials: 3
  seed: 6
  pruner: median
  pruner_startup_trials: 1
  pruner_warmup_epochs: 1
  plots: false
  params:
    optimizer.learning_rate: {choice: [0.05, 0.00001]}
"""
    result = sweep_in(tmp_path, spec)
    rows = read_trials_table(result.run.path)
    assert [r["optimizer.learning_rate"] for r in rows] == ["0.05", "0.05", "1e-05"]
    pruned = rows[2]
    assert pruned["status"] == "pruned" and pruned["objective"] == ""
    assert 2 <= int(pruned["epochs_run"]) < 6
    info = json.loads((result.run.path / "trials" / "002" / "run.json").read_text())
    assert info["status"] == "pruned" and info["pruned_at_epoch"] == int(pruned["epochs_run"])
    history = (result.run.path / "trials" / "002" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + int(pruned["epochs_run"])
    assert all(r["status"] == "completed" and r["epochs_run"] == "6" for r in rows[:2])


def test_a_crashing_trial_is_failed_with_its_error_log_never_pruned_and_the_sweep_goes_on(tmp_path):
    spec = IRIS + """
sweep:
  algorithm: grid
  pruner: median
  plots: false
  params:
    model.layers[0].Dense.units: {choice: [8, 0]}
"""
    result = sweep_in(tmp_path, spec)
    rows = {r["model.layers[0].Dense.units"]: r for r in read_trials_table(result.run.path)}
    assert rows["0"]["status"] == "failed" and rows["0"]["objective"] == ""
    assert "units" in rows["0"]["error"]
    failed_folder = result.run.path / "trials" / f"{int(rows['0']['number']):03d}"
    assert "units" in (failed_folder / "error.log").read_text()
    assert json.loads((failed_folder / "run.json").read_text())["status"] == "failed"
    assert rows["8"]["status"] == "completed"
    assert result.best["params"] == {"model.layers[0].Dense.units": 8}
    assert "## Failed trials" in (result.run.path / "report.md").read_text()


def test_an_objective_the_history_lacks_stops_the_sweep_with_a_suggestion(tmp_path, monkeypatch):
    spec = write_dedented(tmp_path / "sweep.yaml", IRIS + """
sweep:
  trials: 2
  objective: {metric: val_acuracy}
  params:
    training.batch_size: {choice: [8, 16]}
""")
    result = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    output = combined_output(result)
    assert "sweep.objective.metric" in output and "did you mean 'val_accuracy'" in output
    assert "Traceback" not in output


# ---- k-fold evaluation ---------------------------------------------------------------------------------

def test_a_kfold_sweep_optimises_the_mean_over_folds_and_retrains_the_best_on_all_but_the_test_rows(tmp_path):
    spec = IRIS.replace("split: {test: 0.2, validation: 0.2}",
                        "split: {protocol: stratified_kfold, folds: 2, test: 0.2, validation: 0.0}") + """
sweep:
  objective: {metric: accuracy}
  evaluate: kfold
  algorithm: grid
  retrain_best: true
  pruner: none
  plots: false
  params:
    optimizer.learning_rate: {choice: [0.001, 0.05]}
"""
    result = sweep_in(tmp_path, spec)
    rows = read_trials_table(result.run.path)
    assert len(rows) == 2 and all(r["status"] == "completed" for r in rows)
    for row in rows:
        trial = result.run.path / "trials" / f"{int(row['number']):03d}"
        summary = json.loads((trial / "summary.json").read_text())
        assert float(row["objective"]) == pytest.approx(summary["stats"]["accuracy"]["mean"])
        assert not (trial / "final").exists()  # no trial looks at the test rows
        assert len(json.loads((trial / "splits.json").read_text())["test"]) == 30
    assert result.best["objective"]["direction"] == "maximize"
    assert result.best["retrained"]["train_rows"] == 120 and result.best["retrained"]["test_rows"] == 30
    assert json.loads((result.run.path / "best" / "run.json").read_text())["status"] == "completed"
