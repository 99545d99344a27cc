"""`dlrun train` as a real process: the exit code, what it prints, and no TensorFlow noise."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import CONFIGS, ROOT

pytestmark = pytest.mark.slow  # each test starts dlrun in a fresh interpreter (TensorFlow import included)


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
