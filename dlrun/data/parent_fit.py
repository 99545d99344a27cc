"""The parent of a warm-started run (`init_from`): where its weights are, and, with
`preprocessing: reuse`, its fitted preprocessing, target encodings and target scales, read back from
its preprocessing.json, so the weights see inputs scaled as they learned them and class codes mean
the same classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlrun.data.preprocess import FeaturePreprocessor
from dlrun.data.target_scale import TargetScale
from dlrun.data.targets import TargetEncoder
from dlrun.errors import DataError, UserError
from dlrun.runs import artifacts
from dlrun.spec.transfer import InitFrom


@dataclass(frozen=True)
class Parent:
    source: Path                      # a run folder, or a .keras / .weights.h5 file
    run_id: str | None                # None for a model file
    skip_mismatch: bool
    preprocessing: str                # reuse | refit, as applied (a model file has nothing to reuse: refit)
    fitted: dict | None = None        # the parent's preprocessing.json, when reused

    def record(self) -> dict:
        """What run.json keeps of the parent (runs and show display the lineage from it)."""
        return {"run": self.run_id, "source": str(self.source), "preprocessing": self.preprocessing,
                "skip_mismatch": self.skip_mismatch}

    def preprocessor(self) -> FeaturePreprocessor | None:
        return None if self.fitted is None else FeaturePreprocessor.from_json(self.fitted["features"])

    def target_scales(self) -> dict[str, TargetScale] | None:
        if self.fitted is None:
            return None
        return {name: TargetScale.from_json(s) for name, s in (self.fitted.get("target_scales") or {}).items()}

    def targets(self, fitted: dict[str, TargetEncoder], values: dict[str, np.ndarray]) -> dict[str, TargetEncoder]:
        """The parent's target encodings in place of `fitted` ones (this data's), checked to hold every
        class this data has."""
        if self.fitted is None:
            return fitted
        saved = {name: TargetEncoder.from_json(t) for name, t in self.fitted["targets"].items()}
        out = {}
        for name, encoder in fitted.items():
            parent = saved.get(name)
            if parent is None or parent.task != encoder.task:
                raise DataError(f"init_from: the parent run {self.run_id} has no {encoder.task} target '{name}' to "
                                f"reuse the encoding of; set init_from.preprocessing: refit")
            if encoder.task in ("binary", "multiclass"):
                unknown = [c for c in encoder.classes if c not in parent.classes]
                if unknown:
                    raise DataError(f"init_from: target '{name}' has classes the parent run {self.run_id} never saw "
                                    f"({', '.join(map(str, unknown[:5]))}); its output cannot be reused as it is — "
                                    f"set init_from.preprocessing: refit and skip_mismatch: true for a new head")
            out[name] = parent
        return out


def find_parent(init: InitFrom, runs_dir: Path, base_dir: Path | None) -> Parent:
    """The parent `init` names: a model file (relative to the spec's folder, else the working
    directory), or a run (id, prefix, SWEEP:best, path) in the runs directory."""
    from dlrun.runs.lookup import resolve_run

    if init.is_file:
        path = Path(init.run)
        if not path.is_absolute() and base_dir is not None and (Path(base_dir) / path).is_file():
            path = Path(base_dir) / path
        if not path.is_file():
            raise UserError(f"init_from.run: no model file {init.run} (relative to the spec's folder or the working "
                            f"directory)")
        return Parent(path, None, init.skip_mismatch, "refit")
    run = resolve_run(init.run, runs_dir)
    if not artifacts.has_model(run.path):
        raise UserError(f"init_from.run: run {run.run_id} has no {artifacts.model_path(run.path).name} to start from "
                        f"(it did not finish, or it ran with output.save_model: false)")
    fitted = artifacts.read_preprocessing(run.path) if init.preprocessing == "reuse" else None
    return Parent(run.path, run.run_id, init.skip_mismatch, init.preprocessing, fitted)
