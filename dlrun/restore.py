"""Bring a finished run back: its resolved spec, fitted preprocessing, encoders and splits,
exactly as training saved them (JSON only: nothing is unpickled, nothing is refitted)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from dlrun.data.preprocess import FeaturePreprocessor
from dlrun.data.split import Splits
from dlrun.data.targets import TargetEncoder
from dlrun.errors import RunLookupError
from dlrun.model.build import InputInfo
from dlrun.runs.rundir import RunDir
from dlrun.spec.models import ExperimentSpec


@dataclass
class SavedRun:
    run: RunDir
    info: dict
    spec: ExperimentSpec
    preprocessor: FeaturePreprocessor
    targets: dict[str, TargetEncoder]
    plan: list[dict]
    infos: dict[str, InputInfo]
    baselines: dict[str, dict]

    @property
    def data_dir(self) -> Path:
        return Path(self.info.get("data_dir", "."))

    def splits(self) -> Splits:
        return Splits.from_json(json.loads(self.run.file("splits.json").read_text(encoding="utf-8")))

    def sample(self) -> np.ndarray | None:
        """For --smoke runs, the rows of the source that were used."""
        rows = json.loads(self.run.file("splits.json").read_text(encoding="utf-8")).get("sample")
        return None if rows is None else np.asarray(rows, dtype=np.int64)


def load_saved_run(run: RunDir) -> SavedRun:
    needed = ("run.json", "config.yaml", "preprocessing.json", "splits.json")
    missing = [n for n in needed if not run.file(n).is_file()]
    if missing:
        raise RunLookupError(f"{run.path}: not a complete run (missing {', '.join(missing)}); "
                             f"it may still be running or have failed before writing them")
    info = run.read_info()
    spec = ExperimentSpec.model_validate(yaml.safe_load(run.file("config.yaml").read_text(encoding="utf-8")))
    pre = json.loads(run.file("preprocessing.json").read_text(encoding="utf-8"))
    return SavedRun(
        run=run, info=info, spec=spec,
        preprocessor=FeaturePreprocessor.from_json(pre["features"]),
        targets={name: TargetEncoder.from_json(t) for name, t in pre["targets"].items()},
        plan=pre["outputs"],
        infos={name: InputInfo(tuple(i["shape"]), i["dtype"]) for name, i in pre["inputs"].items()},
        baselines=pre["baselines"],
    )
