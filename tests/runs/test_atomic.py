"""Atomic artifact writes: a target file is always either its old complete content or its new
complete content, whatever fails or kills the writer. Real files, real processes, real signals;
no mocks."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dlrun.runs.atomic import write_bytes, write_csv, write_json, write_text
from tests.support import ROOT, dotfiles, write_dedented


# ---- a failed write keeps the old file and leaves no temp file ----------------------------------

def test_write_json_that_cannot_serialise_keeps_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "run.json"
    write_json(target, {"status": "running", "epoch": 3})
    before = target.read_bytes()
    with pytest.raises(TypeError):
        write_json(target, {"status": "completed", "bad": object()})
    assert target.read_bytes() == before
    assert json.loads(before) == {"status": "running", "epoch": 3}
    assert dotfiles(tmp_path) == []


def test_write_bytes_failing_after_the_temp_file_is_open_keeps_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "model.bin"
    write_bytes(target, b"old complete content")
    with pytest.raises(TypeError):
        write_bytes(target, "text is not bytes")  # fails inside the write, after mkstemp
    assert target.read_bytes() == b"old complete content"
    assert dotfiles(tmp_path) == []


def test_write_csv_with_bad_rows_keeps_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "history.csv"
    write_csv(target, [{"epoch": 1, "loss": 0.5}], ["epoch", "loss"])
    before = target.read_text()
    with pytest.raises((AttributeError, TypeError)):
        write_csv(target, [{"epoch": 1, "loss": 0.5}, ["not", "a", "row"]], ["epoch", "loss"])
    assert target.read_text() == before == "epoch,loss\n1,0.5\n"
    assert dotfiles(tmp_path) == []


@pytest.mark.slow  # a child process
def test_write_that_runs_out_of_file_size_mid_write_keeps_the_old_file_and_no_temp(tmp_path):
    """A real short write: RLIMIT_FSIZE makes the kernel refuse the payload part-way (EFBIG), which
    reaches the caller as one line naming the file and the system's reason."""
    target = tmp_path / "metrics.json"
    write_json(target, {"old": True})
    child = write_dedented(tmp_path / "child.py", f"""
        import resource, signal, sys
        from dlrun.errors import UserError
        from dlrun.runs.atomic import write_bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        try:
            write_bytes({str(target)!r}, b"{{" + b" " * (1024 * 1024) + b"}}")
        except UserError as exc:
            print("refused:", exc)
            sys.exit(0)
        print("written")
        """)
    done = subprocess.run([sys.executable, str(child)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"refused: {target}: cannot be written (File too large)"
    assert json.loads(target.read_text()) == {"old": True}
    assert dotfiles(tmp_path) == []


def test_atomic_write_gets_the_same_permissions_as_a_plainwrite_dedented(tmp_path):
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


@pytest.mark.slow  # six child processes, each killed
def test_writer_killed_at_random_moments_never_leaves_a_partial_target(tmp_path):
    script = write_dedented(tmp_path / "writer.py", WRITER)
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
    assert dotfiles(tmp_path) == []
