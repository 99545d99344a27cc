"""configs/series_lstm.yaml, trained with its bundled settings, is worth its training: on the test
period its forecasts beat the naive ones — seasonal naive (the same weekday a week earlier) and
persistence (the last day repeated) — and the report says by how much (slow: a full training,
about 20 s on 2 CPU cores)."""

from __future__ import annotations

import json

import pytest

from tests.support import CONFIGS


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory):
    from dlrun.protocols.holdout import train
    from dlrun.spec import load_spec

    runs = tmp_path_factory.mktemp("series") / "runs"
    return train(load_spec(CONFIGS / "series_lstm.yaml", [f"output.runs_dir={runs}"])).run.path


def forecast_block(run_path) -> dict:
    metrics = json.loads((run_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["part"] == "test"
    return metrics["test"]["forecast"]


@pytest.mark.slow
def test_series_lstm_beats_seasonal_naive_and_persistence_on_the_test_period(lstm_run):
    forecast = forecast_block(lstm_run)
    assert forecast["horizon"] == 7 and forecast["n"] > 100
    baselines = forecast["baselines"]
    assert {"persistence", "seasonal_naive", "mean"} <= set(baselines)
    assert forecast["mae"] < baselines["seasonal_naive"]["mae"]
    assert forecast["mae"] < baselines["persistence"]["mae"]
    assert forecast["best_baseline"] == "seasonal_naive"  # the weekly pattern makes it the one to beat
    assert forecast["margin_over_baseline"] > 0
    assert forecast["margin_over_baseline"] == pytest.approx(baselines["seasonal_naive"]["mae"] - forecast["mae"])
    assert forecast["warning"] is None


@pytest.mark.slow
def test_series_lstm_report_shows_the_margin(lstm_run):
    forecast = forecast_block(lstm_run)
    report = (lstm_run / "report.md").read_text(encoding="utf-8")
    assert "### Forecast against the naive forecasts" in report
    block = report.split("### Forecast against the naive forecasts")[1].split("\n## ")[0]
    margin_line = next(line for line in block.splitlines() if line.startswith("Best baseline"))
    assert "seasonal naive" in margin_line and "the model's margin over it" in margin_line
    assert f"{forecast['margin_over_baseline']:.4f}" in margin_line
    assert "**Warning:**" not in block
    assert (lstm_run / forecast["plot"]).is_file()
