"""A forecast run's scores against the naive forecasts, from its windows (data/windows.py) and the
metrics of report/forecast.py: persistence, seasonal naive (data.window.season) and the training
mean, MASE scaled by the training part's own naive error, and a plot of actual against forecast."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlrun.report.forecast import forecast_plot, forecast_scores, naive_forecasts


def training_naive_scale(windows, train_rows: np.ndarray, target: str, season: int | None) -> float:
    """The MASE scale: the mean absolute change over `season` (or 1) steps of the target on the
    steps the training windows cover, within each series (never across two)."""
    values = windows.target_steps[target]
    lag = season or 1
    changes = []
    train = windows[train_rows]
    for number in np.unique(train.series):
        mine = train.series == number
        first, last = int(train.first_steps()[mine].min()), int(train.ends[mine].max()) + windows.horizon
        part = values[first:last + 1]
        changes.append(np.abs(part[lag:] - part[:-lag]))
    found = np.concatenate(changes) if changes else np.zeros(0)
    found = found[np.isfinite(found)]
    scale = float(found.mean()) if len(found) else float("nan")
    return scale if scale > 0 else float("nan")


def window_forecasts(windows, rows: np.ndarray, train_rows: np.ndarray, target: str, truth: np.ndarray,
                     predicted: np.ndarray, season: int | None, train_mean: float) -> dict:
    """forecast_scores of the windows `rows` (truth and predicted: (windows, horizon), target units)."""
    span = (windows.lookback - 1) * windows.rate + 1
    usable = season if season is not None and span >= season else None  # never reach into another series
    held = windows[rows]
    baselines = naive_forecasts(windows.target_steps[target], held.ends, windows.horizon, usable, train_mean)
    scale = training_naive_scale(windows, train_rows, target, season)
    result = forecast_scores(np.asarray(truth, float).reshape(len(rows), -1),
                             np.asarray(predicted, float).reshape(len(rows), -1), baselines, scale)
    if season is not None and usable is None:
        result["note"] = (f"no seasonal-naive baseline: the window ({span} steps) is shorter than the season "
                          f"({season}); use a lookback of at least {season}")
    return result


def forecast_figure(windows, rows: np.ndarray, truth, predicted, folder: Path, name: str) -> Path | None:
    """Actual against forecast over the held-out windows of the first series (1 step ahead and the
    last step), as plots/forecast[_NAME].png; None with no window."""
    from dlrun.data.windows import steps_ahead

    held = windows[rows]
    mine = np.flatnonzero(held.series == held.series[0]) if len(rows) else np.zeros(0, int)
    if not len(mine):
        return None
    truth = np.asarray(truth, float).reshape(len(rows), -1)[mine]
    predicted = np.asarray(predicted, float).reshape(len(rows), -1)[mine]
    series = windows.names[int(held.series[0])]
    title = f"{name}: actual and forecast" + (f" (series {series})" if series is not None else "")
    steps = (1,) if windows.horizon == 1 else (1, windows.horizon)
    return forecast_plot(steps_ahead(windows, rows[mine]), truth, predicted, folder / f"forecast_{name}.png",
                         title, steps)


def add_window_forecasts(results: dict[str, dict], prepared, rows: np.ndarray, raw: list, folder: Path | None) -> None:
    """Put each forecast output's scores against the naive forecasts (`forecast`) beside its other
    scores, in place; with `folder`, its plot too (plots/forecast_NAME.png)."""
    from dlrun.data.feature_data import feature_data

    windows = feature_data(prepared.x).windows
    if windows is None or not windows.horizon:
        return
    season, train = prepared.spec.data.window.season, prepared.splits.train
    for head, values in zip(prepared.heads, raw):
        if not prepared.targets[head.target].steps or not results[head.name].get("n"):
            continue
        truth = prepared.codes(head.target, rows)
        train_mean = float(np.mean(prepared.codes(head.target, train)))
        found = window_forecasts(windows, rows, train, head.target, truth, values, season, train_mean)
        if folder is not None:
            figure = forecast_figure(windows, rows, truth, values, folder / "plots", head.name)
            found["plot"] = None if figure is None else figure.relative_to(folder).as_posix()
        results[head.name]["forecast"] = found
