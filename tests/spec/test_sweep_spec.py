"""The sweep section: its forms, and the checks that refuse a bad sweep before any trial runs
(located at the line of the parameter or setting at fault, exit 2 from `validate` and `sweep`)."""

from __future__ import annotations

import importlib.util

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import SpecError
from dlrun.spec.load import load_spec
from dlrun.spec.sweep_checks import check_sweep, trial_overrides
from dlrun.spec.sweep_forms import ParamRange, SweepSpec, override_path
from tests.support import ANSI, TINY_IRIS, combined_output, only_problem

runner = CliRunner()

SWEEP = TINY_IRIS + """
sweep:
  trials: 3
  params:
    optimizer.learning_rate: {loguniform: [0.001, 0.1]}
    model.layers[0].Dense.units: {int: [4, 16], step: 4}
"""


def with_sweep(body: str, base: str = TINY_IRIS) -> str:
    return base + "sweep:\n" + "".join(f"  {line}\n" for line in body.strip("\n").splitlines())


# ---- forms -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("form, message", [
    ({"uniform": [0.5, 0.1]}, "runs backwards"),
    ({"loguniform": [0.0, 0.1]}, "above 0"),
    ({"uniform": [0.0, 1.0], "choice": [1, 2]}, "exactly one"),
    ({}, "exactly one"),
    ({"choice": [1, 2], "step": 1}, "not to choice"),
    ({"choice": []}, "at least 1"),
    ({"int": [1, 4], "unknown": 3}, "Extra inputs"),
])
def test_a_bad_parameter_form_is_refused(form, message):
    with pytest.raises(ValidationError, match=message):
        ParamRange.model_validate(form)


def test_grid_values_of_each_form():
    assert ParamRange.model_validate({"int": [4, 16], "step": 4}).grid() == [4, 8, 12, 16]
    assert ParamRange.model_validate({"int": [1, 3]}).grid() == [1, 2, 3]
    assert ParamRange.model_validate({"uniform": [0.0, 0.5], "step": 0.25}).grid() == [0.0, 0.25, 0.5]
    assert ParamRange.model_validate({"choice": ["a", "b"]}).grid() == ["a", "b"]
    with pytest.raises(ValueError, match="grid needs"):
        ParamRange.model_validate({"loguniform": [0.001, 0.1]}).grid()


def test_trial_count_defaults_to_the_grid_size_or_twenty():
    grid = SweepSpec.model_validate({"algorithm": "grid", "params": {"a.b": {"choice": [1, 2]},
                                                                     "a.c": {"int": [1, 3]}}})
    assert grid.grid_size() == 6 and grid.trial_count() == 6
    assert SweepSpec.model_validate({"params": {"a.b": {"choice": [1]}}}).trial_count() == 20
    assert SweepSpec.model_validate({"trials": 4, "params": {"a.b": {"choice": [1]}}}).trial_count() == 4


def test_a_grid_over_a_continuous_range_without_step_is_refused():
    with pytest.raises(ValidationError, match="finite set of values"):
        SweepSpec.model_validate({"algorithm": "grid", "params": {"optimizer.learning_rate": {"uniform": [0.1, 0.2]}}})


def test_parameter_paths_become_set_paths():
    assert override_path("model.layers[0].Dense.units") == "model.layers.0.Dense.units"
    assert trial_overrides({"model.layers[1].Dropout.rate": 0.25, "training.batch_size": 16}) == [
        "model.layers.1.Dropout.rate=0.25", "training.batch_size=16"]


# ---- checks before any trial ------------------------------------------------------------------------

def test_a_good_sweep_passes_and_each_range_end_is_a_valid_spec(write_spec):
    loaded = load_spec(write_spec(SWEEP))
    settings = check_sweep(loaded)
    assert settings.trial_count() == 3 and list(settings.params) == ["optimizer.learning_rate",
                                                                      "model.layers[0].Dense.units"]
    assert loaded.spec.sweep.params["model.layers[0].Dense.units"].int_ == (4, 16)


def test_an_unknown_parameter_path_is_located_at_its_line_with_a_suggestion(write_spec):
    path = write_spec(with_sweep("params:\n  training.batchsize: {choice: [8, 16]}"))
    with pytest.raises(SpecError) as excinfo:
        check_sweep(load_spec(path))
    problem = only_problem(excinfo)
    assert problem.path == "sweep.params.training.batchsize"
    assert problem.line == path.read_text().splitlines().index("    training.batchsize: {choice: [8, 16]}") + 1
    assert "batch_size" in problem.message


def test_a_path_into_a_missing_layer_is_refused(write_spec):
    path = write_spec(with_sweep("params:\n  model.layers[5].Dense.units: {int: [4, 8]}"))
    with pytest.raises(SpecError) as excinfo:
        check_sweep(load_spec(path))
    assert "no list item 5" in only_problem(excinfo).message


