"""The callbacks of one fit: those the spec asks for, each writing into the fit's own folder, plus
the per-epoch history file with its divergence watch, and what the fit's role adds (resume state,
a graceful stop on signals).

Imports Keras: only the training stage imports this module.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import keras

from dlrun.runs.artifacts import (best_checkpoint_path, checkpoints_folder, read_history_table, tensorboard_folder,
                                  write_history)
from dlrun.spec.models import ExperimentSpec
from dlrun.spec.monitor import Direction
from dlrun.train.fit_role import FitRole
from dlrun.train.schedules import lr_at
from dlrun.train.start import Start
from dlrun.train.tracking import mlflow_callback


def _current_lr(model) -> float:
    """The optimizer's learning rate now: a per-step schedule (optimizer.schedule type keras, or cyclic
    over steps) evaluated at the optimizer's step count, i.e. the rate of the epoch's end."""
    try:
        optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)  # mixed precision wraps it
        rate = getattr(optimizer, "_learning_rate", None)
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            return float(keras.ops.convert_to_numpy(rate(optimizer.iterations)))
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except Exception:  # noqa: BLE001 - a rate that cannot be read: report nothing rather than fail
        return float("nan")


class HistoryWriter(keras.callbacks.Callback):
    """Rewrites the run folder's history atomically after every epoch, so a crash never loses finished
    epochs (with `every_seconds`, at most that often, and at the end: for a k-fold fold, which
    restarts whole after a crash anyway, 100 short epochs are not 100 fsyncs). Also stops the run
    when the loss turns NaN or infinite (the run is then `diverged`)."""

    def __init__(self, folder: Path, watch_nan: bool = True, on_epoch=None, every_seconds: float = 0.0):
        super().__init__()
        self.folder = Path(folder)
        self.rows: list[dict] = []
        self.seconds: list[float] = []  # kept out of the history file so equal runs give equal files
        self.columns: list[str] = ["epoch"]
        self.watch_nan = watch_nan
        self.diverged_epoch: int | None = None
        self.stopped_by_caller: int | None = None
        self.on_epoch = on_epoch
        self.every_seconds = every_seconds
        self.phase: int | None = None   # with training.fine_tune: the phase number, a history column
        self._started = 0.0
        self._written: float | None = None  # the first epoch is written at once (perf_counter may start near 0)

    def preload(self, epochs: int) -> None:
        """Continue a resumed run's history: keep its first `epochs` rows."""
        columns, rows = read_history_table(self.folder)
        if columns:
            self.columns = columns
        self.rows = [{**row, "phase": int(row["phase"])} if "phase" in row else row for row in rows[:epochs]]

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        row = {"epoch": epoch + 1}
        if self.phase is not None:
            row["phase"] = self.phase
        row.update({k: float(v) for k, v in logs.items() if k != "learning_rate"})
        row["learning_rate"] = float(logs.get("learning_rate", _current_lr(self.model)))
        self.seconds.append(round(time.perf_counter() - self._started, 4))
        for key in row:
            if key not in self.columns:
                self.columns.append(key)
        self.rows.append(row)
        now = time.perf_counter()
        if self._written is None or now - self._written >= self.every_seconds:
            write_history(self.folder, self.rows, self.columns)
            self._written = now
        if self.on_epoch is not None and self.on_epoch(row) == "stop":  # e.g. a sweep's pruner
            self.stopped_by_caller = epoch + 1
            self.model.stop_training = True
        loss = row.get("loss")
        if self.watch_nan and loss is not None and not math.isfinite(loss):
            self.diverged_epoch = epoch + 1
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.every_seconds and self.rows:
            write_history(self.folder, self.rows, self.columns)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if self.watch_nan and loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True


