"""Forecast scores for windowed time series: a window of `lookback` steps predicts the next `horizon`
steps of a target. A forecast is only worth its training if it beats the trivial ones, so the model's
MAE, RMSE, sMAPE and MASE sit beside the naive forecasts (persistence, seasonal naive, training mean)
scored on the same windows, overall and per horizon step.

    >>> import numpy as np
    >>> naive = naive_forecasts(np.arange(10.0), np.array([3, 5]), 2, None, 9.0)
    >>> naive["persistence"].tolist()
    [[3.0, 3.0], [5.0, 5.0]]
    >>> s = forecast_scores(np.array([[4.0, 5.0], [6.0, 7.0]]), np.array([[4.0, 5.0], [6.0, 7.0]]), naive, 1.0)
    >>> s["mae"], s["best_baseline"], s["margin_over_baseline"]
    (0.0, 'persistence', 1.5)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PER_STEP_ROWS = 24  # report.md shows the first steps; the JSON result keeps them all
MEASURES = ("mae", "rmse", "smape", "mase")
BASELINE_WORDS = {"persistence": "persistence forecast (the last input value, repeated)",
                  "seasonal_naive": "seasonal naive forecast (the value one season earlier)",
                  "mean": "training-mean forecast"}


def _as_matrix(values) -> np.ndarray:
    """(n, horizon) floats; a 1D array is n windows of one step."""
    matrix = np.asarray(values, dtype=np.float64)
    return matrix.reshape(-1, 1) if matrix.ndim == 1 else matrix


def naive_forecasts(values: np.ndarray, ends: np.ndarray, horizon: int, season: int | None,
                    train_mean: float) -> dict[str, np.ndarray]:
    """The trivial forecasts for each window, (n, horizon) each, from the series itself.

    `values`: one series' target in time order; `ends`: per window, the index of its last input step.
    Step k (1-based) of the seasonal naive forecast is the value one season before the time it
    forecasts, values[end + k - season * ceil(k / season)], so steps past one season repeat the last
    season seen. It is left out without a season (None or < 1), and when some window has less than a
    season of history before its forecast (end + 1 - season < 0): those windows could not be scored
    by it, and a baseline must cover the same windows as the model to be compared with it."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    ends = np.asarray(ends, dtype=np.int64).reshape(-1)
    shape = (len(ends), horizon)
    out = {"persistence": np.repeat(values[ends][:, None], horizon, axis=1).reshape(shape)}
    if season is not None and season >= 1 and bool(np.all(ends + 1 - season >= 0)):
        k = np.arange(1, horizon + 1)
        offsets = k - season * np.ceil(k / season).astype(np.int64)  # in [1 - season, 0]
        out["seasonal_naive"] = values[ends[:, None] + offsets[None, :]].reshape(shape)
    out["mean"] = np.full(shape, float(train_mean))
    return out


def mase_scale(train_values: np.ndarray, season: int | None) -> float:
    """The in-sample MAE of the (seasonal) naive forecast on the training part, mean |y[t] - y[t-m]|
    with m = season or 1: MASE divides by it, so 1 means "as good as the naive forecast was in training"
    whatever the target's units. NaN pairs are skipped; NaN when nothing is left or the series never
    moves (0), which makes MASE NaN rather than infinite."""
    y = np.asarray(train_values, dtype=np.float64).reshape(-1)
    m = season or 1
    if len(y) <= m:
        return float("nan")
    diffs = np.abs(y[m:] - y[:-m])
    diffs = diffs[np.isfinite(diffs)]
    scale = float(diffs.mean()) if len(diffs) else float("nan")
    return scale if np.isfinite(scale) and scale > 0 else float("nan")


def _smape_cells(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """200·|y−ŷ|/(|y|+|ŷ|) per cell, in percent; 0 where both are 0 (a perfect forecast of zero)."""
    denominator = np.abs(truth) + np.abs(predicted)
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, 0.0, 200.0 * np.abs(truth - predicted) / safe)


