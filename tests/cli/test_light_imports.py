"""The light commands answer without importing TensorFlow, Keras, scikit-learn or matplotlib.

Each case runs in a fresh interpreter, the only place where "was it imported?" has an answer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import CONFIGS, ROOT

pytestmark = pytest.mark.slow  # one fresh Python process per command

HEAVY = ("tensorflow", "keras", "sklearn", "matplotlib", "optuna", "jax")


@pytest.fixture(scope="module")
def fake_runs(tmp_path_factory):
    """Two finished-looking runs (run.json, metrics.json, config.yaml): enough for runs/show/compare."""
    runs = tmp_path_factory.mktemp("runs")
    for index, lr in enumerate((0.01, 0.001)):
        run = runs / f"20260101-00000{index}-demo-ab{index}d"
        run.mkdir()
        (run / "run.json").write_text(json.dumps({"run_id": run.name, "name": "demo", "status": "completed",
                                                  "started": f"2026-01-01T00:00:0{index}+00:00"}))
        (run / "metrics.json").write_text(json.dumps({"part": "test", "test": {"task": "multiclass", "accuracy": 0.9}}))
        (run / "config.yaml").write_text(f"optimizer:\n  learning_rate: {lr}\n")
    return runs


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["validate", str(CONFIGS / "digits_mlp.yaml")],
                                  ["schema"], ["runs"], ["show", "latest"], ["compare", "latest", "demo"],
                                  ["audit", "--help"],
                                  ["train", "--help"], ["kfold", "--help"], ["sweep", "--help"], ["export", "--help"],
                                  ["sweep", str(CONFIGS / "iris_sweep.yaml"), "--dry-run"],
                                  ["validate", str(CONFIGS / "iris_sweep.yaml")]])
def test_light_commands_never_import_heavy_libraries(args, fake_runs):
    if args[0] in ("runs", "show", "compare"):
        args = [*args, "--runs-dir", str(fake_runs)] if args[0] != "compare" else \
            ["compare", "20260101-000000-demo-ab0d", "20260101-000001-demo-ab1d", "--runs-dir", str(fake_runs)]
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom dlrun.cli import app\n"
            f"result = CliRunner().invoke(app, {args!r})\n"
            f"print(result.exit_code, [m for m in {HEAVY!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    exit_code, loaded = proc.stdout.strip().split(" ", 1)
    assert exit_code == "0", proc.stdout + proc.stderr
    assert loaded == "[]", f"{args[0]} imported {loaded}"
