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


def _band(ax, epochs: list, history: list[dict], key: str, color) -> None:
    """Shade mean ± 1 std of `key` where the rows carry `<key>_std` (averaged k-fold curves)."""
    points = [(e, row[key], row[f"{key}_std"]) for e, row in zip(epochs, history)
              if row.get(key) is not None and row.get(f"{key}_std") is not None]
    if points:
        xs, mean, std = zip(*points)
        ax.fill_between(xs, [m - d for m, d in zip(mean, std)], [m + d for m, d in zip(mean, std)],
                        color=color, alpha=0.2, linewidth=0, label=f"{key} ±1 std over folds")


def learning_curves(history: list[dict], folder: Path, prefix: str = "", spread: bool = False,
                    marker_epoch: int | None = None) -> list[Path]:
    """One PNG per quantity (loss and each metric): training beside validation, per epoch.

    `spread`: the rows are averaged k-fold curves whose `<key>_std` columns are drawn as ±1 std
    bands (not as quantities of their own); `marker_epoch`: a vertical line at the epoch the
    final model is trained for."""
    if not history:
        return []
    plt = _figure()
    epochs = [row["epoch"] for row in history]
    quantities = [k for k in history[0] if k not in ("epoch", "learning_rate", "seconds") and not k.startswith("val_")
                  and not (spread and k.endswith("_std"))]
    written = []
    for quantity in quantities:
        fig, ax = plt.subplots(figsize=(6, 4))
        line, = ax.plot(epochs, [row.get(quantity) for row in history], marker="o", ms=3, label=f"train {quantity}")
        if spread:
            _band(ax, epochs, history, quantity, line.get_color())
        if f"val_{quantity}" in history[0]:
            line, = ax.plot(epochs, [row.get(f"val_{quantity}") for row in history], marker="o", ms=3,
                            label=f"validation {quantity}")
            if spread:
                _band(ax, epochs, history, f"val_{quantity}", line.get_color())
        if marker_epoch is not None:
            ax.axvline(marker_epoch, linestyle="--", color="grey", label=f"final model: {marker_epoch} epochs")
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


def image_grid(images, titles: list[str], path: Path, columns: int = 4) -> Path:
    """Pictures (0-255 pixels, HxWxC) in a grid, each with its title: the worst-misclassified test images."""
    import numpy as np

    plt = _figure()
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(2.4 * columns, 2.6 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, title in zip(axes.ravel(), images, titles):
        picture = np.clip(np.asarray(image), 0, 255).astype(np.uint8)
        ax.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray" if picture.shape[-1] == 1 else None)
        ax.set_title(title, fontsize=8)
    fig.suptitle("worst-misclassified images (true → predicted, p of the prediction)")
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


def overlaid_curves(curves: dict[str, tuple[str, list[int], list[float]]], metric: str, path: Path) -> Path:
    """One PNG with each run's per-epoch curve ({run id: (column, epochs, values)}), legend by run id."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run_id, (column, epochs, values) in curves.items():
        ax.plot(epochs, values, marker="o", ms=3, label=run_id if column == metric else f"{run_id} ({column})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    out = _save(fig, Path(path))
    plt.close(fig)
    return out


def compare_plot(runs: list, metric: str, runs_dir: Path, output: Path | None = None) -> Path:
    """`dlrun compare --plot`: the runs' `metric` curves overlaid in one PNG, written to `output`
    or else to `<runs_dir>/comparisons/<timestamp>-<metric>.png`; returns its path."""
    import time

    from dlrun.runs.artifacts import comparison_plot_path
    from dlrun.runs.atomic import check_writable
    from dlrun.runs.overview import comparison_curves

    curves = comparison_curves(runs, metric)  # a missing metric is refused before matplotlib loads
    path = Path(output) if output is not None else comparison_plot_path(runs_dir, time.strftime("%Y%m%d-%H%M%S"), metric)
    check_writable(path)
    return overlaid_curves(curves, metric, path)
