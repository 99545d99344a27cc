"""Constants the test modules share: paths and the default tiny spec (the fixtures are in conftest.py)."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # terminal colour codes in console output

# The run most tests need: iris, a hidden layer of 8, 2 epochs (a few seconds on a CPU).
TINY_IRIS = """
name: tiny-iris
seed: 5
data: {source: "sklearn:iris"}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
training: {epochs: 2, batch_size: 16}
"""

# Digits with a small MLP for 2 epochs, early stopping and a best checkpoint: the holdout flow
# with every optional part switched on.
TINY_DIGITS = """
name: tiny-digits
seed: 3
data: {source: "sklearn:digits"}
model:
  layers:
    - Dense: {units: 16, activation: relu}
    - Dense: {units: 10, activation: softmax}
training: {epochs: 2, batch_size: 64}
callbacks:
  early_stopping: {monitor: val_loss, patience: 3}
  model_checkpoint: {monitor: val_accuracy}
"""


def assert_refused(result, output: str, *fragments: str) -> None:
    """A CliRunner result that ended through the CLI's error path: exit 2, `error:`, no traceback,
    every fragment in the message."""
    assert result.exit_code == 2, f"exit {result.exit_code}, exception {result.exception!r}:\n{output}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output, output
    assert "error:" in output, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in the message:\n{output}"


def config_tool(name: str):
    """A data generator of configs/data (e.g. "make_shapes") as a module: its functions write test data."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, CONFIGS / "data" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dotfiles(folder: Path) -> list[str]:
    """Files whose name starts with '.' anywhere under folder (where atomic temp files live)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*") if p.is_file())


def write_dedented(path: Path, text: str) -> Path:
    """Write `text`, dedented, to `path` (making its folder); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def combined_output(result) -> str:
    """stdout and stderr together, whether this Click/Typer mixes them or keeps them apart."""
    text = result.output or ""
    try:
        stderr = result.stderr or ""
    except ValueError:  # older Click: stderr not captured separately
        stderr = ""
    if stderr and stderr not in text:
        text += stderr
    return text


def only_problem(excinfo):
    """The single Problem of a SpecError (fails the test when there are several)."""
    problems = excinfo.value.problems
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def child_env() -> dict:
    """The environment for a dlrun subprocess: this checkout importable, TensorFlow quiet and on
    the CPU, unbuffered output, wide console lines, no KERAS_BACKEND from the calling shell."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1", COLUMNS="300")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def finish_process(proc, timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a subprocess; killed, and the test failed, if it outlives `timeout`."""
    import subprocess

    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"{proc.args} did not finish in {timeout} s:\n{out}\n{err}") from None
    return proc.returncode, out, err


def finished_trials(rows: list[dict]) -> list[dict]:
    """The rows of trials.csv that count towards a sweep's `trials`: completed, pruned, or failed on
    their own (not stopped by an interruption and run again)."""
    return [r for r in rows if r["status"] in ("completed", "pruned")
            or (r["status"] == "failed" and not r["error"].startswith("interrupted"))]


def killed_after_epochs(spec: Path, runs: Path, epochs: int = 3, timeout: float = 240) -> Path:
    """Start `dlrun train SPEC --runs-dir RUNS` in a subprocess, SIGKILL it once its history holds
    `epochs` rows, and return the run folder it left (to be resumed)."""
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "dlrun", "train", str(spec), "--runs-dir", str(runs)], cwd=ROOT,
                            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, run = time.time() + timeout, None
    while run is None and time.time() < deadline:
        for history in runs.glob("*/history.csv"):
            if len(history.read_text().splitlines()) - 1 >= epochs:
                run = history.parent
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert run is not None, f"no run reached {epochs} epochs in {timeout} s"
    return run


# ---- the combination matrices (tests/protocols/test_*_matrix.py) ------------------------------------

