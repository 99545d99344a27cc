"""Reading a run like a careful reviewer: fit diagnosis from the history, and a data audit
(leakage through duplicate rows, class balance per split, missing values)."""

from __future__ import annotations

import numpy as np

from dlrun.data.feature_data import feature_data
from dlrun.data.table_stream import count_in_sorted

OVERFIT_RISE = 0.10      # validation loss this far above its minimum at the end → overfitting
LARGE_GAP = 0.25         # validation loss this far above training loss at the best epoch → a large gap


def diagnose_fit(history: list[dict], best_epoch: int | None) -> dict:
    """Best epoch, the train–validation gap, and a plain-words verdict.

    Example:
        >>> rows = [{"epoch": e, "loss": 1 / e, "val_loss": [.9, .6, .5, .6, .8][e - 1]} for e in range(1, 6)]
        >>> diagnose_fit(rows, 3)["verdict"]
        'overfitting'
    """
    out: dict = {"epochs_run": len(history), "best_epoch": best_epoch, "flags": []}
    if not history:
        out["verdict"] = "no history"
        return out
    has_val = "val_loss" in history[0]
    best_row = next((r for r in history if r["epoch"] == best_epoch), history[-1])
    last = history[-1]
    if has_val:
        gap = best_row["val_loss"] - best_row["loss"]
        out["gap_at_best"] = {"loss": best_row["loss"], "val_loss": best_row["val_loss"], "difference": gap,
                              "relative": gap / abs(best_row["loss"]) if best_row["loss"] else None}
        lowest = min(r["val_loss"] for r in history)
        lowest_epoch = next(r["epoch"] for r in history if r["val_loss"] == lowest)
        rise = (last["val_loss"] - lowest) / abs(lowest) if lowest else 0.0
        if lowest_epoch < last["epoch"] and rise > OVERFIT_RISE and last["loss"] < history[lowest_epoch - 1]["loss"]:
            out["flags"].append(f"overfitting: validation loss rose {rise:.0%} above its minimum (epoch {lowest_epoch}) "
                                f"while training loss kept falling — early stopping, dropout or L2 would help")
        elif out["gap_at_best"]["relative"] is not None and out["gap_at_best"]["relative"] > LARGE_GAP and gap > 0.05:
            out["flags"].append(f"overfitting risk: validation loss is {out['gap_at_best']['relative']:.0%} above "
                                f"training loss at the best epoch")
    if len(history) > 1 and best_epoch == last["epoch"]:
        out["flags"].append("still improving at the last epoch: more epochs may help (underfitting)")
    if any(f.startswith("overfitting:") for f in out["flags"]):
        out["verdict"] = "overfitting"
    elif any("underfitting" in f for f in out["flags"]):
        out["verdict"] = "underfitting"
    elif out["flags"]:
        out["verdict"] = "overfitting risk"
    else:
        out["verdict"] = "good fit"
    return out


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
