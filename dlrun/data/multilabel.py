"""Multilabel targets: several 0/1 columns (or one column of label sets) become one target.

A run sees a multilabel target as ONE entry of `Dataset.targets`: either an (n, k) 0/1
matrix named after its k columns joined by '+', or (with data.label_separator) the raw
column of label sets, e.g. 'sports|tech'. The TargetEncoder turns both into an (n, k)
0/1 matrix. No TensorFlow.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from dlrun.data.dataset import Dataset
from dlrun.errors import DataError

JOIN = "+"


def is_zero_one(values: np.ndarray) -> bool:
    """True when every value is 0 or 1 (numbers or booleans), with at least one row."""
    series = pd.Series(np.asarray(values).reshape(-1))
    if not len(series) or not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        return False
    numbers = series.to_numpy(dtype=np.float64)
    return bool(np.isin(numbers, (0.0, 1.0)).all())


def group_multilabel(dataset: Dataset, spec) -> Dataset:
    """The dataset with its 0/1 target columns gathered into one multilabel target when the spec
    asks for it (data.task: multilabel) or implies it (several 0/1 columns, one Sequential output)."""
    data, names = spec.data, list(dataset.targets)
    if data.label_separator is not None:
        if len(names) != 1:
            raise DataError(f"{dataset.name}: data.label_separator reads the label sets of ONE target column, "
                            f"but data.target names {len(names)} ({', '.join(names)})")
        return dataset
    if len(names) < 2:
        if data.task == "multilabel":
            raise DataError(f"{dataset.name}: data.task is multilabel but there is a single target column "
                            f"'{names[0]}'; name several 0/1 columns in data.target, or set data.label_separator "
                            f"for a column of label sets such as 'sports|tech'")
        return dataset
    implied = data.task == "auto" and not spec.model.is_graph and all(is_zero_one(v) for v in dataset.targets.values())
    if data.task != "multilabel" and not implied:
        return dataset
    for name, values in dataset.targets.items():
        if not is_zero_one(values):
            odd = [v for v in pd.unique(pd.Series(values)) if not (is_zero_one(np.array([v])))][:3]
            raise DataError(f"{dataset.name}: data.task is multilabel, so target column '{name}' must hold only 0 "
                            f"and 1, but it holds {', '.join(repr(v) for v in odd)}")
    return stack_columns(dataset, names)


def stack_columns(dataset: Dataset, columns: list[str]) -> Dataset:
    """`columns` (0/1 targets of `dataset`) as one (n, k) target named after them."""
    matrix = np.stack([np.asarray(dataset.targets[c], dtype=np.float32) for c in columns], axis=1)
    rest = {k: v for k, v in dataset.targets.items() if k not in columns}
    name = JOIN.join(columns)
    return replace(dataset, targets={name: matrix, **rest}, class_names={**dataset.class_names, name: list(columns)})


def source_columns(encoders: dict) -> list[str]:
    """The data columns a run's targets come from (a multilabel target from 0/1 columns: those columns)."""
    out: list[str] = []
    for name, encoder in encoders.items():
        from_columns = encoder.task == "multilabel" and encoder.separator is None
        out.extend(encoder.classes if from_columns else [name])
    return out


def regroup(dataset: Dataset, encoders: dict) -> Dataset:
    """A freshly loaded dataset shaped like the run's targets (its multilabel columns gathered again)."""
    for name, encoder in encoders.items():
        columns = list(encoder.classes or [])
        if (encoder.task == "multilabel" and encoder.separator is None and name not in dataset.targets
                and all(c in dataset.targets for c in columns)):
            dataset = stack_columns(dataset, columns)
    return dataset


def label_matrix(name: str, values: np.ndarray, labels: list, separator: str | None, where: str = "data") -> np.ndarray:
    """(n, k) float32 0/1 matrix of `values` over `labels`: label-set strings split by `separator`,
    or an already stacked 0/1 matrix."""
    if separator is None:
        matrix = np.asarray(values, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] != len(labels):
            raise DataError(f"{where}: target '{name}' should have {len(labels)} 0/1 columns ({', '.join(labels)})")
        return matrix
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(values), len(labels)), dtype=np.float32)
    for row, labels_of_row in enumerate(split_sets(values, separator)):
        for label in labels_of_row:
            if label not in index:
                raise DataError(f"{where}: target '{name}' holds the label {label!r} on data row {row + 1}, which "
                                f"the run never saw (labels: {', '.join(labels)})")
            matrix[row, index[label]] = 1.0
    return matrix


def split_sets(values: np.ndarray, separator: str) -> list[list[str]]:
    """Each cell's labels: split on `separator`, blanks dropped; an empty cell is the empty set."""
    out = []
    for value in values:
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        out.append([part.strip() for part in text.split(separator) if part.strip()])
    return out