def build_callbacks(spec: ExperimentSpec, run_path: Path) -> tuple[list, dict]:
    """Keras callbacks for the spec; also returns named handles the caller needs afterwards
    (`watched`: the callbacks whose state a resumed run must get back)."""
    cbs = spec.callbacks
    callbacks: list = []
    handles: dict = {"watched": []}
    if spec.optimizer.schedule is not None and spec.optimizer.schedule.by_epoch:  # else the optimizer's, per step
        schedule, lr0, epochs = spec.optimizer.schedule, spec.optimizer.learning_rate, spec.training.epochs
        callbacks.append(keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr_at(schedule, lr0, epoch, epochs)))
    if cbs.reduce_lr_on_plateau is not None:
        r = cbs.reduce_lr_on_plateau
        plateau = keras.callbacks.ReduceLROnPlateau(monitor=r.monitor, factor=r.factor, patience=r.patience,
                                                    min_lr=r.min_lr, mode=Direction.of(r.monitor, r.mode).mode,
                                                    verbose=0)
        callbacks.append(plateau)
        handles.setdefault("watched", []).append(plateau)
    if cbs.model_checkpoint is not None:
        from dlrun.train.checkpoint import BestCheckpoint

        c = cbs.model_checkpoint
        checkpoints_folder(run_path).mkdir(parents=True, exist_ok=True)  # a fold's or trial's own, too
        best = best_checkpoint_path(run_path)
        checkpoint = BestCheckpoint(best, c.monitor, c.mode)
        callbacks.append(checkpoint)
        handles["best_checkpoint"] = best
        handles.setdefault("watched", []).append(checkpoint)
    if cbs.early_stopping is not None:
        e = cbs.early_stopping
        stopper = keras.callbacks.EarlyStopping(monitor=e.monitor, patience=e.patience, min_delta=e.min_delta,
                                                mode=Direction.of(e.monitor, e.mode).mode,
                                                restore_best_weights=e.restore_best_weights, verbose=0)
        callbacks.append(stopper)
        handles["early_stopping"] = stopper
        handles.setdefault("watched", []).append(stopper)
    if cbs.tensorboard:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            from dlrun.errors import UserError

            raise UserError("callbacks.tensorboard is on, but the tensorboard package is not installed "
                            "(pip install tensorboard), or set callbacks.tensorboard: false")
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard_folder(run_path))))
    if cbs.custom:
        from dlrun.model.imported import make_callbacks

        callbacks += make_callbacks(spec, run_path)  # callbacks.custom, in the order written
    return callbacks, handles


@dataclass
class FitCallbacks:
    """The callbacks list handed to Keras, and the two the fit reads back afterwards."""

    callbacks: list
    writer: HistoryWriter
    stopper: object | None = None   # train.resume.GracefulStop, for a stoppable role


def compose_callbacks(spec: ExperimentSpec, folder: Path, role: FitRole, start: Start,
                      on_epoch=None) -> FitCallbacks:
    """Every callback of one fit in `folder`, in the order they must run: the spec's, then (on a
    resumed start) the restorer of their saved states, the history writer, what the role adds, and
    the MLflow callback when the folder is tracked (train/tracking.py)."""
    callbacks, handles = build_callbacks(spec, folder)
    writer = HistoryWriter(folder, spec.callbacks.terminate_on_nan, on_epoch, every_seconds=role.history_every)
    if start.mode == "resume":
        from dlrun.train.resume import ResumeRestorer

        writer.preload(start.epoch)
        callbacks.append(ResumeRestorer(start.state, handles["watched"]))
    callbacks.append(writer)
    if role.resumable:  # the run can be continued: its state after every epoch
        from dlrun.train.resume import ResumeSaver

        checkpoints = checkpoints_folder(folder)
        checkpoints.mkdir(exist_ok=True)
        callbacks.append(ResumeSaver(checkpoints, handles["watched"]))
    stopper = None
    if role.stoppable:
        from dlrun.train.resume import GracefulStop

        stopper = GracefulStop()
        callbacks.append(stopper)
    tracking = mlflow_callback(folder, writer)  # tracking.mlflow: the epoch's metrics in the folder's MLflow run
    if tracking is not None:
        callbacks.append(tracking)
    return FitCallbacks(callbacks, writer, stopper)