def test_a_range_end_that_breaks_the_spec_is_refused_naming_the_value(write_spec):
    path = write_spec(with_sweep("params:\n  optimizer.learning_rate: {uniform: [-0.1, 0.1]}"))
    with pytest.raises(SpecError) as excinfo:
        check_sweep(load_spec(path))
    message = only_problem(excinfo).message
    assert "optimizer.learning_rate = -0.1" in message and "greater than 0" in message


def test_a_bad_choice_is_refused(write_spec):
    path = write_spec(with_sweep("params:\n  optimizer.name: {choice: [adam, adamm]}"))
    with pytest.raises(SpecError) as excinfo:
        check_sweep(load_spec(path))
    assert "'adamm'" in only_problem(excinfo).message


def test_every_problem_is_reported_at_once(write_spec):
    path = write_spec(with_sweep("""
        trials: 50
        algorithm: grid
        retrain_best: true
        objective: {metric: val_accuracy}
        params:
          training.batchsize: {choice: [8, 16]}
          training.epochs: {int: [1, 2]}
    """.replace("        ", ""), TINY_IRIS + "split: {test: 0.0, validation: 0.0}\n"))
    with pytest.raises(SpecError) as excinfo:
        check_sweep(load_spec(path))
    paths = [p.path for p in excinfo.value.problems]
    assert paths == ["sweep.trials", "sweep.retrain_best", "sweep.objective.metric",
                     "sweep.params.training.batchsize"]


def test_evaluate_must_match_the_split(write_spec):
    with pytest.raises(SpecError) as excinfo:
        check_sweep(load_spec(write_spec(with_sweep("evaluate: kfold\nparams:\n  training.epochs: {int: [1, 2]}"))))
    assert "needs a cross-validation split" in only_problem(excinfo).message
    kfold = TINY_IRIS + "split: {protocol: kfold, folds: 3}\n"
    with pytest.raises(SpecError) as excinfo:
        check_sweep(load_spec(write_spec(with_sweep("params:\n  training.epochs: {int: [1, 2]}", kfold))))
    assert "use evaluate: kfold" in only_problem(excinfo).message


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="PyTorch is installed here")
def test_gp_without_pytorch_says_what_to_install(write_spec):
    with pytest.raises(SpecError) as excinfo:
        check_sweep(load_spec(write_spec(with_sweep("algorithm: gp\nparams:\n  training.epochs: {int: [1, 2]}"))))
    assert "needs the 'torch' package" in only_problem(excinfo).message


def test_a_spec_without_a_sweep_section_is_refused_by_the_sweep_command(write_spec, runs_dir):
    result = runner.invoke(app, ["sweep", str(write_spec(TINY_IRIS)), "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2
    assert "no `sweep:` section" in combined_output(result)
    assert not runs_dir.exists()


# ---- the command line --------------------------------------------------------------------------------

def test_validate_checks_the_sweep_and_shows_it(write_spec, monkeypatch):
    from dlrun import cli

    monkeypatch.setattr(cli.out, "width", 250)
    good = runner.invoke(app, ["validate", str(write_spec(SWEEP))])
    assert good.exit_code == 0, good.output
    assert "tpe  3 trials  val_loss (auto)" in ANSI.sub("", good.output)
    bad = runner.invoke(app, ["validate", str(write_spec(with_sweep("params:\n  training.batchsize: {choice: [8]}"),
                                                         "bad.yaml"))])
    assert bad.exit_code == 2
    assert "bad.yaml:" in combined_output(bad) and "sweep.params.training.batchsize" in combined_output(bad)


def test_dry_run_shows_the_search_and_writes_nothing(write_spec, runs_dir, monkeypatch):
    from dlrun import cli

    monkeypatch.setattr(cli.out, "width", 250)
    spec = write_spec(with_sweep("algorithm: grid\nparams:\n  model.layers[0].Dense.units: {int: [4, 16], step: 4}\n"
                                 "  training.batch_size: {choice: [8, 16, 32]}"))
    result = runner.invoke(app, ["sweep", str(spec), "--dry-run", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    text = ANSI.sub("", result.output)
    assert "algorithm grid, 12 trials (the grid's size)" in text
    assert "model.layers[0].Dense.units" in text and "choice: [8, 16, 32]" in text
    assert "nothing was trained" in text
    assert not runs_dir.exists()


def test_dry_run_refuses_a_bad_sweep_with_exit_2(write_spec, runs_dir):
    spec = write_spec(with_sweep("params:\n  optimizer.learning_rate: {loguniform: [0.1, 0.01]}"))
    result = runner.invoke(app, ["sweep", str(spec), "--dry-run", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2
    assert "runs backwards" in combined_output(result)


def test_without_optuna_the_sweep_says_which_extra_to_install_and_writes_nothing(write_spec, runs_dir, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` now fails, as when it is not installed
    result = runner.invoke(app, ["sweep", str(write_spec(SWEEP)), "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2
    assert 'pip install "dlrun[sweep]"' in combined_output(result)
    assert not runs_dir.exists()
