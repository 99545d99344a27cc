"""Connecting the Ray executor: without --address a stale cluster record (the file a `ray start`
cluster that died leaves behind, a RAY_ADDRESS naming it) is ignored and a local Ray of the
command's own runs the folds; with an --address that does not answer, the command ends with a
one-line error naming it (exit 2) well within a minute. Slow: each run imports TensorFlow and Ray."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from dlrun.executors.ray_cluster import session_processes
from tests.support import TINY_IRIS, child_env, finish_process, write_dedented

pytestmark = pytest.mark.slow
pytest.importorskip("ray")

# TINY_IRIS as two folds of one epoch, without plots
KFOLD = TINY_IRIS.replace("epochs: 2", "epochs: 1") + """split: {protocol: stratified_kfold, folds: 2, validation: 0.0}
output: {plots: false}
"""


def closed_port() -> int:
    """A port nothing listens on (bound once to pick it, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kfold_on_ray(tmp_path: Path, *options, env: dict | None = None, timeout: float = 60) -> tuple[int, str, float]:
    """(exit code, stdout and stderr, seconds) of `dlrun kfold --executor ray` on a tiny iris spec."""
    spec = write_dedented(tmp_path / "kfold.yaml", KFOLD)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "dlrun", "kfold", str(spec), "--executor", "ray",
                             "--runs-dir", str(tmp_path / "runs"), *options], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment(env), cwd=tmp_path)
    code, out, err = finish_process(proc, timeout)
    return code, out + err, time.monotonic() - started


def environment(changes: dict | None) -> dict:
    """child_env() with `changes` (None: the variable removed)."""
    merged = {**child_env(), **(changes or {})}
    return {name: value for name, value in merged.items() if value is not None}


@pytest.fixture
def ray_tmpdir():
    """A Ray temp root of the test's own (RAY_TMPDIR), short enough for Ray's socket paths, holding a
    record of a `ray start` cluster that died: the file Ray's default connect reads."""
    root = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    (root / "ray").mkdir()
    (root / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{closed_port()}")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_without_address_a_stale_cluster_record_and_ray_address_are_ignored(tmp_path, ray_tmpdir):
    dead = f"127.0.0.1:{closed_port()}"
    code, output, seconds = kfold_on_ray(tmp_path, env={"RAY_TMPDIR": str(ray_tmpdir), "RAY_ADDRESS": dead},
                                         timeout=300)
    assert code == 0, output
    assert "Traceback" not in output and "GCS" not in output, output
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert sorted(p.name for p in (run / "folds").iterdir()) == ["01", "02"]
    (session,) = (ray_tmpdir / "ray").glob("session_2*")  # the local Ray's, under RAY_TMPDIR
    assert session_processes(str(session)) == [], "the local Ray outlived the command"
    assert seconds < 300


@pytest.mark.parametrize("given", ["host:port", "auto"])
def test_address_of_a_dead_cluster_is_a_one_line_error_naming_it(tmp_path, ray_tmpdir, given):
    recorded = (ray_tmpdir / "ray" / "ray_current_cluster").read_text()  # auto: the record `ray start` left
    address = f"127.0.0.1:{closed_port()}" if given == "host:port" else "auto"
    port = address if given == "host:port" else recorded
    code, output, seconds = kfold_on_ray(tmp_path, "--address", address,
                                         env={"RAY_TMPDIR": str(ray_tmpdir), "RAY_ADDRESS": None})
    assert code == 2, output
    assert seconds < 60
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"Ray at {address}:" in errors[0], output
    assert port.rpartition(":")[2] in errors[0], output  # the GCS address tried (Ray resolves 127.0.0.1 to this host)


def test_address_that_accepts_but_never_answers_gives_up_within_a_minute(tmp_path):
    with socket.socket() as silent:  # listens (the kernel completes the handshake) but never speaks gRPC
        silent.bind(("0.0.0.0", 0))  # on every interface: Ray turns 127.0.0.1 into this machine's address
        silent.listen(8)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        code, output, seconds = kfold_on_ray(tmp_path, "--address", address, timeout=90)
    assert code == 2, output
    assert seconds < 60, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and address in errors[0], output
