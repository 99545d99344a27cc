"""The Ray executor with a real local Ray (2 CPUs): k-fold folds as Ray tasks, a sweep through
Ray Tune, a sweep whose driver is killed and then resumed, no Ray process left behind; and a
mirrored run on two logical CPU devices. Slow: each Ray start and each worker's TensorFlow import
take seconds."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from dlrun.executors.choice import Executor
from dlrun.runs.artifacts import read_trials_table
from tests.support import child_env, finish_process, finished_trials, write_dedented

pytestmark = pytest.mark.slow
pytest.importorskip("ray")

IRIS = """
name: ray-iris
seed: 4
data: {source: "sklearn:iris"}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
optimizer: {name: adam, learning_rate: 0.02}
output: {plots: false}
"""

SWEEP = IRIS + """
split: {test: 0.2, validation: 0.2}
training: {epochs: 4, batch_size: 16}
sweep:
  trials: 4
  seed: 3
  pruner: none
  plots: false
  params:
    optimizer.learning_rate: {loguniform: [0.001, 0.1]}
    model.layers[0].Dense.units: {int: [4, 16], step: 4}
"""


def ray_processes() -> list[str]:
    """Ray's own processes on this machine (raylet, GCS, agents, workers)."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout.splitlines()
    markers = ("raylet", "gcs_server", "ray::", "dashboard/agent.py", "runtime_env/agent", "default_worker.py")
    return [line for line in out if any(m in line for m in markers)]


def wait_until_no_ray(timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = ray_processes()
        if not left:
            return []
        time.sleep(0.5)
    return ray_processes()


def dlrun(*args, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dlrun", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env(), cwd=cwd)


def finish(proc: subprocess.Popen, timeout: float = 500) -> tuple[int, str]:
    code, out, err = finish_process(proc, timeout)
    return code, out + err


@pytest.fixture(autouse=True)
def no_ray_before_or_after():
    assert wait_until_no_ray() == [], "a Ray from elsewhere is running"
    yield
    assert wait_until_no_ray() == [], "Ray processes outlived the command"


def test_kfold_on_ray_gives_the_same_per_fold_metrics_as_local(tmp_path):
    from dlrun.protocols.kfold import kfold
    from dlrun.spec import load_spec

    spec = write_dedented(tmp_path / "kfold.yaml", IRIS + """
split: {protocol: stratified_kfold, folds: 3, validation: 0.0}
training: {epochs: 3, batch_size: 16}
""")
    results = {}
    for name in ("local", "ray"):
        loaded = load_spec(spec, [f"output.runs_dir={json.dumps(str(tmp_path / name))}"])
        results[name] = kfold(loaded, executor=Executor(name))
    local, ray = results["local"], results["ray"]
    assert [f["fold"] for f in ray.folds] == [1, 2, 3]
    for a, b in zip(local.folds, ray.folds):
        assert a["metrics"]["accuracy"] == pytest.approx(b["metrics"]["accuracy"], abs=1e-6)
        assert a["metrics"]["log_loss"] == pytest.approx(b["metrics"]["log_loss"], abs=1e-5)
    info = json.loads((ray.run.path / "run.json").read_text())
    assert info["executor"] == "ray" and info["status"] == "completed"
    fold = json.loads((ray.run.path / "folds" / "01" / "run.json").read_text())
    assert fold["executor"] == "ray" and fold["node"]


def test_a_sweep_on_ray_overlaps_its_trials_and_writes_what_a_local_sweep_writes(tmp_path):
    from dlrun.protocols.sweep import sweep_or_resume

    config = write_dedented(tmp_path / "sweep.yaml", SWEEP.replace("epochs: 4, batch_size: 16",
                                                                   "epochs: 150, batch_size: 4"))  # several seconds each
    found = {}
    for name in ("local", "ray"):
        found[name] = sweep_or_resume(config, [f"output.runs_dir={json.dumps(str(tmp_path / name))}"],
                                      executor=Executor(name))
    local, ray = found["local"].run.path, found["ray"].run.path
    assert [r["status"] for r in read_trials_table(ray)] == ["completed"] * 4
    own = {"tune", "sweep.lock"}  # Tune's experiment folder; the local workers' lock
    assert sorted(p.name for p in local.iterdir() if p.name not in own) == \
        sorted(p.name for p in ray.iterdir() if p.name not in own)
    assert sorted(p.name for p in (ray / "trials").iterdir()) == ["000", "001", "002", "003"]
    for number in range(4):
        names = {p.name for p in (ray / "trials" / f"{number:03d}").iterdir()}
        assert names == {p.name for p in (local / "trials" / f"{number:03d}").iterdir()}
    spans = []
    for number in range(4):
        info = json.loads((ray / "trials" / f"{number:03d}" / "run.json").read_text())
        assert info["executor"] == "ray" and info["sweep_record"]["status"] == "completed"
        spans.append((datetime.fromisoformat(info["started"]), datetime.fromisoformat(info["finished"])))
    assert any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1:])
    assert json.loads((ray / "run.json").read_text())["executor"] == "ray"
    assert found["ray"].best is not None and (ray / "best.json").is_file()


