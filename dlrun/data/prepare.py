"""Dataset → Splits → fitted preprocessing → arrays: the data half of every protocol.

`load_data` reads the source and fits the target encodings; `prepare_rows` fits the feature
preprocessing on one split's training rows only and transforms every row. No TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from dlrun.data.balance import Balance, decide_balance
from dlrun.data.dataset import Dataset
from dlrun.data.feature_data import feature_data
from dlrun.data.inputs import InputInfo, input_infos, model_inputs
from dlrun.data.multilabel import group_multilabel
from dlrun.data.preprocess import FeaturePreprocessor
from dlrun.data.sources import load_dataset
from dlrun.data.parent_fit import Parent, find_parent
from dlrun.data.split import Splits
from dlrun.data.target_scale import TargetScale, fit_target_scales, scaled_method
from dlrun.data.targets import TargetEncoder, encode_for_loss
from dlrun.errors import DataError
from dlrun.spec.load import LoadedSpec
from dlrun.spec.models import ExperimentSpec
from dlrun.spec.outputs import OutputHead, output_heads

SMOKE_ROWS = 240


@dataclass
class Resolved:
    """The loaded data with its target encodings (and, once the protocol has checked the output
    heads against them, the spec with its task defaults filled in): the start of every protocol."""

    loaded: LoadedSpec
    dataset: Dataset
    targets: dict[str, TargetEncoder]
    sample: np.ndarray | None = None   # --smoke: the source rows kept
    activations: dict = field(default_factory=dict)  # {target: its output's activation}, once the heads are checked
    parent: Parent | None = None       # init_from: the run (or file) the weights start from

    @property
    def spec(self) -> ExperimentSpec:
        return self.loaded.spec

    def labels(self):
        return stratify_labels(self.dataset, self.targets, self.spec.split.stratify, self.spec.split.protocol)

    def with_loaded(self, loaded: LoadedSpec, activations: dict | None = None) -> "Resolved":
        return replace(self, loaded=loaded, activations=self.activations if activations is None else activations)

    def target_scale_methods(self) -> dict[str, str | None]:
        """{regression target: the scaling its output gets (None: none)} (data/target_scale.py)."""
        declared = self.spec.data.target_scale
        return {name: scaled_method(declared, self.activations.get(name))
                for name, enc in self.targets.items() if enc.task == "regression"}


@dataclass
class Prepared:
    loaded: LoadedSpec                 # the spec with task defaults filled in
    dataset: Dataset
    targets: dict[str, TargetEncoder]
    splits: Splits
    preprocessor: FeaturePreprocessor
    infos: dict[str, InputInfo]
    heads: list[OutputHead]            # per model output: target, loss, metrics, weight
    x: np.ndarray                      # every row, transformed
    y: object                          # encoded targets in output order (array or list of arrays)
    sample: np.ndarray | None = None   # --smoke: the source rows kept
    balance: Balance | None = None     # data.resample / training.class_weight on the training part
    target_scales: dict[str, TargetScale] = field(default_factory=dict)  # regression targets scaled for the fit
    parent: Parent | None = None       # init_from: the run (or file) the weights start from

    @property
    def spec(self) -> ExperimentSpec:
        return self.loaded.spec

    @property
    def fit_rows(self) -> np.ndarray:
        """The training rows the fit sees: splits.train, repeated or thinned by data.resample."""
        return self.splits.train if self.balance is None else self.balance.fit_rows

    @property
    def class_weight(self) -> dict[int, float] | None:
        return None if self.balance is None else self.balance.class_weight

    def remedy(self) -> dict:
        """The imbalance remedy used, for metrics.json and the report."""
        if self.balance is None:
            return {"resample": "none", "train_rows": int(len(self.splits.train))}
        encoder = self.targets[self.heads[0].target]
        return self.balance.describe(encoder, int(len(self.splits.train)))

    def part(self, name: str):
        """(inputs, targets) of one split part, ready for model.fit / evaluate; "train" is the rows
        the fit sees (`fit_rows`)."""
        rows = self.fit_rows if name == "train" else getattr(self.splits, name)
        inputs = model_inputs(self.x[rows], self.spec.model, self.preprocessor, self.infos)
        y = [t[rows] for t in self.y] if isinstance(self.y, list) else self.y[rows]
        return inputs, y

    def codes(self, target: str, rows: np.ndarray) -> np.ndarray:
        return self.targets[target].encode(self.dataset.targets[target][rows])

    def truths(self, part: str) -> dict[str, np.ndarray]:
        rows = getattr(self.splits, part)
        return {name: self.codes(name, rows) for name in self.targets}


def fit_targets(dataset: Dataset, spec: ExperimentSpec) -> dict[str, TargetEncoder]:
    def declared(values) -> str:  # windows' forecast targets are (windows, horizon) arrays of numbers
        return "regression" if spec.data.window is not None and np.ndim(values) == 2 else spec.data.task

    return {name: TargetEncoder.fit(name, values, declared(values), dataset.class_names.get(name),
                                    where=dataset.name, separator=spec.data.label_separator)
            for name, values in dataset.targets.items()}


def stratify_labels(dataset: Dataset, targets: dict[str, TargetEncoder], stratify: bool | None,
                    protocol: str = "holdout"):
    """Codes of the first classification target, used to stratify (None: do not stratify; a
    multilabel target is never stratified, and stratified_kfold on one is refused)."""
    first = next(iter(targets.values()))
    if first.task == "multilabel" and protocol == "stratified_kfold":
        raise DataError(f"split.protocol: stratified_kfold keeps each class's share per fold, but target "
                        f"'{first.name}' is multilabel (a row can hold several labels); use protocol: kfold")
    if stratify is False:
        return None
    if first.task in ("regression", "multilabel"):
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


def load_data(loaded: LoadedSpec) -> Resolved:
    """Read the spec's data source and fit the target encodings."""
    spec = loaded.spec
    dataset = group_multilabel(load_dataset(spec.data, loaded.base_dir, spec.split.group), spec)
    if spec.init_from is None:
        return Resolved(loaded, dataset, fit_targets(dataset, spec))
    parent = find_parent(spec.init_from, Path(spec.output.runs_dir), loaded.base_dir)
    return Resolved(loaded, dataset, parent.targets(fit_targets(dataset, spec), dataset.targets), parent=parent)


