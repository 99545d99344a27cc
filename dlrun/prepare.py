"""Spec + data -> everything the model needs: encoded targets, splits, fitted preprocessing, arrays.

This is the data half of the pipeline (load → resolve task defaults → split → preprocess);
it imports no TensorFlow, so it can be tested and reused by evaluate and kfold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlrun.data.dataset import Dataset
from dlrun.data.inputs import input_infos, model_inputs
from dlrun.data.preprocess import FeaturePreprocessor
from dlrun.data.sources import load_dataset
from dlrun.data.split import Splits, holdout_split
from dlrun.data.targets import TargetEncoder
from dlrun.model.build import InputInfo
from dlrun.model.heads import resolve_for_data
from dlrun.spec.load import LoadedSpec
from dlrun.spec.models import ExperimentSpec

SMOKE_ROWS = 240


@dataclass
class Prepared:
    loaded: LoadedSpec                 # the spec with task defaults filled in
    dataset: Dataset
    targets: dict[str, TargetEncoder]
    splits: Splits
    preprocessor: FeaturePreprocessor
    infos: dict[str, InputInfo]
    plan: list[dict]                   # per model output: target, loss, metrics, weight
    x: np.ndarray                      # every row, transformed
    y: object                          # encoded targets in output order (array or list of arrays)
    sample: np.ndarray | None = None   # --smoke: the source rows kept

    @property
    def spec(self) -> ExperimentSpec:
        return self.loaded.spec

    def part(self, name: str):
        """(inputs, targets) of one split part, ready for model.fit / evaluate."""
        rows = getattr(self.splits, name)
        inputs = model_inputs(self.x[rows], self.spec.model, self.preprocessor, self.infos)
        y = [t[rows] for t in self.y] if isinstance(self.y, list) else self.y[rows]
        return inputs, y

    def codes(self, target: str, rows: np.ndarray) -> np.ndarray:
        return self.targets[target].encode(self.dataset.targets[target][rows])

    def baselines(self) -> dict[str, dict]:
        """Per target, what the trivial baseline predicts (from the training rows only)."""
        from dlrun.report.metrics import baseline_of

        return {name: baseline_of(enc.task, self.codes(name, self.splits.train)) for name, enc in self.targets.items()}

    def truths(self, part: str) -> dict[str, np.ndarray]:
        rows = getattr(self.splits, part)
        return {name: self.codes(name, rows) for name in self.targets}


def fit_targets(dataset: Dataset, spec: ExperimentSpec) -> dict[str, TargetEncoder]:
    return {name: TargetEncoder.fit(name, values, spec.data.task, dataset.class_names.get(name), where=dataset.name)
            for name, values in dataset.targets.items()}


def stratify_labels(dataset: Dataset, targets: dict[str, TargetEncoder], stratify: bool | None):
    """Codes of the first classification target, used to stratify (None: do not stratify)."""
    if stratify is False:
        return None
    first = next(iter(targets.values()))
    if first.task == "regression":
        return None
    return first.encode(dataset.targets[first.name])


def smoke_rows(n_rows: int, labels, seed: int, keep: int = SMOKE_ROWS) -> np.ndarray:
    """A small, seeded (stratified when possible) sample of rows for `--smoke` runs."""
    if n_rows <= keep:
        return np.arange(n_rows)
    from sklearn.model_selection import train_test_split

    rows = np.arange(n_rows)
    try:
        taken, _ = train_test_split(rows, train_size=keep, random_state=seed, stratify=labels)
    except ValueError:
        taken, _ = train_test_split(rows, train_size=keep, random_state=seed)
    return np.sort(taken)


@dataclass
class Resolved:
    """The loaded data with the spec's task defaults filled in: the start of every protocol."""

    loaded: LoadedSpec
    dataset: Dataset
    targets: dict[str, TargetEncoder]
    sample: np.ndarray | None = None

    @property
    def spec(self) -> ExperimentSpec:
        return self.loaded.spec

    def labels(self):
        return stratify_labels(self.dataset, self.targets, self.spec.split.stratify)


def load_resolved(loaded: LoadedSpec, smoke: bool = False) -> Resolved:
    """Load the data and fill in the task defaults (output activation, loss, metrics)."""
    spec = loaded.spec
    dataset = load_dataset(spec.data, loaded.base_dir, spec.split.group)
    targets = fit_targets(dataset, spec)
    resolved, found = resolve_for_data(loaded.data, targets)
    if found:
        raise loaded.error(found)
    loaded = loaded.with_data(resolved)
    sample = None
    if smoke:
        sample = smoke_rows(dataset.n_rows, stratify_labels(dataset, targets, spec.split.stratify), spec.seed)
        dataset = dataset.take(sample)
    return Resolved(loaded, dataset, targets, sample)


def prepare_rows(resolved: Resolved, splits: Splits) -> Prepared:
    """Fit preprocessing on `splits.train` only, then transform every row."""
    from dlrun.train.fit import encode_targets, output_plan

    spec, dataset = resolved.spec, resolved.dataset
    train_features = dataset.features.iloc[splits.train] if dataset.is_table else dataset.features[splits.train]
    pre = FeaturePreprocessor.fit(train_features, spec.data)
    x = pre.transform(dataset.features, where=dataset.name)
    infos = input_infos(spec.model, pre)
    plan = output_plan(spec, resolved.targets)
    y = encode_targets(plan, resolved.targets, dataset.targets)
    return Prepared(resolved.loaded, dataset, resolved.targets, splits, pre, infos, plan, x, y, resolved.sample)


def prepare(loaded: LoadedSpec, smoke: bool = False) -> Prepared:
    """Holdout: load the data, fill in task defaults, split, and fit preprocessing on the training rows."""
    spec = loaded.spec
    if spec.split.protocol != "holdout":
        raise loaded.error([(("split", "protocol"), f"{spec.split.protocol} is a cross-validation protocol, run by "
                                                    f"`dlrun kfold`; `dlrun train` uses protocol: holdout")])
    resolved = load_resolved(loaded, smoke)
    splits = holdout_split(resolved.dataset.n_rows, resolved.spec.split, resolved.spec.seed, resolved.labels(),
                           resolved.dataset.source_test)
    return prepare_rows(resolved, splits)
