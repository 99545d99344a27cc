"""Resume state: after every finished epoch, everything needed to continue exactly where the run
stopped — model variables (weights and dropout seeds), optimizer variables (step count, moments,
learning rate), and the state of early stopping, the best checkpoint and reduce-LR-on-plateau.

    checkpoints/resume-0007.npz   arrays only (np.savez, no pickle)
    checkpoints/resume.json       {"epoch": 7, "arrays": "resume-0007.npz", "callbacks": {...}}

The arrays are written first and resume.json, which names them, last (both atomically), so a
process killed at any moment leaves a consistent pair. The input pipeline's order depends only
on (seed, epoch), and the learning-rate schedule only on the epoch, so a resumed run sees
exactly what an uninterrupted one would.
"""

from __future__ import annotations

import contextlib

import io
import math
import signal
import zipfile
from pathlib import Path

import keras
import numpy as np

from dlrun.runs.artifacts import damaged, old_resume_arrays, read_json_object, resume_arrays_name, resume_state_path
from dlrun.runs.atomic import write_bytes, write_json

CALLBACK_FIELDS = {
    "EarlyStopping": ("wait", "stopped_epoch", "best", "best_epoch"),
    "BestCheckpoint": ("best",),
    "ReduceLROnPlateau": ("wait", "cooldown_counter", "best"),
}


def _float(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _plain(value):
    """A callback attribute as JSON: ints stay ints, floats keep inf as a string."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return _float(value)


def _unfloat(value):
    return float(value) if isinstance(value, str) else value


def model_arrays(model) -> dict[str, np.ndarray]:
    """The values of the model's variables (weights and dropout seed states) and its optimizer's
    (step count, moments, learning rate), by position: what `restore_model` puts back."""
    arrays = {f"model_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.variables)}
    arrays.update({f"optimizer_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.optimizer.variables)})
    return arrays


class ResumeSaver(keras.callbacks.Callback):
    """Writes the resume state at the end of every epoch (it must come after the callbacks it saves)."""

    def __init__(self, folder: Path, watched: list):
        super().__init__()
        self.folder = Path(folder)
        self.watched = watched

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            return  # never save a diverged state as the point to resume from
        arrays = model_arrays(self.model)
        states = {}
        for callback in self.watched:
            kind = type(callback).__name__
            states[kind] = {f: _plain(getattr(callback, f, None)) for f in CALLBACK_FIELDS[kind]}
            best_weights = getattr(callback, "best_weights", None)
            if best_weights is not None:
                arrays.update({f"best_weights_{i}": np.asarray(w) for i, w in enumerate(best_weights)})
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        name = resume_arrays_name(epoch + 1)
        write_bytes(self.folder / name, buffer.getvalue())
        write_json(resume_state_path(self.folder), {"epoch": epoch + 1, "arrays": name, "callbacks": states})
        for old in old_resume_arrays(self.folder, name):
            old.unlink(missing_ok=True)


def read_state(folder: Path) -> dict | None:
    """The last saved resume state, or None when none was ever saved (no epoch finished); a state
    that is there but cannot be read is a DamagedRunFile naming the file, never a silent restart."""
    path = resume_state_path(folder)
    if not path.exists():
        return None
    state = read_json_object(path, ("epoch", "arrays", "callbacks"))
    if not isinstance(state["epoch"], int) or state["epoch"] < 1 or not isinstance(state["arrays"], str) \
            or Path(state["arrays"]).name != state["arrays"]:
        raise damaged(path, "its epoch or arrays entry is not what dlrun writes")
    arrays = Path(folder) / state["arrays"]
    try:
        with np.load(arrays, allow_pickle=False) as archive:
            state["array_data"] = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise damaged(arrays, f"the saved weights cannot be read ({str(exc).splitlines()[0][:100]})") from None
    return state


def restore_model(model, arrays: dict[str, np.ndarray]) -> None:
    """Put model and optimizer variable values (`model_arrays`) back (the model is built and compiled)."""
    if not model.optimizer.built:
        strategy = getattr(model, "distribute_strategy", None)  # TensorFlow: optimizer slots on every replica
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model.optimizer.build(model.trainable_variables)
    for i, variable in enumerate(model.variables):
        variable.assign(arrays[f"model_{i}"])
    for i, variable in enumerate(model.optimizer.variables):
        variable.assign(arrays[f"optimizer_{i}"])


class ResumeRestorer(keras.callbacks.Callback):
    """Puts the saved callback states back after the callbacks reset themselves at train begin."""

    def __init__(self, state: dict, watched: list):
        super().__init__()
        self.state, self.watched = state, watched

    def on_train_begin(self, logs=None):
        arrays = self.state["array_data"]
        for callback in self.watched:
            saved = self.state["callbacks"].get(type(callback).__name__, {})
            for field, value in saved.items():
                setattr(callback, field, _unfloat(value))
            keys = sorted((k for k in arrays if k.startswith("best_weights_")), key=lambda k: int(k.rsplit("_", 1)[1]))
            if keys and hasattr(callback, "best_weights"):
                callback.best_weights = [arrays[k] for k in keys]


class GracefulStop(keras.callbacks.Callback):
    """SIGINT / SIGTERM ask the run to stop at the next epoch end (after the resume state is saved);
    a second signal stops at once."""

    def __init__(self):
        super().__init__()
        self.signal_name: str | None = None
        self._previous: dict = {}

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum, frame):
        if self.signal_name is not None:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name

    def on_epoch_end(self, epoch, logs=None):
        if self.signal_name is not None:
            self.model.stop_training = True
