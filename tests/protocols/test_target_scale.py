"""Regression targets scaled for the fit and shown in their own units; outputs that start where the
targets are (data.target_scale, training.init_output_bias)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from dlrun.spec import load_spec

# A target of mean 1,000 and standard deviation about 5, linear in 5 features, with a little noise.
FAR_TARGET_SPEC = """
name: far-target
seed: 2
data: {source: "csv:far.csv", target: y}
model:
  layers:
    - Dense: {units: 32, activation: relu}
    - Dense: {units: 1}
training: {epochs: 50, batch_size: 32}
split: {test: 0.2, validation: 0.2}
"""


def far_target_csv(rows: int = 400, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 5))
    y = 1000 + x @ np.array([2.5, -2.0, 1.5, 1.0, 3.0]) + rng.normal(scale=0.5, size=rows)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(5)]).assign(y=y)
    return frame.to_csv(index=False)


def history_rows(run) -> list[dict]:
    with open(run / "history.csv", newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_a_target_of_mean_1000_is_learnt_and_every_figure_is_in_its_units(trained_run, tmp_path):
    import keras

    result = trained_run(FAR_TARGET_SPEC, files={"far.csv": far_target_csv()})
    run = result.run.path
    metrics = json.loads((run / "metrics.json").read_text())
    test = metrics["test"]
    assert test["r2"] >= 0.95, test
    # in the target's units: the mean baseline is off by about one standard deviation (~4), the model far less
    assert 2.5 < test["baseline"]["mae"] < 6 and test["mae"] < 1.5
    assert "training median 1000" in test["baseline"]["kind"]
    history = history_rows(run)
    # the first epoch's error is about the target's spread, not its level (1,000) nor a scaled unit (~0.8)
    assert 2.0 < history[0]["mae"] < 8.0 and history[0]["val_mae"] > history[-1]["val_mae"]
    scales = json.loads((run / "preprocessing.json").read_text())["target_scales"]
    assert scales["y"]["method"] == "standard"
    train_rows = json.loads((run / "splits.json").read_text())["train"]
    frame = pd.read_csv(io.StringIO(far_target_csv()))
    values = frame["y"].to_numpy()
    assert scales["y"]["offset"] == pytest.approx(values[train_rows].mean())   # fitted on the training part only
    assert scales["y"]["scale"] == pytest.approx(values[train_rows].std())
    # the saved model itself predicts in the target's units, with nothing of dlrun's loaded
    from dlrun.inference.saved_run import load_saved_run
    from dlrun.runs.rundir import RunDir

    model = keras.models.load_model(run / "model.keras")
    x = load_saved_run(RunDir(run)).preprocessor.transform(frame.drop(columns="y"))
    predicted = model.predict(x, verbose=0).reshape(-1)
    assert np.corrcoef(predicted, values)[0, 1] > 0.97 and abs(predicted.mean() - values.mean()) < 1.0
    assert metrics["fit"]["verdict"] in ("good fit", "underfitting")


def test_the_fit_rows_decide_the_scale_and_the_output_bias(write_spec):
    from dlrun.model.output_init import init_outputs, output_bias
    from dlrun.protocols.stages import build_compiled, prepare

    path = write_spec(FAR_TARGET_SPEC)
    (path.parent / "far.csv").write_text(far_target_csv(120))
    prepared = prepare(load_spec(path, ["training.epochs=1"]))
    scale = prepared.target_scales["y"]
    train_y = prepared.dataset.targets["y"][prepared.splits.train]
    assert scale.offset == pytest.approx(train_y.mean()) and scale.scale == pytest.approx(train_y.std())
    built = build_compiled(prepared)
    init_outputs(built.model, prepared)
    units = built.model.get_layer("in_target_units")
    kernel, bias = units.get_weights()
    assert kernel.item() == pytest.approx(scale.scale, rel=1e-6) and bias.item() == pytest.approx(scale.offset, rel=1e-6)
    assert not units.trainable
    # standard scaling: the training targets' mean in scaled units is 0, so the head's bias starts at 0
    assert output_bias(prepared, prepared.heads[0], None) == pytest.approx([0.0], abs=1e-9)
    # before any training the model predicts about the training mean, in the target's units
    x, _ = prepared.part("test")
    assert abs(float(built.model.predict(x, verbose=0).mean()) - train_y.mean()) < 3 * train_y.std()


@pytest.mark.parametrize("method", ["minmax", "none"])
def test_minmax_and_none(write_spec, method):
    from dlrun.model.output_init import output_bias
    from dlrun.protocols.stages import prepare

    path = write_spec(FAR_TARGET_SPEC)
    (path.parent / "far.csv").write_text(far_target_csv(120))
    prepared = prepare(load_spec(path, [f"data.target_scale={method}"]))
    train_y = prepared.dataset.targets["y"][prepared.splits.train]
    bias = output_bias(prepared, prepared.heads[0], None)
    if method == "none":
        assert prepared.target_scales == {}
        assert bias == pytest.approx([train_y.mean()])  # unscaled: the bias starts at the target's own mean
    else:
        scale = prepared.target_scales["y"]
        assert scale.offset == pytest.approx(train_y.min())
        assert scale.scale == pytest.approx(train_y.max() - train_y.min())
        assert bias == pytest.approx([(train_y.mean() - train_y.min()) / (train_y.max() - train_y.min())])


def test_an_output_with_its_own_range_is_not_scaled(write_spec):
    from dlrun.protocols.stages import prepare

    path = write_spec(FAR_TARGET_SPEC)
    (path.parent / "far.csv").write_text(far_target_csv(120))
    prepared = prepare(load_spec(path, ["model.layers[1].Dense.activation=relu"]))
    assert prepared.target_scales == {}


def test_classification_outputs_start_at_the_log_of_the_class_shares(write_spec):
    from dlrun.model.output_init import init_outputs
    from dlrun.protocols.stages import build_compiled, prepare

    spec = """
    name: skewed
    seed: 1
    data: {source: "csv:skewed.csv", target: label}
    model:
      layers:
        - Dense: {units: 8, activation: relu}
        - Dense: {units: 3, activation: softmax}
    training: {epochs: 1}
    """
    rng = np.random.default_rng(0)
    labels = rng.choice(["a", "b", "c"], size=300, p=[0.7, 0.2, 0.1])
    path = write_spec(spec)
    pd.DataFrame({"x": rng.normal(size=300), "label": labels}).to_csv(path.parent / "skewed.csv", index=False)
    prepared = prepare(load_spec(path))
    built = build_compiled(prepared)
    init_outputs(built.model, prepared)
    codes = prepared.codes("label", prepared.fit_rows)
    shares = np.bincount(codes, minlength=3) / len(codes)
    bias = built.model.layers[-1].get_weights()[1]
    assert bias == pytest.approx(np.log(shares), rel=1e-5)
    # switched off: Keras's zeros
    prepared = prepare(load_spec(path, ["training.init_output_bias=false"]))
    built = build_compiled(prepared)
    init_outputs(built.model, prepared)
    assert built.model.layers[-1].get_weights()[1] == pytest.approx(np.zeros(3))


def test_a_bias_initializer_written_in_the_spec_is_kept(write_spec):
    from dlrun.model.output_init import init_outputs
    from dlrun.protocols.stages import build_compiled, prepare

    path = write_spec(FAR_TARGET_SPEC)
    (path.parent / "far.csv").write_text(far_target_csv(120))
    loaded = load_spec(path, ["data.target_scale=none", "model.layers[1].Dense.bias_initializer={Constant: {value: 7}}"])
    prepared = prepare(loaded)
    built = build_compiled(prepared)
    init_outputs(built.model, prepared)
    assert built.model.layers[-1].get_weights()[1] == pytest.approx([7.0])


THREE_TARGETS_SPEC = """
name: three-targets
seed: 4
data: {source: "csv:body.csv", target: [weight, waist, pulse], task: regression}
model:
  inputs: {x: {}}
  nodes:
    - {name: hidden, Dense: {units: 16, activation: relu}, inputs: [x]}
    - {name: weight, Dense: {units: 1}, inputs: [hidden]}
    - {name: waist, Dense: {units: 1}, inputs: [hidden]}
    - {name: pulse, Dense: {units: 1}, inputs: [hidden]}
  outputs:
    - {node: weight, target: weight}
    - {node: waist, target: waist}
    - {node: pulse, target: pulse}
