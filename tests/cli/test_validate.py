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
