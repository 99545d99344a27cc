"""The `dlrun` command line without training: validate, --version, --help, schema."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun import __version__
from dlrun.cli import app
from tests.support import ANSI, ROOT, combined_output


SPEC = """
    name: tiny-digits
    data: {source: sklearn:digits, scale: minmax}
    model:
      layers:
        - Dense: {units: 16, activation: relu}
        - Dense: {units: 10, activation: softmax}
    optimizer: {name: sgd, learning_rate: 0.05}
    training: {epochs: 3, batch_size: 8}
    callbacks:
      early_stopping: {patience: 2}
"""


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "120"})
    return result, ANSI.sub("", combined_output(result))


def subprocess_env() -> dict:
    env = dict(os.environ, COLUMNS="120", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_validate_valid_spec_prints_summary_panel_and_exits_0(write_spec):
    path = write_spec(SPEC)
    result, output = invoke("validate", str(path))
    assert result.exit_code == 0, output
    assert "tiny-digits" in output and "is valid" in output
    for row in ("data", "split", "model", "optimizer", "training", "callbacks"):
        assert re.search(rf"^\W*{row}\b", output, re.M), f"no {row!r} row in:\n{output}"
    assert "sklearn:digits" in output
    assert "Dense → Dense" in output
    assert "sgd" in output and "lr=0.05" in output
    assert "epochs=3" in output and "batch_size=8" in output
    assert "early_stopping" in output
    assert "error" not in output


def test_validate_applies_set_overrides_to_the_summary(write_spec):
    result, output = invoke("validate", str(write_spec(SPEC)), "--set", "training.epochs=7", "-s", "name=renamed")
    assert result.exit_code == 0, output
    assert "epochs=7" in output and "renamed" in output


def test_validate_missing_file_exits_2_without_traceback(tmp_path):
    result, output = invoke("validate", str(tmp_path / "absent.yaml"))
    assert result.exit_code == 2, output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in output
    assert "absent.yaml" in output and "file not found" in output


def test_version_prints_the_package_version():
    result, output = invoke("--version")
    assert result.exit_code == 0
    assert output.strip() == f"dlrun {__version__}"


def test_help_lists_the_commands():
    result, output = invoke("--help")
    assert result.exit_code == 0
    for command in ("validate", "train", "schema"):
        assert re.search(rf"\b{command}\b", output), output


def test_no_arguments_shows_help_not_a_traceback():
    result, output = invoke()
    assert "Traceback" not in output
    assert "validate" in output and "Usage" in output


def test_schema_output_file_is_json_with_data_and_extends_properties(tmp_path):
    target = tmp_path / "out" / "dlrun.schema.json"
    result, output = invoke("schema", "-o", str(target))
    assert result.exit_code == 0, output
    document = json.loads(target.read_text(encoding="utf-8"))
    properties = document["properties"]
    assert {"data", "extends", "model", "training", "callbacks"} <= set(properties)
    assert set(document.get("required", [])) >= {"data", "model"}
    assert properties["extends"]["description"]


def test_schema_without_output_prints_the_same_json(tmp_path):
    target = tmp_path / "schema.json"
    invoke("schema", "-o", str(target))
    result, output = invoke("schema")
    assert result.exit_code == 0
    assert json.loads(output) == json.loads(target.read_text(encoding="utf-8"))


@pytest.mark.slow  # a fresh Python process
def test_validate_example_config_as_a_real_process_exits_0():
    proc = subprocess.run([sys.executable, "-m", "dlrun", "validate", "configs/digits_mlp.yaml"],
                          cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "digits-mlp" in proc.stdout and "is valid" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # a fresh Python process
def test_validate_invalid_spec_as_a_real_process_exits_2_on_stderr(write_spec):
    path = write_spec("data: {source: sklearn:digits}\nmodel: {layers: [{Dropot: {rate: 0.5}}]}\n")
    proc = subprocess.run([sys.executable, "-m", "dlrun", "validate", str(path)],
                          cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "did you mean 'Dropout'?" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


NO_HEAVY_IMPORTS = textwrap.dedent("""
    import json, sys
    from dlrun.cli import main
    sys.argv = ["dlrun", "validate", sys.argv[1]]
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    heavy = ["tensorflow", "keras", "sklearn", "matplotlib"]
    print("RESULT=" + json.dumps({"exit": code, "loaded": {m: m in sys.modules for m in heavy}}))
