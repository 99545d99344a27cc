"""The CLI in an 80-column terminal (COLUMNS=80, a real process): `dlrun runs`, `dlrun kfold` on a
spec with several targets and `dlrun validate --build` fold or transpose instead of cutting cells to
'…'; and `dlrun train`, fresh or resumed, prints none of TensorFlow's start-up lines."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.support import ANSI, ROOT, TINY_IRIS, child_env, killed_after_epochs, write_dedented

pytestmark = pytest.mark.slow  # dlrun in fresh interpreters (TensorFlow imported by most)

# absl's and TensorFlow's C++ start-up lines ("WARNING: All log messages before absl::InitializeLog() ...",
# "I0000 00:00:1700000000.123 cudart_stub.cc:31] Could not find cuda drivers ...", "oneDNN custom operations ...")
NOISE = re.compile(r"^(WARNING: All log messages before absl|[IWEF]\d{4} \d\d:\d\d:)|oneDNN|cuda|TensorFlow binary",
                   re.MULTILINE)

# sklearn:linnerud: three targets (Weight, Waist, Pulse) from three exercises; one output per target
LINNERUD_KFOLD = """
name: linnerud-kfold
seed: 3
data: {source: "sklearn:linnerud", task: regression}
split: {protocol: kfold, folds: 3, validation: 0.0, curves: false}
model:
  inputs:
    exercises: {columns: [Chins, Situps, Jumps]}
  nodes:
    - {name: hidden, inputs: exercises, Dense: {units: 4, activation: relu}}
    - {name: Weight, inputs: hidden, Dense: {units: 1}}
    - {name: Waist, inputs: hidden, Dense: {units: 1}}
    - {name: Pulse, inputs: hidden, Dense: {units: 1}}
  outputs:
    - {node: Weight, target: Weight}
    - {node: Waist, target: Waist}
    - {node: Pulse, target: Pulse}
training: {epochs: 1, batch_size: 8}
"""
LINNERUD_HOLDOUT = LINNERUD_KFOLD.replace("{protocol: kfold, folds: 3, validation: 0.0, curves: false}", "{test: 0.25}")


def dlrun(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**child_env(), "COLUMNS": "80"}
    proc = subprocess.run([sys.executable, "-m", "dlrun", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def assert_readable(text: str, *words: str) -> None:
    text = ANSI.sub("", text)
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= 80, text
    for word in words:
        assert word in text, f"{word!r} is not shown whole:\n{text}"


def test_runs_at_80_columns(tmp_path):
    runs = tmp_path / "runs"
    for index in range(3):
        run = runs / f"20260301-12000{index}-digits-mlp-wide-search-{index:04x}"
        run.mkdir(parents=True)
        (run / "run.json").write_text(json.dumps({
            "run_id": run.name, "name": "digits-mlp-wide-search", "status": "completed", "backend": "tensorflow",
            "started": f"2026-03-01T12:00:0{index}+00:00", "seconds": 12.5}))
        (run / "metrics.json").write_text(json.dumps({"part": "test", "test": {"task": "multiclass",
                                                                               "balanced_accuracy": 0.9}}))
    assert_readable(dlrun("runs", "--runs-dir", runs).stdout, *(p.name for p in runs.iterdir()), "completed")


def test_kfold_with_three_targets_at_80_columns_is_a_block_per_target(tmp_path):
    spec = write_dedented(tmp_path / "linnerud.yaml", LINNERUD_KFOLD)
    out = dlrun("kfold", spec, "--runs-dir", tmp_path / "runs").stdout
    panel = ANSI.sub("", out)[ANSI.sub("", out).index("╭"):]
    assert_readable(panel, "Weight", "Waist", "Pulse", "baseline_mae", "rmse", "95% CI", "mean")
    assert "Weight.mae" not in panel  # the target is its block's title


def test_validate_build_prints_the_layers_as_a_table_at_80_columns(tmp_path):
    proc = dlrun("validate", write_dedented(tmp_path / "graph.yaml", LINNERUD_HOLDOUT),
                 "--build")
    assert_readable(proc.stdout, "exercises", "InputLayer", "(None, 3)", "Dense", "hidden", "Weight_scaled",
                    "parameters: 37", "trainable 31", "non-trainable 6")
    assert "Total params" not in proc.stdout  # Keras's own printed summary
    assert not NOISE.search(proc.stderr), proc.stderr


def test_train_and_resume_print_no_tensorflow_start_up_lines(tmp_path):
    fresh = dlrun("train", write_dedented(tmp_path / "tiny.yaml", TINY_IRIS), "--runs-dir", tmp_path / "fresh")
    assert "completed" in fresh.stdout
    assert_readable(fresh.stdout, "time:", "load", "backend", "fit", "s/epoch", "report")  # where the time went
    assert NOISE.findall(fresh.stderr) == [], fresh.stderr
    killed = TINY_IRIS.replace("training: {epochs: 2, batch_size: 16}", "training: {epochs: 40, batch_size: 5}")
    run = killed_after_epochs(write_dedented(tmp_path / "killed.yaml", killed), tmp_path / "runs", epochs=2)
    resumed = dlrun("train", "--resume", run.name, "--runs-dir", tmp_path / "runs")
    assert "resuming run" in resumed.stdout and "completed" in resumed.stdout
    assert NOISE.findall(resumed.stderr) == [], resumed.stderr  # it was there twice: TensorFlow's, then JAX's
