"""A linear model on the same preprocessed features: the first baseline a careful person fits.

The trivial baselines (majority class, training median) say whether a model learnt anything; a
linear model says whether the network earned its depth. For in-memory numeric features, dlrun fits
ridge regression (regression targets) or logistic regression (binary and multiclass targets) on the
rows the network was fitted on — a seeded sample of at most MAX_FIT_ROWS of them — and scores the
same held-out rows with the network's headline measure. Texts, token ids, image files, streamed
tables and multilabel targets have no such baseline here.
"""

from __future__ import annotations

import numpy as np

MAX_FIT_ROWS = 20_000
MAX_COLUMNS = 1_000


def linear_scores(x_fit: np.ndarray | None, x_held: np.ndarray | None, fit_targets: dict[str, np.ndarray],
                  held_targets: dict[str, np.ndarray], tasks: dict[str, str], seed: int) -> dict[str, dict]:
    """{target: the linear model's scores on the held-out rows}; empty where none applies.
    Targets are encoded values (class codes, or numbers in the target's units)."""
    if x_fit is None or x_held is None or not len(x_fit) or not len(x_held):
        return {}
    rows = np.arange(len(x_fit))
    if len(rows) > MAX_FIT_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_FIT_ROWS, replace=False))
    x_fit = np.nan_to_num(x_fit[rows])
    x_held = np.nan_to_num(x_held)
    out = {}
    for name, task in tasks.items():
        y = np.asarray(fit_targets[name])[rows]
        if task == "regression":
            out[name] = _ridge(x_fit, y, x_held, np.asarray(held_targets[name], dtype=np.float64))
        elif task in ("binary", "multiclass") and len(np.unique(y)) > 1:
            out[name] = _logistic(x_fit, y, x_held, np.asarray(held_targets[name]))
    return out


def _ridge(x_fit, y, x_held, truth) -> dict:
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, r2_score

    predicted = Ridge(alpha=1.0).fit(x_fit, y.astype(np.float64).reshape(len(y), -1)).predict(x_held).reshape(-1)
    truth = truth.reshape(-1)
    return {"kind": "ridge regression (alpha 1) on the same preprocessed features", "mae": float(
        mean_absolute_error(truth, predicted)), "r2": float(r2_score(truth, predicted)) if len(truth) > 1 else None}


def _logistic(x_fit, y, x_held, truth) -> dict:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a capped number of steps is still a fair baseline
        model = LogisticRegression(max_iter=300).fit(x_fit, y.astype(np.int64))
    return {"kind": "logistic regression on the same preprocessed features",
            "accuracy": float(np.mean(model.predict(x_held) == truth.astype(np.int64)))}


def linear_margin(result: dict) -> tuple[str, float] | None:
    """(measure, the network's margin over the linear model) of one output's scores, positive when
    the network is better; None without a linear model."""
    linear = result.get("linear_model")
    if not linear:
        return None
    if "mae" in linear:
        return "mae", float(linear["mae"] - result["mae"])
    return "accuracy", float(result["accuracy"] - linear["accuracy"])


def linear_lines(result: dict, fmt) -> list[str]:
    """The report's lines on the linear model: its score, the network's margin, and a note when the
    linear model does better."""
    margin = linear_margin(result)
    if margin is None:
        return []
    linear, (measure, value) = result["linear_model"], margin
    lines = [f"Linear model — {linear['kind']}: {measure} {fmt(linear[measure])}"
             + (f", r2 {fmt(linear['r2'])}" if linear.get("r2") is not None else "")
             + f"; the network's margin over it: {fmt(value)}.", ""]
    if value < 0:
        lines += [f"**Note:** the linear model does better than the network on these rows ({measure} "
                  f"{fmt(linear[measure])} against {fmt(result[measure])}): more data, fewer parameters, "
                  f"regularisation or more epochs may close the gap — or the linear model is the better choice.", ""]
    return lines


def add_linear_models(results: dict[str, dict], prepared, rows: np.ndarray) -> None:
    """Put each output's linear model (`linear_model`) beside its scores on `rows`, in place."""
    from dlrun.data.feature_data import feature_data

    data = feature_data(prepared.x)
    tasks = {head.target: prepared.targets[head.target].task for head in prepared.heads}
    fit_rows = prepared.fit_rows
    if len(fit_rows) > MAX_FIT_ROWS:  # sampled before any row is gathered (windows are gathered per row)
        fit_rows = np.sort(np.random.default_rng(prepared.spec.seed).choice(fit_rows, MAX_FIT_ROWS, replace=False))
    scores = linear_scores(data.linear_matrix(fit_rows, MAX_COLUMNS), data.linear_matrix(rows, MAX_COLUMNS),
                           {name: prepared.codes(name, fit_rows) for name in tasks},
                           {name: prepared.codes(name, rows) for name in tasks}, tasks, prepared.spec.seed)
    for head in prepared.heads:
        if head.target in scores and results[head.name].get("n"):
            results[head.name]["linear_model"] = scores[head.target]


def linear_notes(results: dict[str, dict], part: str) -> list[str]:
    """One console note per output that a linear model scores better than the network on `part`."""
    notes = []
    for name, result in results.items():
        margin = linear_margin(result)
        if margin is not None and margin[1] < 0:
            measure = margin[0]
            notes.append(f"a linear model does better than the network on the {part} rows"
                         f"{'' if len(results) == 1 else f' for {name}'} ({measure} "
                         f"{result['linear_model'][measure]:.4g} against {result[measure]:.4g}); see report.md")
    return notes
