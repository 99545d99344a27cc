"""The `dlrun` command leaves without the interpreter's teardown (dlrun/process_exit.py): its exit
status, its buffered output and every other exit handler must survive that."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import child_env

MAIN = "import sys; from dlrun.cli import main; sys.argv = ['dlrun', *sys.argv[1:]]; main()"


def _run(code: str, *args: str, buffered: bool = False) -> subprocess.CompletedProcess:
    env = child_env()
    if buffered:
        env.pop("PYTHONUNBUFFERED")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


def test_a_failed_command_keeps_its_exit_status_and_the_exit_handlers_registered_after_dlrun_run(tmp_path):
    marker = tmp_path / "handler.txt"
    code = ("import atexit, pathlib; import dlrun; "  # registered after dlrun's own handler: it runs before it
            f"atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text('ran')); " + MAIN)
    proc = _run(code, "train", str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2, proc.stderr
    assert "file not found" in proc.stderr
    assert marker.read_text() == "ran"


def test_buffered_output_into_a_pipe_arrives_whole():
    proc = _run(MAIN, "schema", buffered=True)  # tens of kilobytes of JSON, still in the buffer at exit
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"]


def test_a_process_that_imports_dlrun_without_running_the_command_exits_as_usual(tmp_path):
    marker = tmp_path / "handler.txt"
    proc = _run("import atexit, pathlib, sys, dlrun; "
                f"atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text('ran')); sys.exit(3)")
    assert proc.returncode == 3 and marker.read_text() == "ran"


def test_an_exit_message_gives_status_one():
    from dlrun import process_exit

    try:
        process_exit.arm("stopped: a message")
        assert process_exit._status == 1
        process_exit.arm(None)
        assert process_exit._status == 0
        process_exit.arm(2)
        assert process_exit._status == 2
    finally:
        process_exit._status = None  # this test process must exit as usual


def test_a_pool_worker_armed_by_in_worker_returns_its_results_and_the_pool_closes():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from dlrun.process_exit import in_worker

    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"),
                             initializer=in_worker) as pool:
        assert list(pool.map(abs, [-1, -2, -3])) == [1, 2, 3]
        workers = list(pool._processes.values())
    assert all(w.exitcode == 0 for w in workers)  # ended (os._exit after their exit handlers), nothing hung