""")


def _imports_after_validate(config: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", NO_HEAVY_IMPORTS, str(config)], cwd=ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT=")]
    assert line, proc.stdout + proc.stderr
    return json.loads(line[-1][len("RESULT="):])


@pytest.mark.slow  # a fresh Python process
def test_validate_does_not_import_tensorflow_or_keras():
    result = _imports_after_validate(ROOT / "configs" / "reviews_two_inputs.yaml")
    assert result["exit"] == 0
    assert not result["loaded"]["tensorflow"]
    assert not result["loaded"]["keras"]


@pytest.mark.slow  # a fresh Python process
def test_validate_of_an_invalid_spec_does_not_import_tensorflow_or_keras(write_spec):
    path = write_spec("data: {source: sklearn:digits}\nmodel: {layers: [{Dense: {untis: 3}}]}\n")
    result = _imports_after_validate(path)
    assert result["exit"] == 2
    assert not result["loaded"]["tensorflow"]
    assert not result["loaded"]["keras"]


# ---- spec/target mismatches found without building the model ----------------------------------------

TARGETS_SEQUENTIAL = """
    name: three-targets
    data:
      source: csv:table.csv
      target: [a, b, c]
      task: {task}
    model:
      layers:
        - Dense: {{units: 8, activation: relu}}
        - Dense: {{units: 3}}
"""

TARGETS_GRAPH = """
    name: two-heads
    data:
      source: csv:table.csv
      target: [positive, stars]
    model:
      inputs:
        numbers: {{columns: [x, y]}}
      nodes:
        - {{name: hidden, inputs: numbers, Dense: {{units: 4, activation: relu}}}}
        - {{name: positive_head, inputs: hidden, Dense: {{units: 1, activation: sigmoid}}}}
        - {{name: stars_head, inputs: hidden, Dense: {{units: 1}}}}
      outputs:
        - {{node: positive_head, target: {first}}}
        - {{node: stars_head{second}}}
