"""Graph models (named inputs, nodes, outputs) built from a spec and trained for real on tiny data."""

from __future__ import annotations

import math

import numpy as np
import yaml

from tests.support import CONFIGS


def test_graph_model_with_two_inputs_and_two_outputs(trained_run):
    result = trained_run(CONFIGS / "reviews_two_inputs.yaml", "training.epochs=2")
    test = result.metrics["test"]
    assert set(test) == {"positive_head", "stars_head"}
    assert test["positive_head"]["task"] == "binary" and 0 <= test["positive_head"]["accuracy"] <= 1
    assert test["stars_head"]["task"] == "regression" and math.isfinite(test["stars_head"]["mae"])
    header = (result.run.path / "history.csv").read_text().splitlines()[0].split(",")
    assert "positive_head_accuracy" in header and "val_stars_head_mae" in header


def test_shared_layer_node_reuses_the_same_weights(trained_run):
    import keras

    rng = np.random.default_rng(0)
    frame = "a1,a2,b1,b2,y\n" + "\n".join(
        ",".join(f"{v:.3f}" for v in row) + f",{int(row[0] + row[2] > 0)}" for row in rng.normal(size=(80, 4)))
    spec = """
    data: {source: "csv:pairs.csv", target: y}
    model:
      inputs:
        left: {columns: [a1, a2]}
        right: {columns: [b1, b2]}
      nodes:
        - {name: encode, inputs: left, Dense: {units: 4, activation: relu}}
        - {name: encode_right, inputs: right, shared: encode}
        - {name: both, inputs: [encode, encode_right], Concatenate: {}}
        - {name: out, inputs: both, Dense: {units: 1}}
      outputs:
        - {node: out, target: y}
    training: {epochs: 1}
    """
    result = trained_run(spec, files={"pairs.csv": frame + "\n"})
    model = keras.models.load_model(result.run.path / "model.keras")
    dense_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense_layers) == 2  # the shared encoder appears once
    resolved = yaml.safe_load((result.run.path / "config.yaml").read_text())
    assert resolved["model"]["outputs"][0]["loss"] == "binary_crossentropy"
    assert resolved["model"]["nodes"][3]["Dense"]["activation"] == "sigmoid"
