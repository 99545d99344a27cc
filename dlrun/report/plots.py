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


def learning_curves(history: list[dict], folder: Path) -> list[Path]:
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
        ax.set_title(f"{quantity} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
        written.append(_save(fig, Path(folder) / f"{quantity}.png"))
        plt.close(fig)
    return written