training: {epochs: 60, batch_size: 4}
split: {test: 0.25, validation: 0.0}
"""


def body_csv(rows: int = 20, seed: int = 3) -> str:
    """20 rows, 3 exercise counts, 3 body measurements on their own scales, each depending on the counts."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    frame = pd.DataFrame(x * [5, 50, 20] + [10, 150, 70], columns=["chins", "situps", "jumps"])
    frame["weight"] = 180 + 15 * x[:, 0] - 10 * x[:, 1] + rng.normal(scale=3, size=rows)
    frame["waist"] = 35 - 2 * x[:, 1] + 1.5 * x[:, 2] + rng.normal(scale=0.4, size=rows)
    frame["pulse"] = 55 + 6 * x[:, 2] + rng.normal(scale=1, size=rows)
    return frame.round(1).to_csv(index=False)


@pytest.mark.slow
def test_a_20_row_3_target_regression_beats_the_median_on_every_target(trained_run):
    result = trained_run(THREE_TARGETS_SPEC, files={"body.csv": body_csv()})
    metrics = json.loads((result.run.path / "metrics.json").read_text())
    scales = json.loads((result.run.path / "preprocessing.json").read_text())["target_scales"]
    assert set(scales) == {"weight", "waist", "pulse"}  # per target
    for target in ("weight", "waist", "pulse"):
        test = metrics["test"][target]
        assert test["margin_over_baseline"] > 0, (target, test)
        assert "training median" in test["baseline"]["kind"]


