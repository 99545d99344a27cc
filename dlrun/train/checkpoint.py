"""BestCheckpoint: the best epoch's model, kept in checkpoints/best.keras."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

from dlrun.model.io import save_model
from dlrun.spec.models import resolve_mode


class BestCheckpoint(keras.callbacks.Callback):
    """Keep the best epoch's model in checkpoints/best.keras, written atomically (temp + rename)."""

    def __init__(self, path: Path, monitor: str, mode: str):
        super().__init__()
        self.path, self.monitor = Path(path), monitor
        mode = resolve_mode(monitor, mode)
        self.better = np.less if mode == "min" else np.greater
        self.best = np.inf if mode == "min" else -np.inf

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)) or not self.better(float(value), self.best):
            return
        self.best = float(value)
        save_model(self.model, self.path)
