"""Held-out metrics of a multilabel output (several yes/no labels per row), with scikit-learn.

    >>> import numpy as np
    >>> truth = np.array([[1, 0], [0, 1], [1, 1]])
    >>> m = multilabel_metrics(truth, np.array([[.9, .2], [.1, .7], [.8, .3]]), ["a", "b"], [1, 0])
    >>> round(m["subset_accuracy"], 4), round(m["hamming_loss"], 4)
    (0.6667, 0.1667)
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 0.5
SCALAR_KEYS = ("subset_accuracy", "hamming_loss", "f1_micro", "f1_macro", "precision_micro", "recall_micro")


def label_majority(train_truth: np.ndarray) -> list[int]:
    """Per label, what most training rows say (1 when at least half hold it)."""
    truth = np.asarray(train_truth, dtype=np.float64)
    return [int(v) for v in (truth.mean(axis=0) >= 0.5)] if len(truth) else [0] * truth.shape[1]


def _scores(truth: np.ndarray, predicted: np.ndarray) -> dict:
    from sklearn import metrics as skm

    def average(fn, how):
        return float(fn(truth, predicted, average=how, zero_division=0))

    return {"subset_accuracy": float(skm.accuracy_score(truth, predicted)),
            "hamming_loss": float(skm.hamming_loss(truth, predicted)),
            "f1_micro": average(skm.f1_score, "micro"), "f1_macro": average(skm.f1_score, "macro"),
            "precision_micro": average(skm.precision_score, "micro"),
            "recall_micro": average(skm.recall_score, "micro")}


def multilabel_metrics(y_true: np.ndarray, proba: np.ndarray, labels: list[str], majority: list[int]) -> dict:
    """Subset accuracy, Hamming loss, micro and macro F1, per-label precision/recall/F1, and the
    baseline that gives every row the training majority of each label (`majority`)."""
    from sklearn import metrics as skm

    truth = np.asarray(y_true).astype(np.int64)
    k = len(labels)
    predicted = (np.asarray(proba, dtype=np.float64).reshape(len(truth), k) >= THRESHOLD).astype(np.int64)
    kind = "give every row each label's training majority (" + \
        ", ".join(f"{label}: {'yes' if m else 'no'}" for label, m in zip(labels, majority)) + ")"
    if not len(truth):
        nan = float("nan")
        return {"n": 0, **{key: nan for key in SCALAR_KEYS}, "labels": list(labels), "per_label": {},
                "baseline": {"kind": kind, "subset_accuracy": nan, "hamming_loss": nan}, "margin_over_baseline": nan}
    out = {"n": int(len(truth)), **_scores(truth, predicted), "labels": list(labels)}
    precision, recall, f1, support = skm.precision_recall_fscore_support(truth, predicted, zero_division=0)
    out["per_label"] = {label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                                "support": int(support[i]), "predicted": int(predicted[:, i].sum())}
                        for i, label in enumerate(labels)}
    base = _scores(truth, np.tile(np.asarray(majority, dtype=np.int64), (len(truth), 1)))
    out["baseline"] = {"kind": kind, **base}
    out["margin_over_baseline"] = out["subset_accuracy"] - base["subset_accuracy"]
    return out


def multilabel_lines(result: dict, fmt) -> list[str]:
    """The report's rows for one multilabel output: its scalars, the baseline, and one row per label."""
    lines = [f"| {key} | {fmt(result[key])} |" for key in SCALAR_KEYS if key in result]
    base = result["baseline"]
    lines += ["", f"Baseline — {base['kind']}: subset_accuracy {fmt(base['subset_accuracy'])}, hamming_loss "
                  f"{fmt(base['hamming_loss'])}; the model's margin in subset accuracy: "
                  f"{fmt(result['margin_over_baseline'])}.", ""]
    if result.get("warning"):
        lines += [f"**Warning:** {result['warning']}.", ""]
    lines += ["| label | precision | recall | f1 | support | predicted |", "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {label} | {fmt(v['precision'])} | {fmt(v['recall'])} | {fmt(v['f1'])} | {v['support']} | "
              f"{v['predicted']} |" for label, v in result["per_label"].items()]
    return lines + [""]


def predicted_sets(proba: np.ndarray, labels: list[str], separator: str = "|") -> list[str]:
    """Each row's predicted label set (the labels at or above the threshold), joined by `separator`."""
    chosen = np.asarray(proba, dtype=np.float64) >= THRESHOLD
    return [separator.join(label for label, on in zip(labels, row) if on) for row in chosen]