# 61 rows of a sea-surface-like temperature: mean about 24, a linear dependence that ridge regression
# fits to r2 of about 0.9 on the held-out rows; the spec is what a user writes first.
SST_SPEC = """
name: sst
data: {source: "csv:sst.csv", target: sst}
model:
  layers:
    - Dense: {units: 32, activation: relu}
    - Dense: {units: 1}
training: {epochs: 100}
"""


def sst_csv(seed: int = 11, rows: int = 61) -> str:
    rng = np.random.default_rng(seed)
    lat, year, depth = rng.uniform(0, 30, rows), rng.integers(1950, 2010, rows), rng.uniform(0, 50, rows)
    sst = 24 - 0.08 * (lat - 15) + 0.02 * (year - 1980) - 0.03 * (depth - 25) + rng.normal(scale=0.35, size=rows)
    return pd.DataFrame({"lat": lat.round(2), "year": year, "depth": depth.round(1), "sst": sst.round(2)}).to_csv(
        index=False)


@pytest.mark.slow
def test_a_small_regression_near_24_reaches_r2_07_where_unscaled_it_did_not(trained_run):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scaled = trained_run(SST_SPEC, files={"sst.csv": sst_csv()}).run.path
    before = trained_run(SST_SPEC, "data.target_scale=none", "training.init_output_bias=false",
                         files={"sst.csv": sst_csv()}).run.path
    r2 = json.loads((scaled / "metrics.json").read_text())["test"]["r2"]
    assert r2 >= 0.7
    assert json.loads((before / "metrics.json").read_text())["test"]["r2"] < 0  # the old behaviour, for contrast
    # the linear model on the same rows, for the record: the network is within reach of it
    splits = json.loads((scaled / "splits.json").read_text())
    frame = pd.read_csv(io.StringIO(sst_csv()))
    x, y = frame.drop(columns="sst").to_numpy(), frame["sst"].to_numpy()
    fit_rows = splits["train"] + splits["validation"]
    ridge = make_pipeline(StandardScaler(), Ridge()).fit(x[fit_rows], y[fit_rows]).score(x[splits["test"]],
                                                                                        y[splits["test"]])
    assert ridge > 0.85 and r2 > ridge - 0.15
    # the report carries the same comparison: dlrun's own linear model on the same preprocessed rows
    linear = json.loads((scaled / "metrics.json").read_text())["test"]["linear_model"]
    assert linear["r2"] == pytest.approx(ridge, abs=0.05)
    assert "Linear model — ridge regression" in (scaled / "report.md").read_text()
    verdict = json.loads((before / "metrics.json").read_text())["fit"]
    assert verdict["verdict"] == "unscaled target", verdict
