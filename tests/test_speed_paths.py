"""The fast input path and the light commands: behaviour only (speed itself is for bench/)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from conftest import CONFIGS, ROOT
from dlrun.protocols.holdout import train
from dlrun.spec import load_spec
from dlrun.train.pipeline import MAX_STEPS_PER_EXECUTION, steps_per_execution

HEAVY = ("tensorflow", "keras", "sklearn", "matplotlib")


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
                                  ["train", "--help"], ["kfold", "--help"]])
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


def test_steps_per_execution_divides_the_epoch():
    assert steps_per_execution(135, 5) == 27                       # small data: a whole epoch per call
    assert steps_per_execution(10_000, 5) == 50                    # 2,000 steps: the largest divisor up to 64
    assert steps_per_execution(120_000, 256) == 7                  # 469 steps = 7 x 67
    assert steps_per_execution(5, 5) == 1
    for rows, batch in ((1797, 32), (60000, 128), (97, 7)):
        steps = -(-rows // batch)
        assert steps % steps_per_execution(rows, batch) == 0
        assert steps_per_execution(rows, batch) <= MAX_STEPS_PER_EXECUTION


@pytest.mark.parametrize("rows, batch", [(60, 8), (400, 3)])  # 8 steps (endless pipeline) and 134 (finite)
def test_fast_path_runs_exactly_one_pass_over_the_rows_per_epoch(rows, batch, tmp_path, write_spec):
    import keras

    from dlrun.train.fit import fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")[:, None]
    spec = load_spec(write_spec(f"""
    data: {{source: "sklearn:iris"}}
    model: {{layers: [{{Dense: {{units: 1}}}}]}}
    training: {{epochs: 3, batch_size: {batch}}}
    """)).spec
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", steps_per_execution=steps_per_execution(rows, batch))
    fit(model, spec, x, y, None, [])
    assert int(model.optimizer.iterations.numpy()) == 3 * math.ceil(rows / batch)


def test_fast_path_gives_the_same_accuracy_as_the_plain_path(runs_dir):
    results = {}
    for fast in ("true", "false"):
        loaded = load_spec(CONFIGS / "digits_mlp.yaml", [f"output.runs_dir={runs_dir}", "training.epochs=8",
                                                        f"training.fast_input={fast}", "callbacks.model_checkpoint=null"])
        results[fast] = train(loaded).metrics["test"]["accuracy"]
    assert results["true"] >= 0.9 and results["false"] >= 0.9
    assert abs(results["true"] - results["false"]) <= 0.03


def test_plain_path_is_reproducible_too(write_spec, runs_dir):
    path = write_spec("""
    data: {source: "sklearn:iris"}
    model: {layers: [{Dense: {units: 8, activation: relu}}, {Dense: {units: 3}}]}
    training: {epochs: 3, batch_size: 16, fast_input: false}
    """)
    first = train(load_spec(path, [f"output.runs_dir={runs_dir}"])).run.file("history.csv").read_bytes()
    second = train(load_spec(path, [f"output.runs_dir={runs_dir}"])).run.file("history.csv").read_bytes()
    assert first == second
