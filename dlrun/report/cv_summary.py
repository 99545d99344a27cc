"""Summaries across folds: mean, sample standard deviation, 95% confidence interval, the
baseline per fold, and the per-epoch curves averaged across folds."""

from __future__ import annotations

import math

import numpy as np

SCALARS = ("accuracy", "balanced_accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc",
           "roc_auc_ovr", "log_loss", "mae", "mse", "rmse", "r2",
           "subset_accuracy", "hamming_loss", "f1_micro", "precision_micro", "recall_micro")  # the last: multilabel


def t_critical(dof: int) -> float:
    """Two-sided 95% Student-t critical value."""
    from scipy import stats

    return float(stats.t.ppf(0.975, dof))


def describe(values: list[float]) -> dict:
    """n, mean, sample standard deviation (ddof 1) and a 95% t confidence interval of the mean.

    Example:
        >>> d = describe([0.9, 1.0, 0.95])
        >>> round(d["mean"], 4), round(d["std"], 4)
        (0.95, 0.05)
    """
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = len(arr)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    mean = float(arr.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "ci95": None}
    std = float(arr.std(ddof=1))
    half = t_critical(n - 1) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci95": [mean - half, mean + half]}


def fold_scalars(metrics: dict) -> dict[str, float]:
    """The scalar metrics of one fold's held-out report, flattened across outputs, with the baseline."""
    multi = metrics and all(isinstance(v, dict) and "task" in v for v in metrics.values())
    outputs = metrics if multi else {"": metrics}
    out = {}
    for name, result in outputs.items():
        prefix = f"{name}." if name else ""
        for key in SCALARS:
            if key in result and result[key] is not None:
                out[prefix + key] = float(result[key])
        base = result.get("baseline", {})
        for key in ("accuracy", "mae", "subset_accuracy", "hamming_loss"):
            if key in base:
                out[f"{prefix}baseline_{key}"] = float(base[key])
        forecast = result.get("forecast") or {}  # windows: the MASE and the margin over the best naive forecast
        for key, value in (("mase", forecast.get("mase")), ("naive_margin", forecast.get("margin_over_baseline"))):
            if value is not None:
                out[prefix + key] = float(value)
    return out


def summarize(folds: list[dict]) -> dict:
    """Per-fold scalars and their description. `folds`: [{"fold": n, "repeat": r, "metrics": {...}}]."""
    rows = [{"fold": f["fold"], "repeat": f["repeat"], **fold_scalars(f["metrics"])} for f in folds]
    keys: list[str] = []
    for row in rows:  # every metric any fold reports (a fold missing a class may lack ROC-AUC)
        keys.extend(k for k in row if k not in ("fold", "repeat") and k not in keys)
    return {"folds": rows, "stats": {k: describe([r.get(k) for r in rows]) for k in keys}}


def average_curves(histories: list[list[dict]], with_std: bool = False) -> list[dict]:
    """Per epoch, the mean of each history column over the folds that reached that epoch; with
    `with_std`, also `<column>_std`, the sample standard deviation over those folds (0 for one)."""
    longest = max((len(h) for h in histories), default=0)
    out = []
    for index in range(longest):
        rows = [h[index] for h in histories if len(h) > index]
        keys = [k for k in rows[0] if k != "epoch"]
        entry = {"epoch": index + 1, "folds": len(rows)}
        for key in keys:
            values = [r[key] for r in rows if key in r and r[key] is not None and np.isfinite(r[key])]
            if values:
                entry[key] = float(np.mean(values))
                if with_std:
                    entry[f"{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        out.append(entry)
    return out
