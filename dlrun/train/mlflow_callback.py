"""The fit's per-epoch metrics in MLflow: mlflow.keras.MlflowCallback bound to one dlrun run's MLflow run.

Imports MLflow and Keras: train/tracking.py imports this module only for a tracked fit.
"""

from __future__ import annotations

from mlflow.keras import MlflowCallback


class EpochMetrics(MlflowCallback):
    """MLflow's Keras callback, by run id (no active MLflow run needed): the optimizer's settings when the
    first fit begins, every epoch's history row (Keras's logs with the learning rate and phase that
    history.csv adds) at step = its epoch (a fine-tuning phase's fit and a resumed run go on counting),
    synchronously, so that a failure stops tracking at once. Validation is in the epoch's row (val_*):
    nothing is logged per test pass. Every call goes through the tracker (train/tracking.Tracker.call)."""

    def __init__(self, tracker, writer=None):
        super().__init__(log_every_epoch=True)
        self.tracker, self.writer = tracker, writer
        self.began = False

    def on_train_begin(self, logs=None):
        if not self.began and self.tracker.fresh:  # phases after the first recompile: their optimizer is not logged
            self.tracker.call("logging the optimizer", self.tracker.log_optimizer, self.model)
        self.began = True

    def on_epoch_end(self, epoch, logs=None):
        rows = self.writer.rows if self.writer is not None else []
        row = rows[-1] if rows and rows[-1].get("epoch") == epoch + 1 else dict(logs or {})
        values = {k: v for k, v in row.items() if k != "epoch"}
        if values:
            self.tracker.call(f"logging epoch {epoch + 1}", self.tracker.log_metrics, values, epoch + 1)

    def on_batch_end(self, batch, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass
