"""Spec paths with list items as `.N` or `[N]`: `split_path`, the one reader of them, and the places
that use it — `--set` (load.py) and sweep parameter paths (sweep_forms.py, sweep_checks.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import SpecError
from dlrun.spec.load import load_spec, parse_override
from dlrun.spec.sweep_checks import check_sweep, trial_overrides
from dlrun.spec.sweep_forms import override_path, split_path
from tests.support import ANSI, TINY_IRIS, combined_output, only_problem

BASE = """
    data: {source: sklearn:digits}
    model:
      layers:
        - Dense: {units: 32, activation: relu}
        - Dropout: {rate: 0.2}
        - Dense: {units: 10, activation: softmax}
"""


# ---- split_path ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, parts", [
    ("training.epochs", ["training", "epochs"]),
    ("model.layers[0].Dense.units", ["model", "layers", "0", "Dense", "units"]),
    ("model.layers.0.Dense.units", ["model", "layers", "0", "Dense", "units"]),
    ("model.layers[12]", ["model", "layers", "12"]),
    ("a[1][2].b", ["a", "1", "2", "b"]),
    ("seed", ["seed"]),
])
def test_split_path_reads_both_list_forms_alike(text, parts):
    assert split_path(text) == parts


@pytest.mark.parametrize("text, part", [
    ("model.layers[x].Dense.units", "layers[x]"),
    ("model.layers[0.Dense.units", "layers[0"),
    ("model.layers0].Dense", "layers0]"),
    ("model.layers[-1].Dense", "layers[-1]"),
    ("model.layers[].Dense", "layers[]"),
    ("model.[0].Dense", "[0]"),
    ("model.layers[0]x.Dense", "layers[0]x"),
])
def test_split_path_names_the_malformed_part(text, part):
    with pytest.raises(ValueError, match="malformed part") as excinfo:
        split_path(text)
    assert f"'{part}'" in str(excinfo.value) and "layers[0]" in str(excinfo.value)


@pytest.mark.parametrize("text", ["a..b", ".a", "a."])
def test_split_path_refuses_an_empty_part(text):
    with pytest.raises(ValueError, match="empty part"):
        split_path(text)


# ---- --set -----------------------------------------------------------------------------------------

def test_parse_override_takes_brackets():
    assert parse_override("model.layers[0].Dense.units=8") == (["model", "layers", "0", "Dense", "units"], 8)


@pytest.mark.parametrize("key", ["model.layers[2].Dense.units", "model.layers.2.Dense.units"])
def test_set_takes_a_list_item_in_either_form(write_spec, key):
    loaded = load_spec(write_spec(BASE), [f"{key}=8", "model.layers[1].Dropout.rate=0.4"])
    assert loaded.spec.model.layers[2] == {"Dense": {"units": 8, "activation": "softmax"}}
    assert loaded.spec.model.layers[1] == {"Dropout": {"rate": 0.4}}
    assert loaded.spec.model.layers[0] == {"Dense": {"units": 32, "activation": "relu"}}


def test_set_with_brackets_records_the_value_as_coming_from_set(write_spec):
    loaded = load_spec(write_spec(BASE), ["model.layers[0].Dense.units=8"])
    assert loaded.locate(("model", "layers", 0, "Dense", "units")).file == "--set"
    assert loaded.locate(("model", "layers", 0, "Dense", "activation")).file != "--set"


def test_set_with_brackets_checks_layer_arguments_against_the_catalog(write_spec):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(BASE), ["model.layers[0].Dense.untis=5"])
    problem = only_problem(excinfo)
    assert problem.path == "model.layers[0].Dense.untis" and "did you mean 'units'?" in problem.message


def test_set_with_a_bracket_past_the_end_names_the_item(write_spec):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(BASE), ["model.layers[5].Dense.units=5"])
    problem = only_problem(excinfo)
    assert problem.path == "model.layers.5" and "the list has 3" in problem.message


@pytest.mark.parametrize("key, part", [("model.layers[x].Dense.units", "layers[x]"),
                                       ("model.layers[0.Dense.units", "layers[0")])
def test_set_with_a_malformed_bracket_is_a_clear_error(write_spec, key, part):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(BASE), [f"{key}=8"])
    problem = only_problem(excinfo)
    assert (problem.file, problem.path) == ("--set", key)
    assert f"malformed part '{part}'" in problem.message and f"'{key}=8'" in problem.message
    assert "did you mean" not in problem.message


def test_every_bad_set_is_reported_at_once(write_spec):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(BASE), ["model.layers[x].Dense.units=8", "foo", "training.epochz=3"])
    assert sorted(p.path for p in excinfo.value.problems) == ["foo", "model.layers[x].Dense.units",
                                                               "training.epochz"]


def test_validate_cli_takes_the_readme_syntax(write_spec):
    path = write_spec(BASE)
    result = CliRunner().invoke(app, ["validate", str(path), "--set", "model.layers[0].Dense.units=8"],
                                env={"COLUMNS": "200"})
    output = ANSI.sub("", combined_output(result))
    assert result.exit_code == 0, output
    assert "is valid" in output


def test_validate_cli_refuses_a_malformed_bracket_with_exit_2(write_spec):
    result = CliRunner().invoke(app, ["validate", str(write_spec(BASE)), "--set", "model.layers[x].Dense.units=8"],
                                env={"COLUMNS": "200"})
    output = ANSI.sub("", combined_output(result))
    assert result.exit_code == 2, output
    assert "--set  model.layers[x].Dense.units: " in output and "malformed part 'layers[x]'" in output
    assert "Traceback" not in output


# ---- sweep parameter paths ---------------------------------------------------------------------------

def test_override_path_uses_the_same_reader():
    assert override_path("model.layers[0].Dense.units") == "model.layers.0.Dense.units"
    assert override_path("model.layers.0.Dense.units") == "model.layers.0.Dense.units"
    assert override_path("model.layers[x].Dense.units") == "model.layers[x].Dense.units"  # for --set to name
    assert trial_overrides({"model.layers[0][1].a": 1}) == ["model.layers.0.1.a=1"]


@pytest.mark.parametrize("param", ["model.layers[0].Dense.units", "model.layers.0.Dense.units"])
def test_a_sweep_takes_a_layer_path_in_either_form(write_spec, param):
    path = write_spec(TINY_IRIS + f"sweep:\n  params:\n    {param}: {{int: [4, 8]}}\n")
    assert list(check_sweep(load_spec(path)).params) == [param]


def test_a_malformed_sweep_path_is_located_at_its_line(write_spec):
    path = write_spec(TINY_IRIS + "sweep:\n  params:\n    model.layers[x].Dense.units: {int: [4, 8]}\n")
    loaded = load_spec(path)  # train and kfold ignore the sweep section
    with pytest.raises(SpecError) as excinfo:
        check_sweep(loaded)
    problem = only_problem(excinfo)
    assert problem.path == "sweep.params.model.layers[x].Dense.units"
    assert problem.line == path.read_text().splitlines().index("    model.layers[x].Dense.units: {int: [4, 8]}") + 1
    assert "malformed part 'layers[x]'" in problem.message and "does not give a valid spec" not in problem.message
