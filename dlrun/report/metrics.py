"""Held-out metrics from predictions, computed with scikit-learn, beside a trivial baseline.

    >>> import numpy as np
    >>> m = classification_metrics(np.array([0, 1, 1]), np.array([[.9, .1], [.2, .8], [.6, .4]]), ["a", "b"], 1)
    >>> round(m["accuracy"], 4), m["baseline"]["accuracy"]
    (0.6667, 0.6667)
"""

from __future__ import annotations

import numpy as np


def probabilities(raw: np.ndarray, task: str) -> np.ndarray:
    """Model outputs as class probabilities (n, k); a 1-unit sigmoid becomes two columns."""
    raw = np.asarray(raw, dtype=np.float64)
    if task == "binary" and (raw.ndim == 1 or raw.shape[1] == 1):
        p = raw.reshape(-1)
        return np.stack([1 - p, p], axis=1)
    return raw / np.clip(raw.sum(axis=1, keepdims=True), 1e-12, None)  # float32 softmax rows drift from 1


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in y_true (scikit-learn's; its warning about predicted classes
    absent from y_true — normal when scoring a folder of one class — is left out)."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    if not len(y_true):
        return float("nan")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return float(balanced_accuracy_score(y_true, y_pred))


LOG_LOSS_BLOCK = 500_000  # rows scored at a time: scikit-learn's log_loss holds several copies of its input


def _log_loss(y_true: np.ndarray, proba: np.ndarray, classes: list[int]) -> float:
    """scikit-learn's log loss (a mean over rows), in blocks of rows for millions of them."""
    from sklearn import metrics as skm

    n = len(y_true)
    if n <= LOG_LOSS_BLOCK:
        return float(skm.log_loss(y_true, proba, labels=classes))
    total = sum(skm.log_loss(y_true[i:i + LOG_LOSS_BLOCK], proba[i:i + LOG_LOSS_BLOCK], labels=classes)
                * len(y_true[i:i + LOG_LOSS_BLOCK]) for i in range(0, n, LOG_LOSS_BLOCK))
    return float(total / n)


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, labels: list[str], majority: int) -> dict:
    """Accuracy, balanced accuracy, precision/recall/F1 (macro and per class), ROC-AUC, log loss,
    confusion matrix, and the majority-class baseline (`majority`: the training majority's code)."""
    from sklearn import metrics as skm

    y_true = np.asarray(y_true)
    k = proba.shape[1]
    y_pred = proba.argmax(axis=1)
    classes = list(range(k))
    if not len(y_true):
        nan = float("nan")
        return {"n": 0, **{key: nan for key in ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro",
                                                 "f1_macro", "log_loss")},
                "confusion_matrix": [[0] * k for _ in range(k)], "labels": list(labels), "per_class": {},
                "baseline": {"kind": f"always predict the training majority class '{labels[majority]}'",
                             "accuracy": nan},
                "margin_over_baseline": nan}
    out = {
        "n": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)) if len(y_true) else float("nan"),
        "balanced_accuracy": _balanced_accuracy(y_true, y_pred),
        "precision_macro": float(skm.precision_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "recall_macro": float(skm.recall_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "f1_macro": float(skm.f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "log_loss": _log_loss(y_true, proba, classes),
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=classes).tolist(),
        "labels": list(labels),
    }
    present = np.unique(y_true)
    try:
        if k == 2 and len(present) == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba[:, 1]))
        elif k > 2 and len(present) == k:
            out["roc_auc_ovr"] = float(skm.roc_auc_score(y_true, proba / proba.sum(axis=1, keepdims=True),
                                                         multi_class="ovr", labels=classes))
    except ValueError:
        pass
    per_class = skm.precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    out["per_class"] = {labels[i]: {"precision": float(per_class[0][i]), "recall": float(per_class[1][i]),
                                    "f1": float(per_class[2][i]), "support": int(per_class[3][i])} for i in classes}
    base_acc = float(np.mean(y_true == majority)) if len(y_true) else float("nan")
    out["baseline"] = {"kind": f"always predict the training majority class '{labels[majority]}'",
                       "accuracy": base_acc}
    out["margin_over_baseline"] = out["accuracy"] - base_acc
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray, mean: float, median: float | None = None) -> dict:
    """MAE, MSE, RMSE, R² and the constant baselines from the training rows: the MAE of always
    predicting the training median (the best constant for absolute error) and the MSE of always
    predicting the training mean (the best constant for squared error). The margin is on MAE."""
    from sklearn import metrics as skm

    median = mean if median is None else median  # runs written before the median was kept
    rows = int(np.shape(y_true)[0]) if np.ndim(y_true) else 0  # samples (a forecast's windows), not cells
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    kind = f"always predict the training median {median:.4g} (mae) or mean {mean:.4g} (mse)"
    if not len(y_true):
        nan = float("nan")
        return {"n": 0, "mae": nan, "mse": nan, "rmse": nan, "r2": nan,
                "baseline": {"kind": kind, "mae": nan, "mse": nan}, "margin_over_baseline": nan}
    mse = float(skm.mean_squared_error(y_true, y_pred))
    base_mae = float(np.mean(np.abs(y_true - median)))
    out = {
        "n": rows,
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "r2": float(skm.r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan"),
        "baseline": {"kind": kind, "mae": base_mae, "mse": float(np.mean((y_true - mean) ** 2))},
    }
    out["margin_over_baseline"] = base_mae - out["mae"]
    return out


HEADLINE = {"binary": "accuracy", "multiclass": "accuracy", "multilabel": "subset_accuracy", "regression": "mae"}


def headline_key(task: str, output: str = "") -> str:
    """The one number a listing shows for a model, by the first output's task: accuracy, subset accuracy
    (multilabel) or MAE (regression); `output`: the output's name when the model has several, as the
    k-fold summary prefixes its keys ("price.mae")."""
    return f"{output}.{HEADLINE[task]}" if output else HEADLINE[task]


def baseline_of(task: str, train_codes: np.ndarray) -> dict:
    """What the trivial baseline needs from the training rows: the majority class, or the mean, median
    and spread of a regression target."""
    if task == "regression":
        values = np.asarray(train_codes, dtype=np.float64)
        return {"mean": float(np.mean(values)), "median": float(np.median(values)), "std": float(np.std(values))}
    if task == "multilabel":
        from dlrun.report.multilabel_metrics import label_majority

        return {"label_majority": label_majority(train_codes)}
    return {"majority": int(np.bincount(np.asarray(train_codes, dtype=np.int64)).argmax())}


def score(task: str, truth: np.ndarray, predicted: np.ndarray, labels: list[str], baseline: dict) -> dict:
    """The metric family for `task`, from encoded truth and raw model outputs."""
    if task == "regression":
        return regression_metrics(truth, predicted, baseline["mean"], baseline.get("median"))
    if task == "multilabel":
        from dlrun.report.multilabel_metrics import multilabel_metrics

        return multilabel_metrics(truth, predicted, labels, baseline["label_majority"])
    return classification_metrics(truth, probabilities(predicted, task), labels, baseline["majority"])


def baseline_verdict(result: dict) -> str | None:
    """A warning when the model does not beat its trivial baseline, else None."""
    margin = result.get("margin_over_baseline")
    if margin is None or not np.isfinite(margin) or margin > 0:
        return None
    what = "accuracy" if "accuracy" in result else "subset accuracy" if "subset_accuracy" in result else "MAE"
    return (f"the model does not beat the trivial baseline ({result['baseline']['kind']}): "
            f"its {what} is no better than the baseline's")
