"""predict, evaluate --data and export on window runs (data.window): a tiny forecaster over two stores'
daily sales (one table, `window.series: store`) and a tiny window classifier; real Keras, 2 epochs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.data.time_index import order_series
from dlrun.data.window_inputs import WindowInputs
from dlrun.data.window_rows import recent_windows, steps_after
from dlrun.errors import DataError, UserError
from dlrun.inference.evaluate import evaluate
from dlrun.inference.export import export, parse_formats
from dlrun.inference.predict import predict
from dlrun.runs import artifacts, records

LOOKBACK, HORIZON = 7, 3

STORES = f"""
name: tiny-stores
seed: 4
data:
  source: csv:stores.csv
  target: sales
  window: {{time: date, series: store, lookback: {LOOKBACK}, horizon: {HORIZON}, season: 7}}
model:
  layers:
    - Conv1D: {{filters: 4, kernel_size: 3, activation: relu}}
    - Flatten: {{}}
    - Dense: {{units: {HORIZON}}}
optimizer: {{name: adam, learning_rate: 0.01}}
training: {{epochs: 2, batch_size: 32}}
split: {{test: 0.15, validation: 0.15}}
"""

ACTIVITY = """
name: tiny-activity
seed: 5
data:
  source: csv:activity.csv
  target: activity
  window: {time: t, lookback: 5}
model:
  layers:
    - Flatten: {}
    - Dense: {units: 2, activation: softmax}
training: {epochs: 2, batch_size: 16}
"""


def stores_frame(days: int = 150, start: str = "2023-01-01", seed: int = 0) -> pd.DataFrame:
    """Two stores' daily sales with a weekly pattern, interleaved by date (north, south, north, ...)."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    dates = pd.date_range(start, periods=days).strftime("%Y-%m-%d")
    rows = []
    for store, level in (("north", 100.0), ("south", 60.0)):
        sales = level + 0.1 * t + 10 * np.sin(2 * np.pi * t / 7) + rng.normal(size=days)
        rows.append(pd.DataFrame({"date": dates, "store": store, "sales": sales.round(3)}))
    return pd.concat(rows).sort_values(["date", "store"], kind="stable").reset_index(drop=True)


