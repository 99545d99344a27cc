"""PNG plots with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import io
from pathlib import Path

from dlrun.runs.atomic import write_bytes


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    write_bytes(path, buffer.getvalue())
    return path


def learning_curves(history: list[dict], folder: Path, prefix: str = "") -> list[Path]:
    """One PNG per quantity (loss and each metric): training beside validation, per epoch."""
    if not history:
        return []
    plt = _figure()
    epochs = [row["epoch"] for row in history]
    quantities = [k for k in history[0] if k not in ("epoch", "learning_rate", "seconds") and not k.startswith("val_")]
    written = []
    for quantity in quantities:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(epochs, [row.get(quantity) for row in history], marker="o", ms=3, label=f"train {quantity}")
        if f"val_{quantity}" in history[0]:
            ax.plot(epochs, [row.get(f"val_{quantity}") for row in history], marker="o", ms=3,
                    label=f"validation {quantity}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(quantity)
        ax.set_title(f"{quantity} per epoch" + (" (mean over folds)" if prefix else ""))
        ax.grid(alpha=0.3)
        ax.legend()
        written.append(_save(fig, Path(folder) / f"{prefix}{quantity}.png"))
        plt.close(fig)
    return written


def confusion_matrix_plot(matrix: list[list[int]], labels: list[str], path: Path) -> Path:
    plt = _figure()
    size = max(4, 0.5 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
    ax.set_title("confusion matrix")
    out = _save(fig, path)
    plt.close(fig)
    return out


def binary_curves(truth, positive_proba, folder: Path) -> list[Path]:
    """ROC and precision-recall curves for a binary task."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    plt = _figure()
    written = []
    fpr, tpr, _ = roc_curve(truth, positive_proba)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"model (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve")
    ax.legend()
    written.append(_save(fig, Path(folder) / "roc.png"))
    plt.close(fig)
    precision, recall, _ = precision_recall_curve(truth, positive_proba)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(recall, precision)
    ax.axhline(float((truth == 1).mean()), linestyle="--", color="grey", label="positive rate")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("precision-recall curve")
    ax.legend()
    written.append(_save(fig, Path(folder) / "precision_recall.png"))
    plt.close(fig)
    return written


def regression_plots(truth, predicted, folder: Path) -> list[Path]:
    """Predicted against true values, and residuals against predictions."""
    plt = _figure()
    written = []
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(truth, predicted, s=10, alpha=0.6)
    low, high = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
    ax.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect")
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title("predicted vs true")
    ax.legend()
    written.append(_save(fig, Path(folder) / "predicted_vs_true.png"))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(predicted, truth - predicted, s=10, alpha=0.6)
    ax.axhline(0.0, linestyle="--", color="grey")
    ax.set_xlabel("predicted")
    ax.set_ylabel("residual (true - predicted)")
    ax.set_title("residuals")
    written.append(_save(fig, Path(folder) / "residuals.png"))
    plt.close(fig)
    return written
