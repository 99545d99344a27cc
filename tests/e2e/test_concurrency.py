"""Concurrent and killed `dlrun train` processes: many runs on one runs directory never share a
folder, and a run killed mid-training leaves every artifact complete and parseable. Real
processes, real signals, real training; no mocks."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support import dotfiles, write_dedented

pytestmark = pytest.mark.slow  # every test here starts dlrun processes

TINY_IRIS = """
name: conc-iris
seed: 3
data: {source: "sklearn:iris"}
model:
  layers:
    - Dense: {units: 4, activation: relu}
    - Dense: {units: 3, activation: softmax}
training: {epochs: 1, batch_size: 32}
"""

LONG_IRIS = """
name: kill-iris
seed: 4
data: {source: "sklearn:iris"}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: 200, batch_size: 5}
callbacks:
  model_checkpoint: {monitor: val_loss}
"""


def _env() -> dict:
    # one TensorFlow thread per pool: 16 processes on a 2-core machine, without oversubscription
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1",
            "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}


# ---- concurrent runs never share a folder --------------------------------------------------------

def test_sixteen_concurrent_train_processes_on_one_runs_dir_all_complete_in_distinct_folders(tmp_path):
    config = write_dedented(tmp_path / "tiny.yaml", TINY_IRIS)
    runs = tmp_path / "runs"
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = []
    for k in range(16):
        out = open(logs / f"{k}.out", "w")
        err = open(logs / f"{k}.err", "w")
        procs.append((subprocess.Popen([sys.executable, "-m", "dlrun", "train", str(config), "--smoke",
                                        "--runs-dir", str(runs), "--name", "same"],
                                       stdout=out, stderr=err, env=_env(), cwd=tmp_path), out, err))
    deadline = time.monotonic() + 300
    codes = []
    try:
        for proc, out, err in procs:
            codes.append(proc.wait(timeout=max(1.0, deadline - time.monotonic())))
    finally:
        for proc, out, err in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out.close()
            err.close()
    failures = {k: (logs / f"{k}.err").read_text()[-1500:] for k, code in enumerate(codes) if code != 0}
    assert codes == [0] * 16, failures
    folders = sorted(p for p in runs.iterdir() if p.is_dir())
    assert len(folders) == 16 and len({p.name for p in folders}) == 16
    announced = set()
    for k in range(16):
        line = next(ln for ln in (logs / f"{k}.out").read_text().splitlines() if ln.startswith("run "))
        announced.add(line.split()[1])
    assert announced == {p.name for p in folders}  # each process wrote into the folder it announced
    for folder in folders:
        info = json.loads((folder / "run.json").read_text())
        assert info["status"] == "completed", (folder.name, info.get("error"))
        assert info["run_id"] == folder.name and info["name"] == "same"
        assert (folder / "model.keras").is_file() and (folder / "metrics.json").is_file()
    assert dotfiles(runs) == []


# ---- a run killed mid-training leaves every artifact complete ------------------------------------

def _wait_for_epochs(path: Path, proc: subprocess.Popen, epochs: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        try:
            if len(path.read_text().splitlines()) > epochs:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {epochs} epochs in {timeout} s")


def test_run_killed_mid_training_leaves_every_artifact_complete_and_parseable(tmp_path):
    config = write_dedented(tmp_path / "long.yaml", LONG_IRIS)
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "dlrun", "train", str(config), "--runs-dir", str(runs)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not list(runs.glob("*/history.csv")):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "history.csv never appeared"
            time.sleep(0.02)
        (history_path,) = runs.glob("*/history.csv")
        _wait_for_epochs(history_path, proc, 3, 60)
        time.sleep(random.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    run = history_path.parent

    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "running"  # nobody was left to mark it; the file is whole
    assert info["run_id"] == run.name
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["training"]["epochs"] == 200
    splits = json.loads((run / "splits.json").read_text())
    assert sorted(splits["train"] + splits["validation"] + splits["test"]) == list(range(150))
    pre = json.loads((run / "preprocessing.json").read_text())
    assert set(pre) >= {"features", "targets", "outputs", "inputs"}

    with open(run / "history.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = reader.fieldnames
    assert header[0] == "epoch" and {"loss", "val_loss", "learning_rate"} <= set(header)
    assert len(rows) >= 3
    assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        assert None not in row and all(v not in ("", None) for v in row.values()), row
        assert all(np.isfinite(float(v)) for v in row.values())

    state = json.loads((run / "checkpoints" / "resume.json").read_text())
    assert state["epoch"] in (len(rows) - 1, len(rows))  # written right after the history row
    with np.load(run / "checkpoints" / state["arrays"], allow_pickle=False) as archive:
        assert "model_0" in archive.files
    best = run / "checkpoints" / "best.keras"
    assert best.is_file()
    with zipfile.ZipFile(best) as archive:
        assert archive.testzip() is None and "config.json" in archive.namelist()

    # temp files a SIGKILL interrupted may stay; they are never a target and look like temp files
    for name in dotfiles(run):
        base = Path(name).name
        assert base.startswith(".") and (base.endswith(".tmp") or base.endswith(".tmp.keras")), name
