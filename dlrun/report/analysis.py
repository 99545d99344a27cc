"""The data audit of a split: repeated rows (leakage, or repeats a small feature space makes likely),
rows whose identical features carry different targets, class balance per split, missing values and
how they were handled. (The fit verdict from the history is in report/fit_verdict.py.)

Rows with the same feature values in the training part and a held-out part mean one of three things,
and the audit says which fits the data:

- exact copies (same features and same target) where the features could take many more combinations
  than there are rows: the same record twice, so the held-out score is optimistic (leakage: drop
  duplicates, or split by group);
- the same features with another target: conflicting labels — no model can tell such rows apart, so
  the best achievable score is capped (counted over all rows, with that cap for a classifier);
- repeats in a small feature space (every column takes few values, and the combinations its values
  fall into are not many more than rows²): different records with the same values, expected by chance.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dlrun.data.feature_data import feature_data
from dlrun.data.preprocess import MISSING_CATEGORY
from dlrun.data.table_stats import SPREAD_ROWS, column_spread
from dlrun.data.table_stream import count_in_sorted

FEW_VALUES_SHARE = 0.05  # a column takes few values: at most this share of the rows (coded answers, not measurements)


def audit_split(features, parts: dict[str, np.ndarray], encoder, target_values: np.ndarray,
                preprocessor=None) -> dict:
    """The audit of a split, its classes read through the first output's target encoder (no classes
    for a regression target): one rule for training and for `dlrun evaluate`. `preprocessor`: the fitted
    FeaturePreprocessor, to say how each column's missing values were handled."""
    codes = None if encoder.task == "regression" else encoder.encode(target_values)
    labels = None if codes is None else [encoder.label(i) for i in range(encoder.n_classes)]
    return audit_data(features, parts, codes, labels, targets=target_values, preprocessor=preprocessor)


def audit_data(features, splits: dict[str, np.ndarray], class_codes: np.ndarray | None,
               labels: list[str] | None, targets: np.ndarray | None = None, preprocessor=None) -> dict:
    """Repeated rows between train and each held-out part, conflicting labels, class balance and missing
    values per part. `targets`: each row's target values (default: `class_codes`); without either, a
    repeated row is taken for a copy.

    Keys: duplicates_shared_with_train (per part: rows whose features a training row has),
    exact_duplicates_shared_with_train (per part: those whose target is the same too; with targets only),
    conflicting_labels (rows, feature_rows, best_accuracy for a classifier; when there are any),
    feature_space (rows, columns, most_values, combinations, repeats_expected; when rows repeat),
    class_balance, missing_values, missing_categories (with a preprocessor), empty_in_train, flags."""
    out: dict = {"duplicates_shared_with_train": {}, "class_balance": {}, "missing_values": {}, "flags": []}
    targets = class_codes if targets is None else targets
    _repeats(features, splits, targets, class_codes, out)
    data = feature_data(features)
    for part, rows in splits.items():
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
    _missing(out, len(splits.get("train", ())), preprocessor)
    return out


# ---- repeated rows ---------------------------------------------------------------------------------

def _repeats(features, splits: dict[str, np.ndarray], targets, class_codes, out: dict) -> None:
    """Rows shared with train per held-out part, exact copies among them, conflicting labels, and
    whether the feature space is small enough to make repeats expected; their flags."""
    keys = feature_data(features).row_keys()
    target_keys = None if targets is None else _value_keys(targets)
    pairs = None if target_keys is None else _value_keys(np.stack([keys, target_keys], axis=1))
    train = splits.get("train", np.zeros(0, dtype=np.int64))
    train_keys = np.sort(keys[train])
    train_pairs = None if pairs is None else np.sort(pairs[train])
    held = {part: rows for part, rows in splits.items() if part != "train" and len(train_keys) and len(rows)}
    exact: dict[str, int] = {}
    for part, rows in held.items():
        out["duplicates_shared_with_train"][part] = count_in_sorted(keys[rows], train_keys)
        exact[part] = out["duplicates_shared_with_train"][part] if pairs is None else \
            count_in_sorted(pairs[rows], train_pairs)
    if pairs is not None and held:
        out["exact_duplicates_shared_with_train"] = exact
    space = None
    if any(out["duplicates_shared_with_train"].values()):
        space = _feature_space(features, len(keys))
        out["feature_space"] = space
    expected = {part: (out["duplicates_shared_with_train"][part], len(rows)) for part, rows in held.items()
                if space is not None and space["repeats_expected"] and out["duplicates_shared_with_train"][part]}
    if expected:
        out["flags"].append(_expected_note(expected, space))
    for part, rows in held.items():
        if part not in expected and exact[part]:
            same = " and target" if pairs is not None else ""
            out["flags"].append(f"leakage: {exact[part]} of {len(rows)} {part} rows also appear in the training rows "
                                f"(identical features{same}) — their scores are optimistic; drop duplicates before "
                                f"splitting (or, with dlrun kfold, keep a record's rows in one fold: split.protocol: "
                                f"group_kfold)")
    if target_keys is not None:
        rows = np.unique(np.concatenate([np.asarray(r, dtype=np.int64) for r in splits.values()]))
        _conflicts(keys[rows], target_keys[rows], class_codes is not None, out)


