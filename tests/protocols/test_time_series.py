"""Windows end to end: train, k-fold (time_series) and sweep over a generated seasonal series, and a
sequence classifier; real Keras on tiny data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.spec import load_spec

SPEC = """
name: daily
seed: 2
data:
  source: csv:daily.csv
  target: sales
  window: {time: date, lookback: 14, horizon: 7, season: 7}
model:
  layers:
    - Flatten: {}
    - Dense: {units: 7}
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: 40, batch_size: 16}
split: {test: 0.15, validation: 0.15}
"""


def daily_csv(days: int = 300, seed: int = 0) -> str:
    """A daily series: trend, a strong weekly pattern and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    sales = 200 + 0.2 * t + 20 * np.sin(2 * np.pi * t / 7) + 6 * np.cos(2 * np.pi * t / 3.5) + rng.normal(size=days)
    dates = pd.date_range("2023-01-01", periods=days).strftime("%Y-%m-%d")
    return pd.DataFrame({"date": dates, "sales": sales.round(3)}).to_csv(index=False)


@pytest.mark.slow
def test_a_forecast_beats_persistence_and_seasonal_naive_and_the_report_shows_the_margin(trained_run):
    run = trained_run(SPEC, files={"daily.csv": daily_csv()}).run.path
    metrics = json.loads((run / "metrics.json").read_text())
    forecast = metrics["test"]["forecast"]
    assert forecast["horizon"] == 7 and len(forecast["per_step"]) == 7
    assert set(forecast["baselines"]) == {"persistence", "seasonal_naive", "mean"}
    for name, scores in forecast["baselines"].items():
        assert forecast["mae"] < scores["mae"], name
    assert forecast["margin_over_baseline"] > 0 and forecast["mase"] < 1
    report = (run / "report.md").read_text()
    assert "### Forecast against the naive forecasts" in report and "the model's margin over it" in report
    assert (run / forecast["plot"]).is_file()
    splits = json.loads((run / "splits.json").read_text())
    ranges = splits["time_ranges"]
    assert ranges["train"][1] < ranges["validation"][0] and ranges["validation"][1] < ranges["test"][0]


def test_the_persistence_baseline_is_the_last_input_value(trained_run):
    run = trained_run(SPEC, "training.epochs=1", files={"daily.csv": daily_csv(120)}).run.path
    forecast = json.loads((run / "metrics.json").read_text())["test"]["forecast"]
    frame = pd.read_csv(pd.io.common.StringIO(daily_csv(120)))
    splits = json.loads((run / "splits.json").read_text())
    sales = frame["sales"].to_numpy()
    # the windows are ordered in time: window i reads days i..i+13 and forecasts days i+14..i+20
    ends = np.asarray(splits["test"]) + 13
    truth = sales[ends[:, None] + np.arange(1, 8)]
    persistence = np.repeat(sales[ends][:, None], 7, axis=1)
    assert forecast["baselines"]["persistence"]["mae"] == pytest.approx(np.abs(truth - persistence).mean())
    seasonal = sales[ends[:, None] + np.arange(1, 8) - 7]
    assert forecast["baselines"]["seasonal_naive"]["mae"] == pytest.approx(np.abs(truth - seasonal).mean())


def test_time_series_kfold_over_windows(tmp_path, write_spec):
    from dlrun.protocols.kfold import kfold

    path = write_spec(SPEC.replace("split: {test: 0.15, validation: 0.15}",
                                   "split: {protocol: time_series, folds: 3, validation: 0.1}"))
    (path.parent / "daily.csv").write_text(daily_csv(150))
    result = kfold(load_spec(path, ["training.epochs=1", f"output.runs_dir={tmp_path / 'runs'}"]))
    folds = sorted((result.run.path / "folds").iterdir())
    assert len(folds) == 3
    for folder in folds:
        fold = json.loads((folder / "splits.json").read_text())
        assert fold["time_ranges"]["train"][1] < fold["time_ranges"]["test"][0]
        assert max(fold["train"]) < min(fold["test"])


@pytest.mark.slow
def test_a_sweep_tunes_the_lookback(tmp_path, write_spec):
    path = write_spec(SPEC + """
sweep:
  trials: 2
  seed: 1
  objective: {metric: val_loss, mode: min}
  params:
    data.window.lookback: {int: [7, 21]}
""")
    (path.parent / "daily.csv").write_text(daily_csv(120))
    result = CliRunner().invoke(app, ["sweep", str(path), "--set", "training.epochs=1", "--runs-dir",
                                      str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    (sweep,) = (tmp_path / "runs").iterdir()
    lookbacks = {json.loads((trial / "splits.json").read_text())["window"]["lookback"]
                 for trial in (sweep / "trials").iterdir()}
    assert len(lookbacks) == 2 and all(7 <= value <= 21 for value in lookbacks)


def test_a_sequence_classifier_labels_each_window_by_its_last_step(trained_run):
    rng = np.random.default_rng(1)
    blocks = np.repeat(rng.choice(["walk", "sit"], size=30), 20)
    signal = np.where(blocks == "walk", np.sin(np.arange(len(blocks)) * 1.3) * 2, 0.1) + rng.normal(0, 0.1, len(blocks))
    frame = pd.DataFrame({"t": np.arange(len(blocks)), "ax": signal.round(4), "activity": blocks})
    spec = """
    name: activity
    seed: 1
    data:
      source: csv:moves.csv
      target: activity
      window: {time: t, lookback: 10}
    model:
      layers:
        - Conv1D: {filters: 8, kernel_size: 3, activation: relu}
        - GlobalMaxPooling1D: {}
        - Dense: {units: 2, activation: softmax}
    training: {epochs: 8}
    """
    run = trained_run(spec, files={"moves.csv": frame.to_csv(index=False)}).run.path
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == {"activity": "binary"}
    assert metrics["test"]["accuracy"] > metrics["test"]["baseline"]["accuracy"]
    assert "forecast" not in metrics["test"]