def _measures(truth: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    """MAE, RMSE, sMAPE and MASE over every cell given; NaN for none (no windows)."""
    if not truth.size:
        return {key: float("nan") for key in MEASURES}
    error = truth - predicted
    mae = float(np.mean(np.abs(error)))
    return {"mae": mae, "rmse": float(np.sqrt(np.mean(error ** 2))),
            "smape": float(np.mean(_smape_cells(truth, predicted))),
            "mase": mae / scale if np.isfinite(scale) and scale > 0 else float("nan")}


def _best_baseline(baselines: dict[str, dict]) -> str | None:
    """The baseline with the lowest finite MAE (the first one on a tie); None when none has one."""
    finite = {name: b["mae"] for name, b in baselines.items() if np.isfinite(b["mae"])}
    return min(finite, key=finite.get) if finite else None


def _warning(best: str | None, model_mae: float, base_mae: float) -> str | None:
    """A plain sentence when the model does no better than the best trivial forecast."""
    if best is None or not np.isfinite(model_mae) or model_mae < base_mae:
        return None
    words = BASELINE_WORDS.get(best, f"{best.replace('_', ' ')} forecast").split(" (")[0]
    return f"the model does not beat the {words} (mae {model_mae:.4g} against {base_mae:.4g})"


def forecast_scores(truth, predicted, baselines: dict[str, np.ndarray], scale: float) -> dict:
    """The model's scores over all windows and steps and per horizon step, each baseline's on the same
    cells, the best baseline (lowest MAE) and the margin over it: its MAE minus the model's, positive
    when the model is better. `truth`, `predicted` and each baseline: (n, horizon) in the target's
    units; `scale`: mase_scale of the training part. No windows gives NaN scores, not an error."""
    truth, predicted = _as_matrix(truth), _as_matrix(predicted)
    if truth.shape != predicted.shape:
        raise ValueError(f"truth {truth.shape} and predicted {predicted.shape} differ in shape")
    shaped = {name: _as_matrix(b) for name, b in baselines.items()}
    for name, forecast in shaped.items():
        if forecast.shape != truth.shape:
            raise ValueError(f"baseline {name!r} is {forecast.shape}, the truth {truth.shape}")
    n, horizon = truth.shape
    out = {"n": int(n), "horizon": int(horizon), **_measures(truth, predicted, scale)}
    out["per_step"] = [{"step": k + 1, **_measures(truth[:, k], predicted[:, k], scale)} for k in range(horizon)]
    out["baselines"] = {name: _measures(truth, forecast, scale) for name, forecast in shaped.items()}
    best = _best_baseline(out["baselines"])
    base_mae = out["baselines"][best]["mae"] if best else float("nan")
    out["best_baseline"] = best
    out["margin_over_baseline"] = float(base_mae - out["mae"])
    out["warning"] = _warning(best, out["mae"], base_mae)
    return out


def _row(label, scores: dict, fmt) -> str:
    return f"| {label} | " + " | ".join(fmt(scores[key]) for key in MEASURES) + " |"


def forecast_lines(result: dict, fmt) -> list[str]:
    """report.md's lines for a forecast: the model's scores, the baselines' beside them, the margin over
    the best baseline in words, the warning, and the scores per horizon step (the first 24)."""
    header = " | mae | rmse | smape (%) | mase |"
    rule = "| --- " * (len(MEASURES) + 1) + "|"
    lines = [f"Forecasts: {result['n']} windows × {result['horizon']} steps.", "",
             "| forecast" + header, rule, _row("model", result, fmt), ""]
    if result["baselines"]:
        lines += ["| baseline" + header, rule]
        lines += [_row(name, scores, fmt) for name, scores in result["baselines"].items()] + [""]
    best = result.get("best_baseline")
    if best:
        words = BASELINE_WORDS.get(best, f"{best.replace('_', ' ')} forecast")
        lines += [f"Best baseline — {words}: mae {fmt(result['baselines'][best]['mae'])}; the model's margin "
                  f"over it: {fmt(result['margin_over_baseline'])} (positive: the model is better).", ""]
    if result.get("warning"):
        lines += [f"**Warning:** {result['warning']}.", ""]
    steps = result["per_step"]
    lines += ["| step" + header, rule] + [_row(s["step"], s, fmt) for s in steps[:PER_STEP_ROWS]] + [""]
    if len(steps) > PER_STEP_ROWS:
        lines += [f"The table shows the first {PER_STEP_ROWS} of {len(steps)} steps; `per_step` in the "
                  f"results holds them all.", ""]
    return lines


def step_series(times, predicted, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The forecasts made k steps ahead against the times they forecast: predicted[:, k-1] shifted by
    k-1 windows (windows one step apart), the last k-1 dropped as they fall past the last time."""
    times, predicted = np.asarray(times), _as_matrix(predicted)
    return times[k - 1:], predicted[:max(0, len(predicted) - (k - 1)), k - 1]


def forecast_plot(times, truth, predicted, path: Path, title: str, steps: tuple = (1,)) -> Path:
    """Actual against forecast over the test windows, written as a PNG at `path`.

    `times`: per window, the time of its first forecast step (numbers or datetimes). The actual line is
    each window's first target step; the forecast made k steps ahead, predicted[:, k-1], is drawn
    against times shifted by k-1 positions, the time it forecasts — which holds for windows one step
    apart, as consecutive windows of one series are. What falls past the last time is dropped, and
    steps outside 1..horizon are skipped."""
    from dlrun.report.plots import _figure, _save

    times = np.asarray(times)
    truth, predicted = _as_matrix(truth), _as_matrix(predicted)
    horizon = predicted.shape[1]
    plt = _figure()
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(times, truth[:, 0], color="black", linewidth=1.2, label="actual")
    for k in (k for k in steps if 1 <= k <= horizon):
        ax.plot(*step_series(times, predicted, k), linewidth=1, alpha=0.85,
                label=f"forecast {k} step{'s' if k > 1 else ''} ahead")
    if times.dtype.kind in "MO":
        fig.autofmt_xdate()
    ax.set_xlabel("time")
    ax.set_ylabel("value")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    out = _save(fig, Path(path))
    plt.close(fig)
    return out


def forecast_section(result: dict, fmt) -> list[str]:
    """The report's forecast block: its heading, `forecast_lines`, a note, and the plot."""
    lines = ["### Forecast against the naive forecasts", "", *forecast_lines(result, fmt)]
    if result.get("note"):
        lines += [f"Note: {result['note']}.", ""]
    if result.get("plot"):
        lines += [f"![forecast]({result['plot']})", ""]
    return lines
