"""The input pipeline: steps per execution, the fast tf.data path against the plain NumPy path
(behaviour only: speed itself is measured by bench/)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlrun.spec import load_spec
from dlrun.train.pipeline import MAX_STEPS_PER_EXECUTION, steps_per_execution
from tests.support import CONFIGS


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


@pytest.mark.slow  # two digits runs of 8 epochs each
def test_fast_path_gives_the_same_accuracy_as_the_plain_path(trained_run):
    results = {}
    for fast in ("true", "false"):
        result = trained_run(CONFIGS / "digits_mlp.yaml", "training.epochs=8", f"training.fast_input={fast}",
                             "callbacks.model_checkpoint=null")
        results[fast] = result.metrics["test"]["accuracy"]
    assert results["true"] >= 0.9 and results["false"] >= 0.9
    assert abs(results["true"] - results["false"]) <= 0.03


PLAIN_IRIS = """
data: {source: "sklearn:iris"}
model: {layers: [{Dense: {units: 8, activation: relu}}, {Dense: {units: 3}}]}
training: {epochs: 3, batch_size: 16, fast_input: false}
"""


@pytest.mark.slow  # two 3-epoch runs on the step-by-step NumPy path
def test_plain_path_is_reproducible_too(trained_run, runs_dir):
    first = trained_run(PLAIN_IRIS).run.file("history.csv").read_bytes()
    second = trained_run(PLAIN_IRIS, runs_dir=runs_dir).run.file("history.csv").read_bytes()  # trained again
    assert first == second
