"""A Keras model in and out of a run folder: save atomically, load in safe mode, predict.

Training, evaluate and predict all predict through `predict_outputs`, so they see the same
batches and the same output layout (one array per model output).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from dlrun.data.feature_data import feature_data
from dlrun.errors import DamagedRunFile, UserError, first_line
from dlrun.runs.artifacts import has_model, model_path, read_info
from dlrun.runs.kinds import why_no_model


def save_model(model, path: Path) -> None:
    """model.save to a temporary file, then rename: a crash never leaves half a model."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def save_final_model(model, folder: Path) -> None:
    save_model(model, model_path(folder))


def load_model(folder: Path, imports: list[str] = (), base_dir: Path | None = None, backend: str = "tensorflow"):
    """The final model of a run folder, loaded in Keras safe mode (no embedded code runs), on
    `backend` (a model saved on one backend loads on the other)."""
    from dlrun.model.backend import activate, import_keras

    activate(backend)
    keras = import_keras()

    folder = Path(folder)
    if imports:  # custom layers: only the modules the spec listed, as in training
        from dlrun.model.build import BuildError, import_modules

        try:
            import_modules(list(imports), base_dir)
        except BuildError as exc:
            raise UserError(f"{folder}: {exc}") from None

    if not has_model(folder):
        raise UserError(f"{folder}: the run has no {model_path(folder).name} ({why_no_model(read_info(folder))})")
    path = model_path(folder)
    _refuse_damaged(path)
    # safe_mode (the default, stated here on purpose): a model file cannot run embedded code
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:  # unreadable weights: damage, not code
        raise DamagedRunFile(f"{path}: its weights cannot be read ({first_line(exc)}); the file is damaged "
                             f"— train the run again") from None
    except (ValueError, TypeError) as exc:
        raise UserError(f"{path}: the model cannot be loaded ({first_line(exc)}). dlrun loads models "
                        f"in Keras safe mode, which refuses embedded code such as Lambda layers; custom layers must "
                        f"come from modules under imports: and be registered with "
                        f"keras.saving.register_keras_serializable") from None


def _refuse_damaged(path: Path) -> None:
    """A .keras file is a zip archive whose config.json is a JSON object: anything else (a truncated,
    overwritten or garbled file) is damage, not code that safe mode refused."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile):
        config = None
    if not isinstance(config, dict):
        raise DamagedRunFile(f"{path}: not a Keras model file (damaged or truncated); train the run again")


def predict_outputs(model, inputs) -> list:
    """Raw model outputs, one array per output (training, evaluate and predict use the same batches;
    files and streamed tables are read batch by batch, never all at once)."""
    raw = feature_data(inputs).predict(model)
    return raw if isinstance(raw, list) else [raw]