def write_iris_rows(path: Path) -> Path:
    """60 iris rows as CSV (f1..f4, species), the classes interleaved (time-series folds see every
    class), with a `site` column of 5 groups of 12 rows, 4 of each class (for group_kfold)."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    order = [50 * c + i for i in range(20) for c in range(3)]
    lines = ["site,f1,f2,f3,f4,species"] + [f"s{(n // 3) % 5}," + ",".join(f"{v:.1f}" for v in iris.data[i]) +
                                            f",{iris.target[i]}" for n, i in enumerate(order)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_protocol(command: str, spec: str, runs: str, ray_address: str | None = None) -> None:
    """`dlrun train|kfold|sweep SPEC --runs-dir RUNS` through the library, locally or on the Ray
    cluster at `ray_address`; raises what the command raises."""
    import json

    from dlrun.executors.choice import Executor

    executor = Executor("ray", address=ray_address) if ray_address else Executor()
    overrides = [f"output.runs_dir={json.dumps(str(runs))}"]
    if command == "sweep":
        from dlrun.protocols.sweep import sweep_or_resume

        sweep_or_resume(Path(spec), overrides, executor=executor)
        return
    from dlrun.protocols.holdout import train
    from dlrun.protocols.kfold import kfold
    from dlrun.spec import load_spec

    loaded = load_spec(Path(spec), overrides)
    kfold(loaded, executor=executor) if command == "kfold" else train(loaded)


class BackendProcess:
    """One Python process that runs `run_protocol` jobs on another Keras backend than this test
    process's (a process cannot switch backends), started once and reused: its start-up and imports
    are paid once. `run(...)` fails the test with the job's traceback."""

    MARK = "\x1e"  # starts the line that answers a job; everything else is the job's own output

    def __init__(self, timeout: float = 300):
        import collections
        import queue
        import subprocess
        import sys
        import threading

        code = ("import json, sys, traceback\nfrom tests.support import run_protocol\nfor line in sys.stdin:\n"
                "    try:\n        run_protocol(*json.loads(line)); error = None\n"
                "    except BaseException:\n        error = traceback.format_exc()\n"
                f"    print({self.MARK!r} + json.dumps(error), flush=True)\n")
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=child_env(), text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.timeout, self.lines, self.tail = timeout, queue.Queue(), collections.deque(maxlen=40)
        threading.Thread(target=lambda: [*map(self.lines.put, self.proc.stdout), self.lines.put(None)],
                         daemon=True).start()

    def run(self, command: str, spec: Path, runs: Path, ray_address: str | None = None) -> None:
        import json
        import queue
        import time

        self.proc.stdin.write(json.dumps([command, str(spec), str(runs), ray_address]) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"no answer in {self.timeout} s:\n" + "".join(self.tail)) from None
            if line is None:
                raise AssertionError(f"the process ended ({self.proc.wait()}):\n" + "".join(self.tail))
            if line.startswith(self.MARK):
                error = json.loads(line[len(self.MARK):])
                assert error is None, error
                return
            self.tail.append(line)

    def close(self) -> None:
        import subprocess

        self.proc.stdin.close()  # the end of the job list: the process returns
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def trained_folders(runs: Path) -> list[Path]:
    """The folders that trained a model in the one run under `runs`: the run itself, its folds, its
    trials or its trials' folds. Fails unless the run and each of these completed (a sweep: every row
    of trials.csv too) and each trained folder has a history."""
    from dlrun.runs import artifacts

    (run,) = [p for p in runs.iterdir() if artifacts.is_run(p)]

    def trained(folder: Path) -> list[Path]:
        info = artifacts.read_info(folder)
        where = folder.relative_to(runs)
        assert info.get("status") == "completed", f"{where}: {info.get('status')} {info.get('error')}"
        if artifacts.trial_folders(folder):
            rows = artifacts.read_trials_table(folder)
            assert [r["status"] for r in rows] == ["completed"] * len(rows), [(r["status"], r["error"]) for r in rows]
        inner = artifacts.fold_folders(folder) or artifacts.trial_folders(folder)
        if inner:
            return [found for part in inner for found in trained(part)]
        assert artifacts.read_history(folder), f"{where}: no history"
        return [folder]

    return trained(run)