def test_a_ray_sweep_whose_driver_is_killed_resumes_to_exactly_its_trials(tmp_path):
    config = write_dedented(tmp_path / "sweep.yaml", SWEEP.replace("epochs: 4", "epochs: 25").replace(
        "batch_size: 16", "batch_size: 4"))
    runs = tmp_path / "runs"
    proc = dlrun("sweep", config, "--executor", "ray", "--runs-dir", runs, cwd=tmp_path)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(runs.glob("*/trials/*/history.csv")):
        assert proc.poll() is None, finish(proc)[1]
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert wait_until_no_ray() == [], "the watchdog left Ray running after the driver was killed"
    (folder,) = [p for p in runs.iterdir() if p.is_dir()]
    code, output = finish(dlrun("sweep", "--resume", folder.name, "--executor", "ray", "--runs-dir", runs, cwd=tmp_path))
    assert code == 0, output
    assert "Traceback" not in output
    table = read_trials_table(folder)
    assert len(finished_trials(table)) == 4
    numbers = [int(r["number"]) for r in table]
    assert numbers == sorted(set(numbers))
    assert sorted(int(p.name) for p in (folder / "trials").iterdir()) == sorted(
        n for n in numbers if (folder / "trials" / f"{n:03d}").exists())
    assert json.loads((folder / "run.json").read_text())["status"] == "completed"


def test_a_mirrored_run_on_two_cpu_devices_trains_saves_reloads_and_scores_like_one_device(tmp_path):
    from dlrun.inference.evaluate import evaluate_any
    from dlrun.runs.rundir import RunDir

    spec = write_dedented(tmp_path / "digits.yaml", """
name: mirrored
seed: 5
data: {source: "sklearn:digits"}
model:
  layers:
    - Dense: {units: 32, activation: relu}
    - Dense: {units: 10, activation: softmax}
training: {epochs: 3, batch_size: 64}
output: {plots: false}
""")
    from dlrun.protocols.holdout import train
    from dlrun.spec import load_spec

    # one device: in this process; two logical CPU devices must be set before TensorFlow starts: a fresh process
    single = train(load_spec(spec, [f"output.runs_dir={json.dumps(str(tmp_path / 'one'))}"]))
    one = single.metrics["test"]["accuracy"]
    code, output = finish(dlrun("train", spec, "--runs-dir", tmp_path / "two", "--set", "training.distribute=mirrored",
                                "--set", "training.cpu_replicas=2", cwd=tmp_path))
    assert code == 0, output
    (run,) = [p for p in (tmp_path / "two").iterdir() if p.is_dir()]
    two = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    info = json.loads((run / "run.json").read_text())
    assert info["runtime"]["distribute"] == "mirrored" and info["runtime"]["replicas"] == 2
    [again] = evaluate_any(RunDir(run))  # the saved model reloads on one device
    assert again.document["test"]["accuracy"] == pytest.approx(two, abs=1e-9)
    assert abs(one - two) <= 0.02
