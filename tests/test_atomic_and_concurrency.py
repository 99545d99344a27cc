"""Atomic artifact writes and concurrent runs: a target file is always either its old complete
content or its new complete content, whatever fails or kills the writer; concurrent runs on one
runs directory never share a folder. Real files, real processes, real signals; no mocks."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import ROOT
from dlrun.runs.atomic import write_bytes, write_csv, write_json, write_text
from dlrun.runs.rundir import RunDir

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


def _dotfiles(folder: Path) -> list[str]:
    """Files whose name starts with '.' anywhere under folder (where atomic temp files live)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*") if p.is_file())


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# ---- a failed write keeps the old file and leaves no temp file ----------------------------------

def test_write_json_that_cannot_serialise_keeps_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "run.json"
    write_json(target, {"status": "running", "epoch": 3})
    before = target.read_bytes()
    with pytest.raises(TypeError):
        write_json(target, {"status": "completed", "bad": object()})
    assert target.read_bytes() == before
    assert json.loads(before) == {"status": "running", "epoch": 3}
    assert _dotfiles(tmp_path) == []


def test_write_bytes_failing_after_the_temp_file_is_open_keeps_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "model.bin"
    write_bytes(target, b"old complete content")
    with pytest.raises(TypeError):
        write_bytes(target, "text is not bytes")  # fails inside the write, after mkstemp
    assert target.read_bytes() == b"old complete content"
    assert _dotfiles(tmp_path) == []


def test_write_csv_with_bad_rows_keeps_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "history.csv"
    write_csv(target, [{"epoch": 1, "loss": 0.5}], ["epoch", "loss"])
    before = target.read_text()
    with pytest.raises((AttributeError, TypeError)):
        write_csv(target, [{"epoch": 1, "loss": 0.5}, ["not", "a", "row"]], ["epoch", "loss"])
    assert target.read_text() == before == "epoch,loss\n1,0.5\n"
    assert _dotfiles(tmp_path) == []


def test_write_that_runs_out_of_file_size_mid_write_keeps_the_old_file_and_no_temp(tmp_path):
    """A real short write: RLIMIT_FSIZE makes the kernel refuse the payload part-way (EFBIG)."""
    target = tmp_path / "metrics.json"
    write_json(target, {"old": True})
    child = _write(tmp_path / "child.py", f"""
        import errno, resource, signal, sys
        from dlrun.runs.atomic import write_bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        try:
            write_bytes({str(target)!r}, b"{{" + b" " * (1024 * 1024) + b"}}")
        except OSError as exc:
            print("refused", errno.errorcode.get(exc.errno))
            sys.exit(0)
        print("written")
        """)
    done = subprocess.run([sys.executable, str(child)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["refused", "EFBIG"]
    assert json.loads(target.read_text()) == {"old": True}
    assert _dotfiles(tmp_path) == []


def test_atomic_write_gets_the_same_permissions_as_a_plain_write(tmp_path):
    import stat

    old = os.umask(0o022)
    try:
        (tmp_path / "plain.json").write_text("{}")
        write_json(tmp_path / "atomic.json", {})
    finally:
        os.umask(old)
    mode = {name: oct(stat.S_IMODE((tmp_path / name).stat().st_mode)) for name in ("plain.json", "atomic.json")}
    assert mode["atomic.json"] == mode["plain.json"] == "0o644", mode


def test_write_text_creates_missing_parent_folders(tmp_path):
    target = tmp_path / "a" / "b" / "plots.txt"
    write_text(target, "x")
    assert target.read_text() == "x"


# ---- a killed writer never leaves a partial target -----------------------------------------------

WRITER = """
import hashlib, json, random, sys
from dlrun.runs.atomic import write_bytes

target, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
i = 0
while True:
    pad = "x" * rng.randrange(1, 3_000_000)
    body = json.dumps({"i": i, "n": len(pad), "sha": hashlib.sha256(pad.encode()).hexdigest(), "pad": pad})
    write_bytes(target, body.encode())
    if i == 0:
        print("ready", flush=True)
    i += 1
"""


def _check_complete(target: Path, context: str) -> int:
    import hashlib

    document = json.loads(target.read_bytes())  # raises on a partial file
    assert len(document["pad"]) == document["n"], context
    assert hashlib.sha256(document["pad"].encode()).hexdigest() == document["sha"], context
    return document["i"]


def test_writer_killed_at_random_moments_never_leaves_a_partial_target(tmp_path):
    script = _write(tmp_path / "writer.py", WRITER)
    target = tmp_path / "out" / "artifact.json"
    write_json(target, {"i": -1, "n": 0, "sha": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                        "pad": ""})
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    progressed = []
    for round_ in range(6):
        proc = subprocess.Popen([sys.executable, str(script), str(target), str(seed + round_)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        progressed.append(_check_complete(target, f"seed {seed}, round {round_}"))
    assert all(i >= 0 for i in progressed), progressed  # each round replaced the target at least once
    names = [p.name for p in target.parent.iterdir()]
    leftovers = [n for n in names if n != target.name]
    # a temp file killed mid-write may stay behind; it must look like one and never be the target
    assert all(n.startswith(".artifact.json.") and n.endswith(".tmp") for n in leftovers), leftovers


def test_readers_never_see_a_partial_file_while_threads_rewrite_it(tmp_path):
    target = tmp_path / "run.json"
    write_json(target, {"writer": -1, "pad": ""})
    stop = threading.Event()
    errors: list[str] = []
    reads = [0]

    def writer(k: int) -> None:
        for j in range(15):
            write_json(target, {"writer": k, "j": j, "pad": "y" * (50_000 + 1000 * k)})

    def reader() -> None:
        while not stop.is_set():
            try:
                document = json.loads(target.read_text())
                if document["writer"] >= 0 and len(document["pad"]) != 50_000 + 1000 * document["writer"]:
                    errors.append("short pad")
                reads[0] += 1
            except (json.JSONDecodeError, FileNotFoundError) as exc:
                errors.append(repr(exc))

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert reads[0] > 0
    assert _dotfiles(tmp_path) == []


# ---- concurrent runs never share a folder --------------------------------------------------------

def test_threads_creating_runs_with_the_same_name_get_distinct_folders(tmp_path):
    runs = tmp_path / "runs"
    count = 200
    barrier = threading.Barrier(count)
    made: list[RunDir] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def create() -> None:
        barrier.wait()
        try:
            run = RunDir.create(runs, "same")
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)
            return
        with lock:
            made.append(run)

    threads = [threading.Thread(target=create) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    paths = [r.path for r in made]
    assert len(paths) == count and len(set(paths)) == count
    on_disk = sorted(p for p in runs.iterdir())
    assert sorted(paths) == on_disk
    assert all(p.is_dir() and not any(p.iterdir()) and "-same-" in p.name for p in on_disk)


def test_sixteen_concurrent_train_processes_on_one_runs_dir_all_complete_in_distinct_folders(tmp_path):
    config = _write(tmp_path / "tiny.yaml", TINY_IRIS)
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
    assert _dotfiles(runs) == []


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
    config = _write(tmp_path / "long.yaml", LONG_IRIS)
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
    for name in _dotfiles(run):
        base = Path(name).name
        assert base.startswith(".") and (base.endswith(".tmp") or base.endswith(".tmp.keras")), name
