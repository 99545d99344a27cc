"""`dlrun evaluate` on a forecast run (data.window): each forecast output's scores against the naive
forecasts — persistence, seasonal naive, the training mean — as training's report gives them
(report/window_forecast.py), from a SavedRun instead of a Prepared.

On the run's own split, every figure is training's: the MASE scale from the training windows' steps,
the mean forecast the training targets' mean. On a new file (a backtest over every window of it), the
mean forecast is still the training mean (saved in preprocessing.json), and MASE is scaled by the
naive forecast's error over the file's own steps, the only series at hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlrun.data.feature_data import feature_data
from dlrun.runs.artifacts import plots_folder

NEW_DATA_SCALE = ("MASE is scaled by the naive forecast's error over the evaluated file's own steps (the "
                  "training steps are not in it); the mean forecast is the training mean")


def add_saved_forecasts(per_output: dict[str, dict], saved, features, rows: np.ndarray, scale_rows: np.ndarray,
                        raw: list, truths: dict[str, np.ndarray], folder: Path | None) -> bool:
    """Put each forecast output's `forecast` block beside its scores, in place: `features` are every
    window of the data (raw), `rows` the scored ones, `scale_rows` those whose steps scale MASE; with
    `folder`, the plot of actual against forecast (plots/forecast_NAME.png). False when the run does
    not forecast (no windows, or a window classifier)."""
    from dlrun.report.window_forecast import forecast_figure, window_forecasts

    windows = feature_data(features).windows
    if windows is None or not windows.horizon:
        return False
    season = saved.spec.data.window.season
    for head, values in zip(saved.heads, raw):
        if not saved.targets[head.target].steps or not per_output[head.name].get("n"):
            continue
        truth = truths[head.target]
        train_mean = float(saved.baselines[head.target]["mean"])
        found = window_forecasts(windows, rows, scale_rows, head.target, truth, values, season, train_mean)
        if folder is not None:
            figure = forecast_figure(windows, rows, truth, values, plots_folder(Path(folder)), head.name)
            found["plot"] = None if figure is None else figure.relative_to(folder).as_posix()
        per_output[head.name]["forecast"] = found
    return True