def _value_keys(values) -> np.ndarray:
    """One hash per row of an array of values (a column of labels or numbers, or rows of several)."""
    array = np.asarray(values)
    frame = pd.DataFrame(array.reshape(len(array), -1) if array.ndim > 1 else {"v": array})
    try:
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:  # unhashable cells (lists): by their text
        return pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()


def _feature_space(features, rows: int) -> dict:
    """How many combinations the feature values fall into, as their spread says: 1 / Π(chance two
    rows agree on a column). Repeats are expected when every column takes few values and that is not
    many more than rows² (even spread evenly, so many rows would meet)."""
    spread = column_spread(features)
    if not spread:
        return {"rows": rows, "columns": None, "repeats_expected": False}
    log_combinations = -sum(math.log10(max(agree, 1e-300)) for _, agree in spread)
    most = max(n for n, _ in spread)
    few = most <= max(1.0, FEW_VALUES_SHARE * min(rows, SPREAD_ROWS))  # the spread is measured on that many rows
    expected = few and log_combinations <= 2 * math.log10(max(rows, 1))
    return {"rows": rows, "columns": len(spread), "most_values": int(most),
            "combinations": float(f"{10 ** min(log_combinations, 300):.3g}"), "repeats_expected": bool(expected)}


def _expected_note(repeated: dict[str, tuple[int, int]], space: dict) -> str:
    """Repeats in a small feature space (`repeated`: per part, rows shared with train and rows): a plain note."""
    counts = " and ".join(f"{shared} of {n} {part} rows" for part, (shared, n) in repeated.items())
    return (f"repeated rows: {counts} have the same feature values as a training row — expected here, not a sign "
            f"of leakage: every column takes few values (at most {space['most_values']}; about "
            f"{space['combinations']:,.0f} combinations as the values are spread, for {space['rows']:,} rows), so "
            f"different records share them")


def _conflicts(keys: np.ndarray, target_keys: np.ndarray, classes: bool, out: dict) -> None:
    """Rows whose identical feature values come with different targets, and the best accuracy any model
    could reach on all the rows (each group of identical features given its commonest target)."""
    table = pd.DataFrame({"f": keys, "t": target_keys})
    per_pair = table.groupby(["f", "t"], sort=False).size()
    targets_per_row = per_pair.groupby(level="f").size()
    torn = targets_per_row[targets_per_row > 1].index
    if not len(torn):
        return
    in_torn = per_pair[per_pair.index.get_level_values("f").isin(torn)]
    rows = int(in_torn.sum())
    found = {"rows": rows, "feature_rows": int(len(torn))}
    said = "their targets differ, so no model can tell them apart"
    if classes:
        best = float(per_pair.groupby(level="f").max().sum() / len(keys))
        found["best_accuracy"] = best
        said += f": the best accuracy any model can reach on these {len(keys)} rows is {best:.1%}"
    else:
        said += ": the error cannot fall below the spread of their targets"
    out["conflicting_labels"] = found
    out["flags"].append(f"conflicting labels: {rows} of {len(keys)} rows share their feature values with a row of "
                        f"another target ({len(torn)} distinct feature rows) — {said} (label noise, or features "
                        f"that do not decide the target)")


# ---- missing values --------------------------------------------------------------------------------

def _missing(out: dict, train_rows: int, preprocessor) -> None:
    """The columns missing on every training row, and the missing cells: in categorical columns (with a
    preprocessor) how each was handled; in the others, data.impute."""
    empty = [c for c, n in out["missing_values"].get("train", {}).items() if train_rows and n == train_rows]
    if empty:
        out["empty_in_train"] = empty
        out["flags"].append(empty_columns_note(empty))
    categories = getattr(preprocessor, "categories", None) or {}
    by_column: dict[str, dict[str, int]] = {}
    for part, counts in out["missing_values"].items():
        for column, n in counts.items():
            by_column.setdefault(column, {})[part] = n
    handled = {c: parts for c, parts in by_column.items() if c in categories}
    if handled:
        out["missing_categories"] = {c: {"rows": parts, "indicator": MISSING_CATEGORY in categories[c]}
                                     for c, parts in handled.items()}
        out["flags"].append(missing_categories_note(out["missing_categories"]))
    total = sum(n for c, parts in by_column.items() if c not in handled for n in parts.values())
    if total:
        out["flags"].append(f"missing values: {total} cell{'s were' if total != 1 else ' was'} missing "
                            f"(data.impute decides how they are filled)")


def missing_categories_note(found: dict[str, dict]) -> str:
    """Which categorical columns miss values, where, and what their rows were given."""
    said = []
    for column, entry in found.items():
        where = ", ".join(f"{n} {part}" for part, n in entry["rows"].items())
        how = f"its own category '{MISSING_CATEGORY}'" if entry["indicator"] else \
            "no category (all zeros): no training row missed it"
        said.append(f"'{column}' ({where} rows): {how}")
    return "missing categories: " + "; ".join(said) + " (see data.missing_category)"


def empty_columns_note(columns: list[str]) -> str:
    """What an all-missing training column means: it is filled with 0 and tells the model nothing."""
    named = ", ".join(f"'{c}'" for c in columns)
    return (f"feature column{'s' if len(columns) > 1 else ''} {named} {'are' if len(columns) > 1 else 'is'} missing "
            f"on every training row: filled with 0, so it carries no information — check the file or leave it "
            f"out of data.features")
