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
