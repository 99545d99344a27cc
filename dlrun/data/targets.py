"""Target columns: which task each one is, and its encoding as numbers (saved as JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from dlrun.errors import DataError

MAX_CLASSES_FOR_INTEGER_TARGET = 30  # more distinct integer values than this reads as regression
MIN_ROWS_TO_JUDGE = 20               # from this many rows, whole numbers that are mostly all different are measurements


@dataclass
class TargetEncoder:
    """One target: its task, and for classification its classes in encoded order.

    Example:
        >>> enc = TargetEncoder.fit("y", np.array(["b", "a", "b"]), "auto")
        >>> enc.task, enc.classes, enc.encode(np.array(["a", "b"])).tolist()
        ('binary', ['a', 'b'], [0, 1])
    """

    name: str
    task: str                       # binary | multiclass | multilabel | regression
    classes: list | None = None     # class values (JSON-friendly) in the order of their codes; multilabel: labels
    class_names: list[str] | None = None
    separator: str | None = None    # multilabel from one column of label sets: what splits them
    low: float | None = None        # regression: the smallest and largest value, and how many fall outside [0, 1]
    high: float | None = None
    outside_unit: int | None = None
    steps: int | None = None        # forecasting (data.window): the horizon, one output unit per step

    @property
    def n_classes(self) -> int:
        return len(self.classes or [])

    @classmethod
    def fit(cls, name: str, values: np.ndarray, declared: str, class_names: list[str] | None = None,
            where: str = "data", separator: str | None = None) -> "TargetEncoder":
        if (np.ndim(values) == 2 and declared != "regression") or separator is not None:
            return cls._fit_multilabel(name, values, class_names, separator, where)
        steps = int(np.shape(values)[1]) if np.ndim(values) == 2 else None  # a forecast: (windows, horizon)
        series = pd.Series(np.ravel(values))
        _check_values(name, series, where)
        task = declared if declared != "auto" else infer_task(series)
        if task == "regression":
            if not pd.api.types.is_numeric_dtype(series):
                raise DataError(f"{where}: target '{name}' holds text, so it cannot be a regression target")
            numbers = series.to_numpy(dtype=np.float64)
            return cls(name, task, low=float(numbers.min()), high=float(numbers.max()),
                       outside_unit=int(((numbers < 0) | (numbers > 1)).sum()), steps=steps)
        classes = sorted(series.unique().tolist(), key=lambda v: (str(type(v)), v))
        classes = [c.item() if hasattr(c, "item") else c for c in classes]
        if len(classes) < 2:
            raise DataError(f"{where}: target '{name}' has a single class ({classes[0]!r}); a classifier needs at least two")
        if task == "binary" and len(classes) != 2:
            raise DataError(f"{where}: data.task is binary but target '{name}' has {len(classes)} classes")
        if class_names is not None and len(class_names) != len(classes):
            class_names = None
        return cls(name, task, classes, class_names)

    @classmethod
    def _fit_multilabel(cls, name: str, values: np.ndarray, labels: list[str] | None, separator: str | None,
                        where: str) -> "TargetEncoder":
        from dlrun.data.multilabel import split_sets

        if separator is not None:
            labels = sorted({label for row in split_sets(values, separator) for label in row})
        if not labels or len(labels) < 2:
            raise DataError(f"{where}: multilabel target '{name}' has {len(labels or [])} label(s) "
                            f"({', '.join(labels or [])}); it needs at least two")
        return cls(name, "multilabel", list(labels), separator=separator)

    def encode(self, values: np.ndarray) -> np.ndarray:
        if self.task == "multilabel":
            from dlrun.data.multilabel import label_matrix

            return label_matrix(self.name, values, self.classes, self.separator)
        if self.task == "regression":
            return np.asarray(values, dtype=np.float32)
        values = np.asarray(values)
        codes = pd.Index(self.classes, dtype=object if values.dtype == object else None).get_indexer(values)
        if len(codes) and codes.min() < 0:
            unseen = values[int(np.argmax(codes < 0))]
            unseen = unseen.item() if hasattr(unseen, "item") else unseen
            raise DataError(f"target '{self.name}' holds the value {unseen!r}, which the run never saw "
                            f"(classes: {self.classes})")
        return codes.astype(np.int32)

    def label(self, code: int) -> str:
        if self.class_names:
            return self.class_names[code]
        return str(self.classes[code])

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TargetEncoder":
        return cls(**data)


def _check_values(name: str, series: pd.Series, where: str) -> None:
    missing = series.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(f"{where}: target '{name}' is missing on {int(missing.sum())} row(s), first on data row {row + 1}; "
                        f"drop those rows or fill them in")
    if pd.api.types.is_numeric_dtype(series):
        bad = ~np.isfinite(series.to_numpy(dtype=np.float64))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{where}: target '{name}' holds an infinite value on data row {row + 1}")


def infer_task(series: pd.Series) -> str:
    """Text or booleans → classification; integers with few distinct values (at most
    MAX_CLASSES_FOR_INTEGER_TARGET, and from MIN_ROWS_TO_JUDGE rows on, at least two rows per value on
    average) → classification; else regression. 20 rows holding 16 different whole numbers are
    measurements, not 16 classes."""
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        n = series.nunique()
        return "binary" if n == 2 else "multiclass"
    values = series.to_numpy(dtype=np.float64)
    distinct = np.unique(values)
    mostly_distinct = len(values) >= MIN_ROWS_TO_JUDGE and len(distinct) * 2 > len(values)
    few = len(distinct) <= MAX_CLASSES_FOR_INTEGER_TARGET and not mostly_distinct
    if np.all(values == np.round(values)) and (few or len(distinct) == 2):
        return "binary" if len(distinct) == 2 else "multiclass"
    return "regression"


ONE_HOT_LOSSES = ("categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge", "kl_divergence",
                  "kld")
BINARY_COLUMN_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy")


def encode_for_loss(encoder: TargetEncoder, values: np.ndarray, loss: str | None) -> np.ndarray:
    """Target values as the loss expects them: one-hot for categorical losses, a float column for
    binary cross-entropy and regression, integer codes otherwise."""
    y = encoder.encode(values)
    if loss in ONE_HOT_LOSSES:
        return np.eye(encoder.n_classes, dtype=np.float32)[y]
    if encoder.task == "binary" and loss in BINARY_COLUMN_LOSSES:
        return y.astype(np.float32)[:, None]
    if encoder.task == "regression":
        return y[:, None] if y.ndim == 1 else y
    return y