"""


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("task", ["regression", "multiclass", "binary"])
def test_validate_refuses_a_sequential_model_for_several_targets_at_its_layers_line(write_spec, task):
    path = write_spec(TARGETS_SEQUENTIAL.format(task=task))
    result, output = invoke("validate", str(path))
    assert result.exit_code == 2, output
    assert f"{path}:{_line_of(path, 'layers:')}:" in output
    assert "model.layers: a Sequential model has one output but data.target names 3 targets (a, b, c)" in output
    assert "use a graph model with one output per target" in output
    assert "Traceback" not in output


def test_validate_refuses_a_sequential_model_for_several_targets_set_on_the_command_line(write_spec):
    path = write_spec(TARGETS_SEQUENTIAL.format(task="auto"))
    result, output = invoke("validate", str(path), "--set", "data.task=regression")
    assert result.exit_code == 2, output
    assert "a Sequential model has one output" in output


@pytest.mark.parametrize("task", ["multilabel", "auto"])
def test_several_target_columns_may_feed_one_sequential_output_as_multilabel(write_spec, task):
    """multilabel gathers the columns into one target; with auto the data decides (0/1 columns are
    multilabel), which only `--build` and `train` can see."""
    result, output = invoke("validate", str(write_spec(TARGETS_SEQUENTIAL.format(task=task))))
    assert result.exit_code == 0, output
    assert "is valid" in output


def test_validate_accepts_a_graph_model_whose_outputs_name_the_targets(write_spec):
    result, output = invoke("validate", str(write_spec(TARGETS_GRAPH.format(first="positive",
                                                                            second=", target: stars"))))
    assert result.exit_code == 0, output


def test_validate_refuses_an_output_target_that_is_not_a_data_target_at_its_line(write_spec):
    path = write_spec(TARGETS_GRAPH.format(first="postive", second=", target: stars"))
    result, output = invoke("validate", str(path))
    assert result.exit_code == 2, output
    assert f"{path}:{_line_of(path, 'target: postive')}:" in output
    assert ("model.outputs[0].target: 'postive' is not a target of the data (targets: positive, stars) — did you "
            "mean 'positive'?") in output


def test_validate_asks_which_target_an_output_predicts_when_there_are_several(write_spec):
    path = write_spec(TARGETS_GRAPH.format(first="positive", second=""))
    result, output = invoke("validate", str(path))
    assert result.exit_code == 2, output
    assert "model.outputs[1]: say which target this output predicts: target: one of positive, stars" in output


def test_a_graph_output_of_multilabel_columns_names_their_one_target(write_spec):
    spec = TARGETS_GRAPH.format(first="positive", second=", target: stars").replace(
        "target: [positive, stars]", "target: [positive, stars]\n      task: multilabel")
    result, output = invoke("validate", str(write_spec(spec)))
    assert result.exit_code == 2, output
    assert "'positive' is not a target of the data (targets: positive+stars — data.task multilabel gathers " \
           "positive, stars into one)" in output
    one_output = spec.replace("        - {node: positive_head, target: positive}\n", "").replace(
        "target: stars}", "target: positive+stars}")
    result, output = invoke("validate", str(write_spec(one_output, "one.yaml")))
    assert result.exit_code == 0, output


def test_validate_refuses_a_label_separator_over_several_target_columns(write_spec):
    spec = TARGETS_SEQUENTIAL.format(task="multilabel").replace("task: multilabel", "label_separator: '|'")
    path = write_spec(spec)
    result, output = invoke("validate", str(path))
    assert result.exit_code == 2, output
    assert f"{path}:{_line_of(path, 'label_separator')}:" in output
    assert "data.label_separator: data.label_separator reads the label sets of ONE target column" in output


def test_validate_refuses_multilabel_over_a_single_target_column(write_spec):
    spec = TARGETS_SEQUENTIAL.format(task="multilabel").replace("target: [a, b, c]", "target: tags")
    result, output = invoke("validate", str(write_spec(spec)))
    assert result.exit_code == 2, output
    assert "data.task: data.task is multilabel but there is a single target column 'tags'" in output
    with_separator = spec.replace("task: multilabel", "task: multilabel\n      label_separator: '|'")
    result, output = invoke("validate", str(write_spec(with_separator, "sep.yaml")))
    assert result.exit_code == 0, output


def test_the_spec_check_names_multilabel_targets_as_the_data_does():
    from dlrun.data.multilabel import JOIN
    from dlrun.spec.checks import MULTILABEL_JOIN

    assert MULTILABEL_JOIN == JOIN


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_example_config_still_validates(config):
    result, output = invoke("validate", str(ROOT / "configs" / config))
    assert result.exit_code == 0, output


SEQUENTIAL_THREE_TARGETS = """
name: seq3
data: {source: "csv:body.csv", target: [weight, waist, pulse]}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 1}
"""


def test_validate_reads_the_first_rows_to_refuse_a_sequential_model_with_several_targets(write_spec):
    # data.task auto: three target columns could be one multilabel target; a value other than 0/1 says not
    path = write_spec(SEQUENTIAL_THREE_TARGETS)
    (path.parent / "body.csv").write_text("x,weight,waist,pulse\n1,180.5,35,60\n2,170,33,55\n")
    result, output = invoke("validate", str(path))
    assert result.exit_code == 2, output
    assert "spec.yaml:4:3" in output and "3 targets (weight, waist, pulse)" in output
    assert "'weight' holds 180.5" in output and "graph model" in output
    # the same columns holding 0/1 are one multilabel target: valid
    (path.parent / "body.csv").write_text("x,weight,waist,pulse\n1,1,0,0\n2,0,1,1\n")
    result, output = invoke("validate", str(path))
    assert result.exit_code == 0, output


def test_validate_knows_a_bundled_data_set_with_several_targets(write_spec):
    path = write_spec('name: l\ndata: {source: "sklearn:linnerud"}\nmodel:\n  layers:\n    - Dense: {units: 1}\n')
    result, output = invoke("validate", str(path))
    assert result.exit_code == 2 and "3 targets (Weight, Waist, Pulse)" in output, output
    from sklearn.datasets import load_linnerud

    from dlrun.data.peek import SKLEARN_TARGETS

    assert SKLEARN_TARGETS["linnerud"] == list(load_linnerud(as_frame=True).target.columns)
