"""`dlrun export` as a user runs it: a run trained on JAX exported from the command line (export writes
on TensorFlow), the JSON report, and the usage errors with their exit code and no traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ANSI, TINY_IRIS, child_env, write_dedented

pytestmark = pytest.mark.slow  # fresh processes: a JAX training, then an export on TensorFlow

def _dlrun(*args, cwd):
    return subprocess.run([sys.executable, "-m", "dlrun", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=child_env(), timeout=300)


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory):
    place = tmp_path_factory.mktemp("jax_export")
    spec = write_dedented(place / "spec.yaml", TINY_IRIS)
    trained = _dlrun("train", spec, "--backend", "jax", "--runs-dir", place / "runs", cwd=place)
    assert trained.returncode == 0, trained.stderr[-2000:]
    return place


def test_a_run_trained_on_jax_exports_from_the_command_line(jax_run):
    proc = _dlrun("export", "latest", "--runs-dir", jax_run / "runs", "--format", "keras,onnx", "--json", cwd=jax_run)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["passed"] and set(report["formats"]) == {"keras", "onnx"}
    manifest = json.loads(((jax_run / report["folder"]) / "manifest.json").read_text())
    assert manifest["trained_on_backend"] == "jax" and manifest["exported_on_backend"] == "tensorflow"
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--format", "tflite"], "unknown format 'tflite'"),
    (["--format", "keras", "--quantize", "dynamic"], "--quantize dynamic applies to litert and onnx"),
    (["--runs-dir", "nowhere"], "no runs in nowhere"),
])
def test_usage_mistakes_exit_2_with_the_reason(jax_run, args, message):
    runs = [] if "--runs-dir" in args else ["--runs-dir", jax_run / "runs"]
    proc = _dlrun("export", "latest", *runs, *args, cwd=jax_run)
    text = " ".join(ANSI.sub("", proc.stderr).split())
    assert proc.returncode == 2 and message in text, proc.stderr
    assert "Traceback" not in proc.stderr
