"""Remedies for imbalanced classes, decided on the training part only: `data.resample` (which
training rows the fit sees, seeded) and `training.class_weight` (a loss weight per class code).

Validation and test rows are never touched; neither is the split itself (splits.json lists the
real training rows). No TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlrun.data.targets import TargetEncoder

CLASSIFICATION = ("binary", "multiclass")


@dataclass
class Balance:
    """What the fit sees of the training part: its rows (repeated or thinned when resampled) and
    the class weights by code (None: unweighted)."""

    resample: str
    fit_rows: np.ndarray
    class_weight: dict[int, float] | None = None

    def describe(self, encoder: TargetEncoder | None, n_train: int) -> dict:
        """The remedy in words and numbers, for metrics.json and the report."""
        out: dict = {"resample": self.resample, "train_rows": n_train, "fit_rows": int(len(self.fit_rows))}
        if self.class_weight is not None and encoder is not None:
            out["class_weight"] = {encoder.label(code): round(w, 6) for code, w in self.class_weight.items()}
        return out


def resample_rows(rows: np.ndarray, codes: np.ndarray, how: str, seed: int) -> np.ndarray:
    """`rows` with every class brought to the commonest class's count (oversample: minority rows drawn
    again with replacement) or to the rarest class's count (undersample: majority rows drawn without
    replacement). Seeded; the result is sorted, so the order of the draw does not matter.

    Example:
        >>> rows, codes = np.arange(6), np.array([0, 0, 0, 0, 1, 1])
        >>> len(resample_rows(rows, codes, "oversample", 0)), len(resample_rows(rows, codes, "undersample", 0))
        (8, 4)
    """
    from sklearn.utils import resample

    if how == "none":
        return rows
    classes, counts = np.unique(codes, return_counts=True)
    size = int(counts.max() if how == "oversample" else counts.min())
    picked = []
    for i, cls in enumerate(classes):
        members = rows[codes == cls]
        if how == "oversample":
            extra = size - len(members)
            drawn = resample(members, replace=True, n_samples=extra, random_state=seed + i) if extra else members[:0]
            picked += [members, drawn]
        else:
            picked.append(resample(members, replace=False, n_samples=size, random_state=seed + i))
    return np.sort(np.concatenate(picked))


def balanced_weights(codes: np.ndarray) -> dict[int, float]:
    """scikit-learn's 'balanced' weights (n_rows / (n_classes · class count)) of the classes present in `codes`."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(codes)
    weights = compute_class_weight("balanced", classes=present, y=codes)
    return {int(c): float(w) for c, w in zip(present, weights)}


def weights_by_label(setting: dict, encoder: TargetEncoder) -> tuple[dict[int, float], list[tuple[tuple, str]]]:
    """A {LABEL: WEIGHT} mapping as weights by class code (classes not named weigh 1), and the
    (spec path, message) of every label that is not one of the target's classes."""
    by_text = {str(c): i for i, c in enumerate(encoder.classes or [])}
    if encoder.class_names:
        by_text.update({str(name): i for i, name in enumerate(encoder.class_names)})
    weights = {i: 1.0 for i in range(encoder.n_classes)}
    problems = []
    for label, weight in setting.items():
        code = by_text.get(str(label))
        if code is None:
            problems.append((("training", "class_weight", label),
                             f"{label!r} is not a class of target '{encoder.name}' (classes: "
                             f"{', '.join(map(str, encoder.classes or []))})"))
        else:
            weights[code] = float(weight)
    return weights, problems


def decide_balance(loaded, encoder: TargetEncoder, train_rows: np.ndarray, train_codes: np.ndarray | None,
                   n_outputs: int) -> Balance:
    """The spec's remedies applied to one training part (`train_codes`: the first target's codes on
    `train_rows`, None for regression). A remedy the data cannot take is a located spec error."""
    spec = loaded.spec
    how, setting = spec.data.resample, spec.training.class_weight
    found: list[tuple[tuple, str]] = []
    if encoder.task not in CLASSIFICATION:
        task = f"target '{encoder.name}' is a {encoder.task} target"
        if how != "none":
            found.append((("data", "resample"), f"resampling balances classes, but {task}; remove data.resample"))
        if setting is not None:
            found.append((("training", "class_weight"), f"class weights need classes, but {task}; remove it"))
        if found:
            raise loaded.error(found)
        return Balance(how, train_rows)
    # weights follow resampling: 'balanced' is computed on the rows the fit sees (after a resample
    # they are already balanced and the weights come out near 1, not corrected twice)
    kept = None if how == "none" else resample_rows(np.arange(len(train_rows)), train_codes, how, spec.seed)
    fit_codes = train_codes if kept is None else train_codes[kept]
    weights = None
    if setting is not None and n_outputs > 1:
        found.append((("training", "class_weight"), f"the model has {n_outputs} outputs and Keras weighs classes only "
                                                    f"for single-output models; remove training.class_weight"))
    elif setting == "balanced":
        weights = balanced_weights(fit_codes)
    elif setting is not None:
        weights, found = weights_by_label(setting, encoder)
    if found:
        raise loaded.error(found)
    return Balance(how, train_rows if kept is None else train_rows[kept], weights)
