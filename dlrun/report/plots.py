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


BAND = "band: min–max over folds"  # what the shaded area around a k-fold run's mean curve spans


def curve_label(curve) -> str:
    """A curve's legend entry: the run as the CLI names it (SWEEP:NNN for a trial, with its parameters),
    what a k-fold curve averages and what its band spans, and what a stand-in curve stands for."""
    from dlrun.report.sweep_view import short_names

    label = curve.run
    if curve.params:
        names = short_names(list(curve.params))
        label += " (" + ", ".join(f"{names[p]}={_short(v)}" for p, v in curve.params.items()) + ")"
    if curve.folds:
        label += f" — mean of {curve.folds} fold{'s' if curve.folds > 1 else ''}, {BAND}"
    if curve.stands_for:
        label += f" — no {curve.stands_for}: trained without a validation part"
    return label


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def comparison_series(panels: dict) -> list[dict]:
    """What `compare --plot` draws, panel by panel ({column: curves} from runs.overview.comparison_panels):
    [{"column", "title", "lines": [{"run", "label", "epochs", "values", "band": (low, high) or None}]}]."""
    validation = {c[len("val_"):] for c in panels if c.startswith("val_")}
    stand_ins = {c for c, curves in panels.items() if any(curve.stands_for for curve in curves)}
    out = []
    for column, curves in panels.items():
        if column.startswith("val_"):
            title = f"validation {column[len('val_'):]}"
        else:
            title = f"training {column}" if column in validation | stand_ins else column
        lines = [{"run": c.run, "label": curve_label(c), "epochs": c.epochs, "values": c.values,
                  "band": (c.low, c.high) if c.low is not None else None} for c in curves]
        out.append({"column": column, "title": f"{title} per epoch", "lines": lines})
    return out


def _grid(series: list[dict]) -> tuple[list[str], list[bool]]:
    """The panels' layout: a row per quantity (loss, accuracy ...), a column per side present
    (training, validation), so that a quantity's training and validation panels sit side by side."""
    quantities = list(dict.fromkeys(p["column"].removeprefix("val_") for p in series))
    sides = sorted({p["column"].startswith("val_") for p in series})
    return quantities, sides


def overlaid_curves(series: list[dict], path: Path) -> Path:
    """One PNG with a panel per history column (comparison_series), each run's curve overlaid in it."""
    plt = _figure()
    from matplotlib.ticker import MaxNLocator

    quantities, sides = _grid(series)
    fig, axes = plt.subplots(len(quantities), len(sides), figsize=(7.5 * len(sides), 4.8 * len(quantities)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    runs = list(dict.fromkeys(line["run"] for panel in series for line in panel["lines"]))
    colors = {run: f"C{index % 10}" for index, run in enumerate(runs)}  # one colour per run in every panel
    for panel in series:
        validation = panel["column"].startswith("val_")
        ax = axes[quantities.index(panel["column"].removeprefix("val_"))][sides.index(validation)]
        ax.axis("on")
        for line in panel["lines"]:
            color = colors[line["run"]]
            ax.plot(line["epochs"], line["values"], marker="o", ms=3, color=color, label=line["label"])
            if line["band"] is not None:
                ax.fill_between(line["epochs"], *line["band"], color=color, alpha=0.2, linewidth=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(panel["column"])
        ax.set_title(panel["title"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    out = _save(fig, Path(path))
    plt.close(fig)
    return out


def compare_plot(runs: list, metric: str, runs_dir: Path, output: Path | None = None) -> Path:
    """`dlrun compare --plot`: the runs' curves of `metric` (one history column, or several comma-separated:
    a panel each) overlaid in one PNG, written to `output` or else to
    `<runs_dir>/comparisons/<timestamp>-<metric>.png`; returns its path."""
    import time

    from dlrun.runs.artifacts import comparison_plot_path
    from dlrun.runs.atomic import check_writable
    from dlrun.runs.overview import comparison_panels

    series = comparison_series(comparison_panels(runs, metric))  # a missing metric is refused before matplotlib loads
    path = Path(output) if output is not None else comparison_plot_path(runs_dir, time.strftime("%Y%m%d-%H%M%S"), metric)
    check_writable(path)
    return overlaid_curves(series, path)
