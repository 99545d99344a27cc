"""The data audit of a split: leakage through duplicate rows, class balance per split, missing values.
(The fit verdict from the history is in report/fit_verdict.py.)"""

from __future__ import annotations

import numpy as np

from dlrun.data.feature_data import feature_data
from dlrun.data.table_stream import count_in_sorted

def audit_split(features, parts: dict[str, np.ndarray], encoder, target_values: np.ndarray) -> dict:
    """The audit of a split, its classes read through the first output's target encoder (no classes
    for a regression target): one rule for training and for `dlrun evaluate`."""
    codes = None if encoder.task == "regression" else encoder.encode(target_values)
    labels = None if codes is None else [encoder.label(i) for i in range(encoder.n_classes)]
    return audit_data(features, parts, codes, labels)


def audit_data(features, splits: dict[str, np.ndarray], class_codes: np.ndarray | None,
               labels: list[str] | None) -> dict:
    """Leakage (rows of validation/test that also appear in train), class balance and missing values per part."""
    data = feature_data(features)
    keys = data.row_keys()
    train_keys = np.sort(keys[splits["train"]]) if "train" in splits else keys[:0]
    out: dict = {"duplicates_shared_with_train": {}, "class_balance": {}, "missing_values": {}, "flags": []}
    for part, rows in splits.items():
        if part != "train" and len(train_keys) and len(rows):
            shared = count_in_sorted(keys[rows], train_keys)
            out["duplicates_shared_with_train"][part] = shared
            if shared:
                out["flags"].append(f"leakage: {shared} of {len(rows)} {part} rows also appear in the training rows "
                                    f"(identical features) — their scores are optimistic; drop duplicates before splitting")
        if class_codes is not None and labels is not None and len(rows):
            codes = class_codes[rows]  # a multilabel (n, k) 0/1 matrix: the rows holding each label
            counts = codes.sum(axis=0) if codes.ndim == 2 else np.bincount(codes, minlength=len(labels))
            out["class_balance"][part] = {labels[i]: int(c) for i, c in enumerate(counts)}
        out["missing_values"][part] = feature_data(data.take(rows)).missing_counts()
    if class_codes is not None and labels is not None and "train" in out["class_balance"]:
        counts = np.array(list(out["class_balance"]["train"].values()))
        if counts.min() * 5 < counts.max():
            rarest = int(counts.min())
            out["flags"].append(f"class imbalance: the rarest class has {rarest} training row{'s' if rarest != 1 else ''}"
                                f" against {counts.max()} for the commonest — look at balanced accuracy and per-class recall;"
                                f" to counter it set training.class_weight: balanced, or data.resample: oversample"
                                f" (or undersample)")
    train_rows = len(splits.get("train", ()))
    empty = [c for c, n in out["missing_values"].get("train", {}).items() if train_rows and n == train_rows]
    if empty:
        out["empty_in_train"] = empty
        out["flags"].append(empty_columns_note(empty))
    if any(out["missing_values"].values()):
        total = sum(sum(m.values()) for m in out["missing_values"].values())
        out["flags"].append(f"missing values: {total} cell{'s were' if total != 1 else ' was'} missing "
                            f"(data.impute decides how they are filled)")
    return out


def empty_columns_note(columns: list[str]) -> str:
    """What an all-missing training column means: it is filled with 0 and tells the model nothing."""
    named = ", ".join(f"'{c}'" for c in columns)
    return (f"feature column{'s' if len(columns) > 1 else ''} {named} {'are' if len(columns) > 1 else 'is'} missing "
            f"on every training row: filled with 0, so it carries no information — check the file or leave it "
            f"out of data.features")
