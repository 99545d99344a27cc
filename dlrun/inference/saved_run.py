"""Bring a finished run back: its resolved spec, fitted preprocessing, encoders and splits,
exactly as training saved them (JSON only: nothing is unpickled, nothing is refitted)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlrun.data.inputs import InputInfo
from dlrun.data.preprocess import FeaturePreprocessor
from dlrun.data.window_inputs import run_inputs
from dlrun.data.split import Splits
from dlrun.data.targets import TargetEncoder
from dlrun.errors import RunLookupError, UserError
from dlrun.runs import artifacts
from dlrun.runs.rundir import RunDir
from dlrun.spec.load import validate_saved
from dlrun.spec.models import ExperimentSpec
from dlrun.spec.outputs import OutputHead


@dataclass
class SavedRun:
    run: RunDir
    info: dict
    spec: ExperimentSpec
    preprocessor: FeaturePreprocessor
    targets: dict[str, TargetEncoder]
    heads: list[OutputHead]
    infos: dict[str, InputInfo]
    baselines: dict[str, dict]
    scaled_targets: tuple = ()   # regression targets fitted with data.target_scale (preprocessing.json)

    @property
    def data_dir(self) -> Path:
        return Path(self.info.get("data_dir", "."))

    def use_backend(self, requested: str | None = None) -> str:
        """Start the Keras backend to score this run on (before anything imports Keras): `requested`
        (--backend) or the one it was trained on; a backend that is not installed is a UserError."""
        from dlrun.model.backend import activate
        from dlrun.spec.backends import missing_backend

        name = requested or self.spec.training.backend
        problem = missing_backend(name)
        if problem:
            hint = "" if requested else ", or pass --backend with one that is (a model runs on either)"
            raise UserError(f"run {self.run.run_id} is scored on {name}: {problem}{hint}")
        activate(name)
        if self.inputs().reads_with_keras:  # read with TensorFlow/Keras: import it now, quietly
            from dlrun.model.backend import import_keras

            import_keras()
        return name

    def inputs(self):
        """How new rows reach the model (data/saved_inputs.py; a window run's: data/window_inputs.py)."""
        return run_inputs(self.preprocessor, self.spec.data.window)

    def model(self, backend: str):
        """The run's final model on `backend` (see `use_backend`)."""
        from dlrun.model.io import load_model

        return load_model(self.run.path, self.spec.imports, self.data_dir, backend)

    def splits(self) -> Splits:
        return Splits.read(self.run.path)

    def sample(self) -> np.ndarray | None:
        """For --smoke runs, the rows of the source that were used."""
        rows = artifacts.read_splits(self.run.path).get("sample")
        try:
            return None if rows is None else np.asarray(rows, dtype=np.int64)
        except (TypeError, ValueError):
            raise artifacts.damaged(artifacts.splits_path(self.run.path), "its sample rows are not row numbers") from None


def load_saved_run(run: RunDir) -> SavedRun:
    missing = artifacts.missing_saved_files(run.path)
    if missing:
        raise RunLookupError(f"{run.path}: not a complete run (missing {', '.join(missing)}); "
                             f"it may still be running or have failed before writing them")
    info = run.read_info()
    spec = validate_saved(artifacts.read_config(run.path), str(artifacts.config_path(run.path)))
    pre = artifacts.read_preprocessing(run.path)
    try:
        return SavedRun(
            run=run, info=info, spec=spec,
            preprocessor=FeaturePreprocessor.from_json(pre["features"]),
            targets={name: TargetEncoder.from_json(t) for name, t in pre["targets"].items()},
            heads=[OutputHead.from_json(h) for h in pre["outputs"]],
            infos={name: InputInfo(tuple(i["shape"]), i["dtype"]) for name, i in pre["inputs"].items()},
            baselines=pre["baselines"],
            scaled_targets=tuple(pre.get("target_scales") or ()),
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise artifacts.damaged(artifacts.preprocessing_path(run.path),
                                f"its fitted state cannot be read ({type(exc).__name__}: {str(exc)[:80]})") from None
