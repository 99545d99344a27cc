"""Resume after a crash or a signal: the continued run ends exactly where an uninterrupted one does."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dlrun.errors import UserError
from dlrun.protocols.holdout import resume_train
from dlrun.runs.rundir import RunDir
from dlrun.spec import load_spec
from tests.support import ROOT

# every test here starts dlrun processes and signals them, or needs the 14-epoch reference run
pytestmark = pytest.mark.slow

SPEC = """
name: resume-demo
seed: 3
data: {source: "sklearn:digits"}
model:
  layers:
    - Dense: {units: 32, activation: relu}
    - Dropout: {rate: 0.2}
    - Dense: {units: 10, activation: softmax}
optimizer: {name: adam, learning_rate: 0.002, schedule: {type: step, drop: 0.5, epochs_drop: 3}}
training: {epochs: 14, batch_size: 16}
callbacks:
  early_stopping: {monitor: val_loss, patience: 3, min_delta: 0.02}
  model_checkpoint: {monitor: val_accuracy}
"""


def _start(spec: Path, runs: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dlrun", "train", str(spec), "--runs-dir", str(runs)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_epochs(runs: Path, epochs: int, proc: subprocess.Popen, limit: float = 240) -> Path:
    deadline = time.time() + limit
    while time.time() < deadline:
        for history in runs.glob("*/history.csv"):
            if len(history.read_text().splitlines()) - 1 >= epochs:
                return history.parent
        if proc.poll() is not None:
            pytest.fail(f"the run ended before epoch {epochs}: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the run did not reach the epoch in time")


def _weights(run: Path) -> list[np.ndarray]:
    import keras

    return keras.models.load_model(run / "model.keras", compile=False).get_weights()


@pytest.fixture(scope="module")
def reference(trained_run, tmp_path_factory):
    """The spec file the interrupted runs start from, and the uninterrupted run of it that
    everything is compared with."""
    spec = tmp_path_factory.mktemp("reference") / "spec.yaml"
    spec.write_text(SPEC)
    return spec, trained_run(spec).run.path


def test_killed_run_resumes_to_the_same_history_and_weights(reference, tmp_path):
    spec, uninterrupted = reference
    runs = tmp_path / "runs"
    proc = _start(spec, runs)
    run = _wait_for_epochs(runs, 4, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "running"  # killed without a chance to say otherwise
    result = resume_train(RunDir(run))
    assert result.run.path == run
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    assert (run / "history.csv").read_bytes() == (uninterrupted / "history.csv").read_bytes()
    for mine, theirs in zip(_weights(run), _weights(uninterrupted)):
        np.testing.assert_array_equal(mine, theirs)
    assert json.loads((run / "metrics.json").read_text())["test"]["accuracy"] == \
        json.loads((uninterrupted / "metrics.json").read_text())["test"]["accuracy"]
    # history.csv is written just before the resume state, so the state may be one epoch behind it
    assert json.loads((run / "run.json").read_text())["resumed_from_epoch"] >= 3


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_at_an_epoch_end_marks_interrupted_and_exits_130(reference, tmp_path, signum):
    spec, uninterrupted = reference
    runs = tmp_path / "runs"
    proc = _start(spec, runs)
    run = _wait_for_epochs(runs, 2, proc)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert f"dlrun train --resume {run.name}" in stderr
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "interrupted"
    saved = json.loads((run / "checkpoints" / "resume.json").read_text())
    assert saved["epoch"] == len((run / "history.csv").read_text().splitlines()) - 1  # a whole epoch, no torn one
    proc = subprocess.run([sys.executable, "-m", "dlrun", "train", "--resume", run.name, "--runs-dir", str(runs)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (run / "history.csv").read_bytes() == (uninterrupted / "history.csv").read_bytes()


def test_resume_with_a_changed_spec_names_the_keys_and_refuses(reference, tmp_path):
    spec, _ = reference
    runs = tmp_path / "runs"
    proc = _start(spec, runs)
    run = _wait_for_epochs(runs, 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    changed = tmp_path / "changed.yaml"
    changed.write_text(SPEC.replace("learning_rate: 0.002", "learning_rate: 0.01"))
    with pytest.raises(UserError) as caught:
        resume_train(RunDir(run), load_spec(changed))
    assert "optimizer.learning_rate: 0.002 → 0.01" in str(caught.value)
    assert json.loads((run / "run.json").read_text())["status"] == "running"  # nothing touched
    result = resume_train(RunDir(run), load_spec(changed), allow_changed=True)
    assert result.run.path == run
    assert json.loads((run / "run.json").read_text())["status"] == "completed"


def test_a_completed_run_is_not_resumed(reference):
    _, uninterrupted = reference
    with pytest.raises(UserError, match="already completed"):
        resume_train(RunDir(uninterrupted))


def test_resume_state_is_written_every_epoch_and_names_its_arrays(reference):
    _, uninterrupted = reference
    state = json.loads((uninterrupted / "checkpoints" / "resume.json").read_text())
    history_rows = len((uninterrupted / "history.csv").read_text().splitlines()) - 1
    assert state["epoch"] == history_rows
    assert (uninterrupted / "checkpoints" / state["arrays"]).is_file()
    assert len(list((uninterrupted / "checkpoints").glob("resume-*.npz"))) == 1  # older states are removed
    assert {"EarlyStopping", "BestCheckpoint"} <= set(state["callbacks"])


def test_kfold_stopped_by_sigterm_resumes_from_the_first_unfinished_fold(tmp_path):
    spec = tmp_path / "cv.yaml"
    spec.write_text("""
name: cv
seed: 2
data: {source: "sklearn:iris"}
split: {protocol: stratified_kfold, folds: 5, validation: 0.0, curves: false}
model: {layers: [{Dense: {units: 8, activation: relu}}, {Dense: {units: 3}}]}
training: {epochs: 40, batch_size: 8}
""")
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "dlrun", "kfold", str(spec), "--runs-dir", str(runs)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and not list(runs.glob("*/folds/02/run.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    (run,) = list(runs.iterdir())
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    assert f"dlrun kfold --resume {run.name}" in stderr
    done = [p.name for p in (run / "folds").iterdir()
            if json.loads((p / "run.json").read_text()).get("status") == "completed"]
    proc = subprocess.run([sys.executable, "-m", "dlrun", "kfold", "--resume", run.name, "--runs-dir", str(runs)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    if done:
        assert "were already finished" in proc.stdout
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    assert len(json.loads((run / "summary.json").read_text())["folds"]) == 5
