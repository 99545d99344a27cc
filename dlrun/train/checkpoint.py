"""BestCheckpoint: the best epoch's model, kept in checkpoints/best.keras."""

from __future__ import annotations

from pathlib import Path

import keras

from dlrun.model.io import save_model
from dlrun.spec.monitor import Direction


class BestCheckpoint(keras.callbacks.Callback):
    """Keep the best epoch's model in checkpoints/best.keras, written atomically (temp + rename).

    `best` is the best value seen so far (saved and restored with the resume state)."""

    def __init__(self, path: Path, monitor: str, mode: str):
        super().__init__()
        self.path, self.monitor = Path(path), monitor
        self.direction = Direction.of(monitor, mode)
        self.best = self.direction.worst

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not self.direction.better(float(value), self.best):
            return
        self.best = float(value)
        save_model(self.model, self.path)