def activity_frame(n: int = 160, seed: int = 1) -> pd.DataFrame:
    """An accelerometer-like signal whose level tells the activity (walk: high, rest: low)."""
    rng = np.random.default_rng(seed)
    activity = np.where((np.arange(n) // 20) % 2 == 0, "rest", "walk")
    x = np.where(activity == "walk", 1.0, 0.0) + 0.1 * rng.normal(size=n)
    return pd.DataFrame({"t": np.arange(n), "x": x.round(4), "activity": activity})


@pytest.fixture(scope="module")
def stores(trained_run):
    return trained_run(STORES, files={"stores.csv": stores_frame().to_csv(index=False)})


@pytest.fixture(scope="module")
def activity(trained_run):
    return trained_run(ACTIVITY, files={"activity.csv": activity_frame().to_csv(index=False)})


def _tail(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    return frame.groupby("store", sort=False).tail(rows)


def _by_hand(run, frame: pd.DataFrame) -> np.ndarray:
    """The saved model on each store's last LOOKBACK sales, scaled by the saved preprocessing: what a
    forecast from the last rows must be, computed without dlrun's readers."""
    import keras

    pre = json.loads(run.file("preprocessing.json").read_text())["features"]
    windows = np.stack([frame[frame["store"] == s]["sales"].to_numpy()[-LOOKBACK:] for s in ("north", "south")])
    scaled = (windows[..., None] - pre["center"][0]) / pre["spread"][0]
    model = keras.saving.load_model(run.file("model.keras"), compile=False)
    return np.asarray(model.predict(scaled.astype(np.float32), verbose=0), dtype=np.float64)


# ---- predict ------------------------------------------------------------------------------------------

def test_predict_forecasts_each_series_next_steps_from_its_last_rows(stores, tmp_path):
    frame = stores_frame()
    path = tmp_path / "recent.csv"
    _tail(frame, 20).to_csv(path, index=False)  # the two stores interleaved, as in training
    out = tmp_path / "forecast.csv"
    table = predict(stores.run, path, out)
    assert list(table.columns) == ["store", "date", "step", "sales_predicted"]
    assert table["store"].tolist() == ["north"] * HORIZON + ["south"] * HORIZON
    assert table["step"].tolist() == [1, 2, 3, 1, 2, 3]
    last = pd.Timestamp(frame["date"].iloc[-1])  # 2023-05-30
    expected = [last + pd.Timedelta(days=k) for k in (1, 2, 3)] * 2
    assert table["date"].tolist() == expected
    assert table.attrs["notes"] == []
    np.testing.assert_allclose(table["sales_predicted"].to_numpy().reshape(2, HORIZON), _by_hand(stores.run, frame),
                               rtol=1e-5, atol=1e-4)
    written = pd.read_csv(out)
    assert written["date"].tolist() == ["2023-05-31", "2023-06-01", "2023-06-02"] * 2


def test_predict_reads_the_rows_in_time_order_and_ignores_other_columns(stores, tmp_path):
    frame = _tail(stores_frame(), 12)
    shuffled = frame.iloc[::-1].assign(note="x")  # newest first, and a column the model never saw
    path = tmp_path / "shuffled.csv"
    shuffled.to_csv(path, index=False)
    with pytest.raises(DataError, match="goes back"):  # times must rise within a series, as in training
        predict(stores.run, path)
    one = tmp_path / "one_store.csv"
    frame[frame["store"] == "south"].assign(note="x").to_csv(one, index=False)
    table = predict(stores.run, one)
    assert table["store"].tolist() == ["south"] * HORIZON
    assert table.attrs["notes"] == [f"{one}: ignored column(s) the model was not trained on: note"]


def test_a_series_shorter_than_a_window_is_a_data_error_naming_it_and_the_rows_needed(stores, tmp_path):
    frame = _tail(stores_frame(), 10)
    short = pd.concat([frame[frame["store"] == "north"], frame[frame["store"] == "south"].tail(4)])
    path = tmp_path / "short.csv"
    short.to_csv(path, index=False)
    with pytest.raises(DataError) as caught:
        predict(stores.run, path)
    message = str(caught.value)
    assert "'south' (4)" in message and f"{LOOKBACK} (lookback {LOOKBACK}" in message and "north" not in message
    result = CliRunner().invoke(app, ["predict", str(stores.run.path), str(path)])
    assert result.exit_code == 2, result.output


def test_a_missing_input_column_is_the_one_rule_of_new_rows(stores, tmp_path):
    path = tmp_path / "no_sales.csv"
    _tail(stores_frame(), 10).rename(columns={"sales": "sale"}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) the model was trained on: sales.*did you mean"):
        predict(stores.run, path)


def test_a_window_classifier_predicts_the_class_of_each_series_last_window(activity, tmp_path):
    path = tmp_path / "recent.csv"
    activity_frame().tail(8).to_csv(path, index=False)  # its label column is ignored, with a note
    table = predict(activity.run, path)
    assert list(table.columns) == ["t", "activity_predicted", "activity_p_rest", "activity_p_walk"]
    assert table["t"].tolist() == [159] and table["activity_predicted"].iloc[0] in {"rest", "walk"}
    assert np.isclose(table["activity_p_rest"] + table["activity_p_walk"], 1.0).all()
    assert table.attrs["notes"] == [f"{path}: ignored column(s) the model was not trained on: activity"]


# ---- forecast times -----------------------------------------------------------------------------------

@pytest.mark.parametrize("times, expected", [
    ([3, 5, 7], [9, 11]),                                                   # numbers: a step of 2
    (["2024-01-31", "2024-02-29", "2024-03-31"], ["2024-04-30", "2024-05-31"]),  # month ends stay month ends
    (["2024-01-30", "2024-02-29", "2024-03-30"], ["2024-04-30", "2024-05-30"]),  # the 30th, cut to February
    (["2023-03-31", "2023-06-30", "2023-09-30"], ["2023-12-31", "2024-03-31"]),  # quarters
    (["2021-06-15", "2022-06-15"], ["2023-06-15", "2024-06-15"]),            # years
    (["2024-01-01 00:00", "2024-01-01 06:00"], ["2024-01-01 12:00", "2024-01-01 18:00"]),  # 6 hours
])
def test_forecast_times_follow_the_series_step(times, expected):
    ordered = order_series(pd.DataFrame({"t": times}), "t", None, "error", "f.csv")
    got = steps_after(ordered, 0, np.array([1, 2]), "f.csv")
    assert got == (expected if isinstance(expected[0], int) else [pd.Timestamp(e) for e in expected])


def test_recent_windows_fill_a_gap_as_training_does():
    window = SimpleNamespace(time="t", series=None, lookback=3, sampling_rate=1, fill="interpolate")
    recent = recent_windows(pd.DataFrame({"t": [1, 2, 4], "x": [1.0, 2.0, 4.0]}), window, ["x"], 2, "f.csv")
    assert recent.windows.gather()[0, :, 0].tolist() == [2.0, 3.0, 4.0]
    assert recent.index["t"].tolist() == [5, 6]


# ---- evaluate -----------------------------------------------------------------------------------------

def test_evaluate_on_the_own_split_reproduces_training_forecast_block(stores):
    recorded = json.loads(stores.run.file("metrics.json").read_text())["test"]
    result = evaluate(stores.run)
    forecast = result.document["test"]["forecast"]
    assert forecast["n"] == recorded["forecast"]["n"]
    assert forecast["mae"] == pytest.approx(recorded["forecast"]["mae"], rel=1e-6)
    for name, scores in recorded["forecast"]["baselines"].items():  # the same training mean and MASE scale
        assert forecast["baselines"][name] == pytest.approx(scores, rel=1e-6), name


def test_evaluate_data_backtests_every_window_of_a_new_file(stores, tmp_path):
    path = tmp_path / "later.csv"
    stores_frame(days=40, start="2023-06-01", seed=9).to_csv(path, index=False)
    result = evaluate(stores.run, data=path)
    assert result.part == "data"
    scores = result.document["data"]
    windows = 2 * (40 - LOOKBACK - HORIZON + 1)
    assert scores["n"] == windows and np.isfinite(scores["mae"]) and "baseline" in scores
    forecast = scores["forecast"]
    assert forecast["n"] == windows and forecast["horizon"] == HORIZON
    assert set(forecast["baselines"]) == {"persistence", "seasonal_naive", "mean"}
    assert np.isfinite(forecast["mase"])
    assert (result.folder / forecast["plot"]).is_file()
    report = (result.folder / "report.md").read_text()
    assert "### Forecast against the naive forecasts" in report
    assert any("MASE" in note for note in result.notes)


def test_evaluate_data_needs_the_target_and_keeps_to_the_columns_rule(stores, tmp_path):
    path = tmp_path / "extra.csv"
    stores_frame(days=20).assign(promo=0).to_csv(path, index=False)
    result = evaluate(stores.run, data=path)
    assert result.notes[0] == f"{path}: ignored column(s) the model was not trained on: promo"
    missing = tmp_path / "no_sales.csv"
    stores_frame(days=20).drop(columns=["sales"]).to_csv(missing, index=False)
    with pytest.raises(DataError, match="sales"):
        evaluate(stores.run, data=missing)


# ---- export -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stores_export(stores):
    return export(stores.run, parse_formats("keras,savedmodel,litert,onnx", "none"))


def test_every_format_takes_a_raw_window_and_matches_predict_on_the_test_windows(stores, stores_export):
    report = stores_export.report
    assert report["passed"], report
    test_windows = len(json.loads(stores.run.file("splits.json").read_text())["test"])
    assert report["rows"] == {"part": "test", "n": test_windows}
    for name, check in report["formats"].items():
        assert check["passed"] and check["outputs"]["sales_value"]["max_abs_difference"] <= 1e-3, (name, check)
    manifest = records.read_manifest(stores_export.folder)
    for fmt in manifest["formats"].values():
        assert fmt["inputs"] == [{"name": "window", "kind": "window", "dtype": "float32", "shape": [LOOKBACK, 1],
                                  "columns": ["sales"]}]
    assert manifest["window"]["lookback"] == LOOKBACK
    assert [o["name"] for o in manifest["outputs"]] == ["sales_value"]


def test_the_exported_keras_file_forecasts_what_predict_does_from_raw_sales(stores, stores_export, tmp_path):
    import keras

    frame = stores_frame()
    path = tmp_path / "recent.csv"
    _tail(frame, LOOKBACK).to_csv(path, index=False)
    table = predict(stores.run, path)
    model = keras.saving.load_model(artifacts.export_path(stores_export.folder, "keras"))
    raw = np.stack([frame[frame["store"] == s]["sales"].to_numpy()[-LOOKBACK:] for s in ("north", "south")])
    got = model.predict({"window": raw[..., None].astype(np.float32)}, verbose=0)["sales_value"]
    np.testing.assert_allclose(got.reshape(-1), table["sales_predicted"].to_numpy(), rtol=1e-5, atol=1e-4)


def test_a_window_with_a_categorical_column_is_refused_for_export():
    pre = SimpleNamespace(columns=["sales", "weekday"], categories={"weekday": ["mon", "tue"]})
    with pytest.raises(UserError, match="categorical input column.*weekday"):
        WindowInputs(pre, SimpleNamespace(lookback=7)).raw_inputs([7, 2], False)


def test_an_lstm_exports_to_litert_one_row_at_a_time(trained_run):
    # a recurrent layer over a batch of any size needs TensorList ops that plain LiteRT lacks: the
    # file is converted for one row at a time and fed row by row, matching predict all the same
    spec = STORES.replace("    - Conv1D: {filters: 4, kernel_size: 3, activation: relu}\n    - Flatten: {}\n",
                          "    - LSTM: {units: 4}\n")
    assert "LSTM" in spec
    run = trained_run(spec, "training.epochs=1", files={"stores.csv": stores_frame().to_csv(index=False)}).run
    result = export(run, parse_formats("litert", "none"))
    check = result.report["formats"]["litert"]
    assert check["passed"], check
    assert check["outputs"]["sales_value"]["max_abs_difference"] <= 1e-3