def take_smoke_sample(resolved: Resolved) -> Resolved:
    """The `--smoke` version: a small seeded sample of the rows."""
    spec = resolved.spec
    sample = smoke_rows(resolved.dataset.n_rows, resolved.labels(), spec.seed)
    return replace(resolved, dataset=resolved.dataset.take(sample), sample=sample)


def prepare_rows(resolved: Resolved, splits: Splits) -> Prepared:
    """Fit preprocessing on `splits.train` only, then transform every row.

    The preprocessing statistics come from the real training rows, before any resampling: repeated
    or dropped rows would shift the means and scales towards one class, and the real rows are what
    new data will look like. data.resample and training.class_weight then decide what the fit sees.
    """
    spec, dataset = resolved.spec, resolved.dataset
    parent = resolved.parent
    pre = parent.preprocessor() if parent is not None else None
    if pre is None:  # fitted here, on the training rows (else: a warm start reuses its parent's)
        pre = FeaturePreprocessor.fit(feature_data(dataset.features_at(splits.train)).fit_table(), spec.data)
    x = dataset.data.transformed(pre, dataset.name)
    infos = input_infos(spec.model, pre, feature_data(x).sample_shape(pre))
    heads = output_heads(spec, list(resolved.targets))
    encoded = [encode_for_loss(resolved.targets[h.target], dataset.targets[h.target], h.loss) for h in heads]
    y = encoded[0] if len(encoded) == 1 else encoded
    first = resolved.targets[heads[0].target]
    single_label = first.task in ("binary", "multiclass")
    codes = first.encode(dataset.targets[first.name][splits.train]) if single_label else None
    balance = decide_balance(resolved.loaded, first, splits.train, codes, len(heads))
    scales = fit_target_scales(resolved.target_scale_methods(), dataset.targets, splits.train)
    reused = parent.target_scales() if parent is not None else None
    if reused is not None:
        scales = {name: reused.get(name, scale) for name, scale in scales.items()}
    return Prepared(resolved.loaded, dataset, resolved.targets, splits, pre, infos, heads, x, y, resolved.sample,
                    balance, scales, parent)
