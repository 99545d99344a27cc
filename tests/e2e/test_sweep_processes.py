"""dlrun sweep as real processes: killed with SIGKILL and resumed, stopped by SIGTERM, and run
by two worker processes sharing one study. Real signals, real training; marked slow."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from dlrun.runs.artifacts import read_trials_table
from tests.support import child_env, finish_process, finished_trials, write_dedented

pytestmark = pytest.mark.slow

SPEC = """
name: killed-sweep
seed: 2
data: {source: "sklearn:iris"}
split: {test: 0.2, validation: 0.2}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: 30, batch_size: 5}
output: {plots: false}
sweep:
  trials: 4
  seed: 3
  pruner: none
  plots: false
  params:
    optimizer.learning_rate: {loguniform: [0.001, 0.1]}
    model.layers[0].Dense.units: {int: [4, 16], step: 4}
"""


def _sweep(*args, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dlrun", "sweep", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env(), cwd=cwd)


def _finish(proc: subprocess.Popen, timeout: float = 400) -> tuple[int, str, str]:
    return finish_process(proc, timeout)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 240, lines: int = 0) -> None:
    """Until `path` exists (with more than `lines` lines), while the process still runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the sweep ended early:\n{proc.communicate()}"
        try:
            if len(path.read_text().splitlines()) > lines:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear in {timeout} s")


def _only_sweep(runs: Path) -> Path:
    (folder,) = [p for p in runs.iterdir() if p.is_dir()]
    return folder


def _started_sweep(runs: Path, proc: subprocess.Popen) -> Path:
    """The sweep's folder, once the process has written its status record."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the sweep ended early:\n{proc.communicate()}"
        found = list(runs.glob("*/run.json"))
        if found:
            return found[0].parent
        time.sleep(0.05)
    raise AssertionError(f"no sweep appeared in {runs}")


def test_sigkill_mid_sweep_then_resume_ends_with_exactly_the_asked_trials_and_no_duplicates(tmp_path):
    config = write_dedented(tmp_path / "sweep.yaml", SPEC)
    runs = tmp_path / "runs"
    proc = _sweep(config, "--runs-dir", runs, cwd=tmp_path)
    try:
        folder = _started_sweep(runs, proc)
        _wait_for(folder / "trials" / "001" / "history.csv", proc, lines=2)  # trial 1 is training
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert json.loads((folder / "run.json").read_text())["status"] == "running"  # as a kill leaves it

    code, out, err = _finish(_sweep("--resume", folder.name, "--runs-dir", runs, cwd=tmp_path))
    assert code == 0, out + err
    assert "Traceback" not in out + err
    rows = read_trials_table(folder)
    numbers = [int(r["number"]) for r in rows]
    assert numbers == list(range(len(rows))) and len(rows) == 5  # one killed trial, run again as a new one
    assert len(finished_trials(rows)) == 4
    killed = rows[1]
    assert killed["status"] == "failed" and killed["error"].startswith("interrupted")
    rerun = next(r for r in rows[2:] if r["optimizer.learning_rate"] == killed["optimizer.learning_rate"])
    assert rerun["model.layers[0].Dense.units"] == killed["model.layers[0].Dense.units"]
    assert rerun["status"] == "completed"
    assert sorted(p.name for p in (folder / "trials").iterdir()) == [f"{n:03d}" for n in range(5)]
    assert json.loads((folder / "trials" / "001" / "run.json").read_text())["status"] == "interrupted"
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "completed" and info["recovered_trials"] == [1]
    assert "were run again" in " ".join(out.split())


def test_sigterm_stops_after_the_epoch_prints_the_resume_command_and_exits_130(tmp_path):
    config = write_dedented(tmp_path / "sweep.yaml", SPEC.replace("trials: 4", "trials: 2").replace("epochs: 30",
                                                                                                      "epochs: 60"))
    runs = tmp_path / "runs"
    proc = _sweep(config, "--runs-dir", runs, cwd=tmp_path)
    try:
        folder = _started_sweep(runs, proc)
        _wait_for(folder / "trials" / "000" / "history.csv", proc, lines=2)
    finally:
        proc.send_signal(signal.SIGTERM)
    code, out, err = _finish(proc, timeout=120)
    assert code == 130, out + err
    assert f"dlrun sweep --resume {folder.name} --runs-dir {runs}" in " ".join(err.split())
    assert "Traceback" not in out + err
    trial = json.loads((folder / "trials" / "000" / "run.json").read_text())
    assert trial["status"] == "interrupted"
    history = (folder / "trials" / "000" / "history.csv").read_text().splitlines()
    assert 2 < len(history) < 61  # stopped at an epoch end, before the last epoch
    assert json.loads((folder / "run.json").read_text())["status"] == "interrupted"
    assert read_trials_table(folder)[0]["error"].startswith("interrupted")

    code, out, err = _finish(_sweep("--resume", "latest", "--runs-dir", runs, cwd=tmp_path))
    assert code == 0, out + err
    rows = read_trials_table(folder)
    assert len(finished_trials(rows)) == 2 and len(rows) == 3


def test_two_workers_share_one_study_with_distinct_trials_that_overlap_in_time(tmp_path):
    config = write_dedented(tmp_path / "sweep.yaml", SPEC.replace("epochs: 30", "epochs: 10"))
    runs = tmp_path / "runs"
    code, out, err = _finish(_sweep(config, "--runs-dir", runs, "--jobs", "2", cwd=tmp_path))
    assert code == 0, out + err
    folder = _only_sweep(runs)
    rows = read_trials_table(folder)
    assert [int(r["number"]) for r in rows] == [0, 1, 2, 3]
    assert all(r["status"] == "completed" for r in rows)
    params = {(r["optimizer.learning_rate"], r["model.layers[0].Dense.units"]) for r in rows}
    assert len(params) == 4  # the workers' samplers are seeded apart: no trial repeats another
    spans = []
    for number in range(4):
        info = json.loads((folder / "trials" / f"{number:03d}" / "run.json").read_text())
        spans.append((datetime.fromisoformat(info["started"]), datetime.fromisoformat(info["finished"])))
    assert any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1:])
    assert sum(1 for _ in (folder / "trials").glob("*/model.keras")) == 1
