"""Cross-validation protocols: which rows each fold trains on and which it holds out.

Folds come from scikit-learn's splitters, driven by the spec's seed:
k-fold, stratified k-fold, repeated (reshuffled) k-fold, group k-fold, and an expanding
time-series window that never trains on rows later than the ones it tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlrun.data.split import Splits, cut_rows, part_size
from dlrun.errors import DataError
from dlrun.spec.models import CrossValidationSplit


@dataclass
class Fold:
    number: int          # 1-based, across repeats
    repeat: int          # 1-based round of repeated k-fold
    train: np.ndarray    # rows the fold fits on (before any inner validation split)
    held_out: np.ndarray  # rows the fold is scored on

    @property
    def name(self) -> str:
        return f"{self.number:02d}"


def _splitter(spec: CrossValidationSplit, seed: int, labels, groups):
    from sklearn import model_selection as ms

    k, shuffle = spec.folds, spec.shuffle
    if spec.protocol == "kfold":
        return ms.KFold(k, shuffle=shuffle, random_state=seed if shuffle else None)
    if spec.protocol == "stratified_kfold":
        if labels is None:
            raise DataError("split.protocol stratified_kfold needs a classification target; "
                            "use kfold for regression")
        return ms.StratifiedKFold(k, shuffle=shuffle, random_state=seed if shuffle else None)
    if spec.protocol == "repeated_kfold":
        if labels is not None and spec.stratify is not False:
            return ms.RepeatedStratifiedKFold(n_splits=k, n_repeats=spec.repeats, random_state=seed)
        return ms.RepeatedKFold(n_splits=k, n_repeats=spec.repeats, random_state=seed)
    if spec.protocol == "group_kfold":
        try:
            return ms.GroupKFold(k, shuffle=shuffle, random_state=seed if shuffle else None)
        except TypeError:  # scikit-learn before 1.6 has no shuffling GroupKFold
            return ms.GroupKFold(k)
    if spec.protocol == "time_series":
        return ms.TimeSeriesSplit(k)
    raise ValueError(spec.protocol)  # pragma: no cover - the spec model allows no other value


def make_folds(rows: np.ndarray, spec: CrossValidationSplit, seed: int, labels: np.ndarray | None = None,
               groups: np.ndarray | None = None) -> list[Fold]:
    """The folds over `rows` (dataset row numbers). `labels` are class codes per dataset row
    (None for regression), `groups` the group value per dataset row (group_kfold).

    Example:
        >>> folds = make_folds(np.arange(10), CrossValidationSplit(protocol="kfold", folds=5), seed=0)
        >>> [len(f.held_out) for f in folds]
        [2, 2, 2, 2, 2]
    """
    rows = np.asarray(rows, dtype=np.int64)
    k = spec.folds
    if len(rows) < k or (spec.protocol == "time_series" and len(rows) < k + 1):
        raise DataError(f"split: {len(rows)} rows are too few for {k} folds; lower split.folds")
    if spec.protocol == "stratified_kfold" and labels is None:
        raise DataError("split.protocol stratified_kfold needs a classification target (and split.stratify not "
                        "false); use kfold for regression")
    if spec.protocol == "stratified_kfold" or (spec.protocol == "repeated_kfold" and labels is not None
                                              and spec.stratify is not False):
        counts = np.bincount(labels[rows])
        smallest = int(counts[counts > 0].min())
        if smallest < k:
            raise DataError(f"split: the rarest class has {smallest} rows, fewer than the {k} folds; stratified "
                            f"folds need at least one row of each class per fold — lower split.folds")
    group_values = None
    if spec.protocol == "group_kfold":
        if groups is None:
            raise DataError("split.protocol group_kfold needs split.group naming a column of the data")
        group_values = groups[rows]
        distinct = len(np.unique(group_values))
        if distinct < k:
            raise DataError(f"split: column '{spec.group}' has {distinct} distinct groups, fewer than the {k} folds")
    strat = labels[rows] if labels is not None else None
    splitter = _splitter(spec, seed, labels, groups)
    folds = []
    per_round = k
    for index, (train, held_out) in enumerate(splitter.split(rows, strat, group_values)):
        folds.append(Fold(index + 1, index // per_round + 1, rows[train], rows[held_out]))
    return folds


def group_cut(rows: np.ndarray, fraction: float, groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split `rows` into (rest, taken) with about `fraction` of them taken, whole groups only."""
    from sklearn.model_selection import GroupShuffleSplit

    distinct = len(np.unique(groups[rows]))
    if distinct < 2:
        raise DataError(f"split: only {distinct} group(s) among these rows; whole groups cannot be held out")
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    rest, taken = next(splitter.split(rows, groups=groups[rows]))
    return np.sort(rows[rest]), np.sort(rows[taken])


def _shuffles(spec: CrossValidationSplit) -> bool:
    return spec.shuffle and spec.protocol != "time_series"  # time-ordered: never validate or test on the past


def fold_splits(fold: Fold, spec: CrossValidationSplit, seed: int, labels: np.ndarray | None,
                groups: np.ndarray | None) -> Splits:
    """The fold's rows: an optional inner validation part carved from its training rows."""
    n_val = part_size(len(fold.train), spec.validation)
    if n_val >= len(fold.train):
        raise DataError(f"split.validation {spec.validation} leaves fold {fold.number} no training rows")
    if spec.protocol == "group_kfold" and n_val:  # whole groups, or validation flatters the fit
        train, validation = group_cut(fold.train, spec.validation, groups, seed + fold.number)
        return Splits(train, validation, np.sort(fold.held_out))
    shuffle = _shuffles(spec)
    train, validation = cut_rows(fold.train, n_val, labels if shuffle else None, seed + fold.number, shuffle)
    return Splits(np.sort(train), np.sort(validation), np.sort(fold.held_out))


def held_out_test(n_rows: int, spec: CrossValidationSplit, seed: int, labels: np.ndarray | None, groups: np.ndarray | None,
                  source_test: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows to cross-validate, test rows held out for the final model); no test rows without
    `split.final_model`."""
    rows = np.arange(n_rows, dtype=np.int64)
    if not spec.final_model:
        return rows, rows[:0]
    if source_test is not None and spec.use_source_test and len(source_test):
        test = np.sort(source_test)
        return np.setdiff1d(rows, test), test
    if spec.protocol == "group_kfold":  # the final test rows share no group with the rest
        return group_cut(rows, spec.test, groups, seed)
    if spec.test == 0:
        raise DataError("split.final_model: true scores the final model once on held-out test rows; "
                        "set split.test above 0")
    shuffle = _shuffles(spec)
    return cut_rows(rows, part_size(n_rows, spec.test), labels if shuffle else None, seed, shuffle)
