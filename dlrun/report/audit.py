"""`dlrun audit RUN`: the course's nine-item quality audit of a finished run (the items are in
report/audit_items.py; protocols/audit.py runs them), each item PASS, WARN or FAIL with its evidence
in numbers and the fix in one line, read from the files the run wrote (no
TensorFlow): run.json, config.yaml, splits.json, preprocessing.json, history.csv, metrics.json,
model_summary.txt, environment.txt, and for k-fold and sweep runs their folds, summary and trials.

    data_integrity   missing values and how they were filled, conflicting labels, empty columns
    preprocessing    what was fitted, on which rows
    data_split       sizes, stratification, rows shared by training and held-out parts (by row hash), time order
    architecture     parameters per training row, each output's activation and loss against its task
    tuning           whether a sweep chose the settings, and that the test rows never took part in a choice
    performance      the held-out score against the trivial baseline (with its interval), the gaps
    training         the fit's verdict, divergence, which epoch's weights the model ends with
    monitoring       history, validation curves, model summary and graph, TensorBoard
    reproducibility  seed, determinism, data fingerprint, spec, environment lock, git commit, (--reproduce)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from dlrun.errors import UserError
from dlrun.runs import artifacts
from dlrun.runs.rundir import RunDir

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
RANK = {PASS: 0, WARN: 1, FAIL: 2}
TITLES = {"data_integrity": "Data integrity", "preprocessing": "Preprocessing", "data_split": "Data split",
          "architecture": "Architecture", "tuning": "Hyperparameter tuning", "performance": "Model performance",
          "training": "Training procedure", "monitoring": "Monitoring and logging",
          "reproducibility": "Reproducibility"}
@dataclass
class Item:
    key: str
    status: str
    evidence: list[str]
    fix: str | None = None

    @property
    def title(self) -> str:
        return TITLES[self.key]


@dataclass
class Audit:
    run_id: str
    kind: str
    items: list[Item]
    reproduced: dict | None = None

    @property
    def worst(self) -> str:
        return max((item.status for item in self.items), key=RANK.__getitem__)

    def reaches(self, level: str) -> bool:
        """Whether an item is at `level` (warn | fail) or worse: `--fail-on` exits 1 then."""
        return any(RANK[item.status] >= RANK[level.upper()] for item in self.items)

    def to_json(self) -> dict:
        return {"run_id": self.run_id, "kind": self.kind, "worst": self.worst,
                "counts": {s: sum(i.status == s for i in self.items) for s in RANK},
                "items": [{**asdict(item), "title": item.title} for item in self.items],
                **({"reproduced": self.reproduced} if self.reproduced is not None else {})}


@dataclass
class Fit:
    """The files of one fitted folder: a train run, a fold, a trial."""

    path: Path
    info: dict
    config: dict
    metrics: dict
    splits: dict
    preprocessing: dict | None
    history: list[dict] = field(default_factory=list)

    @property
    def audit(self) -> dict:
        return self.metrics.get("audit") or {}

    @property
    def part(self) -> str:
        return self.metrics.get("part", "test")

    @property
    def held_out(self) -> dict:
        """The held-out part's results of the first output."""
        section = self.metrics.get(self.part) or {}
        return section if "task" in section else next(iter(section.values()), {}) if section else {}


def _fit(path: Path) -> Fit:
    metrics = artifacts.read_metrics(path)
    if metrics is None:
        raise UserError(f"{path}: no {artifacts.METRICS}: the run did not finish scoring, so there is nothing to audit")
    preprocessing = artifacts.read_preprocessing(path) if artifacts.preprocessing_path(path).is_file() else None
    history = artifacts.read_history(path) if artifacts.history_path(path).is_file() else []
    return Fit(path, artifacts.read_info(path), artifacts.read_config(path), metrics, artifacts.read_splits(path),
               preprocessing, history)


def fits_of(run: RunDir, info: dict) -> list[Fit]:
    """The fitted folders an audit reads: the run itself, each completed fold, or a sweep's best trial."""
    kind = info.get("kind", "train")
    if kind == "kfold":
        folders = [p for p in artifacts.fold_folders(run.path) if artifacts.read_metrics(p) is not None]
    elif kind == "sweep":
        best = artifacts.read_best(run.path)
        if best is None:
            raise UserError(f"sweep {run.run_id} has no completed trial to audit yet")
        folders = [artifacts.trial_folder(run.path, int(best["number"]))]
    else:
        folders = [run.path]
    if not folders:
        raise UserError(f"{run.run_id}: no finished fold to audit yet")
    return [_fit(folder) for folder in folders]
