"""Choosing an executor: option checks, a missing Ray extra, the mirrored spec checks, and the
watchdog that stops a local Ray's processes when the dlrun process that started it is killed."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import SpecError, UserError
from dlrun.executors.choice import Executor
from dlrun.executors.ray_cluster import session_processes
from dlrun.spec.load import load_spec
from tests.support import TINY_IRIS, combined_output, only_problem

runner = CliRunner()


@pytest.mark.parametrize("options, message", [
    ({"name": "dask"}, "--executor must be one of local, ray"),
    ({"jobs": 0}, "--jobs must be 1 or more"),
    ({"name": "ray", "cpus": 0}, "--cpus-per-trial must be above 0"),
    ({"address": "auto"}, "apply to --executor ray"),
    ({"gpus": 0.5}, "apply to --executor ray"),
])
def test_bad_executor_options_are_refused(options, message):
    with pytest.raises(UserError, match=message):
        Executor(**options)


def test_ray_resources_give_each_trial_its_whole_cpus_as_threads():
    assert Executor("ray", cpus=2, gpus=0.5).threads() == 2
    assert Executor("ray", cpus=0.5).threads() == 1
    assert Executor("local", jobs=1).threads() is None


@pytest.mark.parametrize("command", ["kfold", "sweep"])
def test_without_ray_the_ray_executor_says_which_extra_to_install(command, write_spec, runs_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails, as when the extra is not installed
    spec = TINY_IRIS + ("split: {protocol: kfold, folds: 2}\n" if command == "kfold" else
                        "sweep:\n  trials: 2\n  params:\n    training.batch_size: {choice: [8, 16]}\n")
    result = runner.invoke(app, [command, str(write_spec(spec)), "--executor", "ray", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2, result.output
    assert 'pip install "dlrun[ray]"' in combined_output(result)
    assert not runs_dir.exists()


def test_an_unknown_executor_on_the_command_line_exits_2(write_spec, runs_dir):
    spec = write_spec(TINY_IRIS + "split: {protocol: kfold, folds: 2}\n")
    result = runner.invoke(app, ["kfold", str(spec), "--executor", "spark", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2 and "--executor must be one of local, ray" in combined_output(result)


def test_mirrored_on_jax_and_cpu_replicas_alone_are_located_errors(write_spec):
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(TINY_IRIS), ["training.distribute=mirrored", "training.backend=jax"])
    assert only_problem(excinfo).path == "training.distribute"
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(TINY_IRIS), ["training.cpu_replicas=2"])
    assert "set training.distribute: mirrored" in only_problem(excinfo).message


@pytest.mark.slow
def test_the_watchdog_stops_a_sessions_processes_once_its_driver_is_gone(tmp_path):
    session = tmp_path / "session_2026-11-30_00-00-00_000000_4242"
    session.mkdir()
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(session)])
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    watchdog = subprocess.Popen([sys.executable, "-m", "dlrun.executors.ray_watchdog", str(driver.pid), str(session)])
    try:
        time.sleep(1.5)
        assert session_processes(str(session)) == [helper.pid]  # the driver lives: nothing is touched
        assert helper.poll() is None
        driver.kill()
        driver.wait()
        watchdog.wait(timeout=20)
        helper.wait(timeout=10)
        assert session_processes(str(session)) == []
    finally:
        for proc in (helper, driver, watchdog):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
