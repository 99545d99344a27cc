"""The duplicate audit that fits the data: exact copies in a large feature space are leakage; repeats
among coded answers (few values per column) are expected and get a plain note, no 'drop' advice;
identical features with different targets are conflicting labels that cap the best score; missing
categorical values are named with how they were handled."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlrun.data.preprocess import FeaturePreprocessor
from dlrun.report.analysis import audit_data, audit_split
from dlrun.spec.models import DataSpec


def survey(n: int = 6366, seed: int = 0):
    """Coded answers of different people: ten columns of at most five codes, correlated through one
    attitude, and a target they decide (mostly)."""
    rng = np.random.default_rng(seed)
    attitude = rng.integers(0, 5, n)
    columns = {f"q{i}": np.clip(attitude + rng.integers(-1, 2, n), 1, 5) for i in range(8)}
    columns["year"] = rng.choice([2018, 2019, 2020, 2021], n)
    columns["region"] = rng.choice(["n", "s", "e", "w"], n)
    target = (attitude + rng.integers(0, 2, n) > 2).astype(int)
    order = rng.permutation(n)
    test = n // 5
    return pd.DataFrame(columns), target, {"train": np.sort(order[test:]), "test": np.sort(order[:test])}


def measurements_with_copies(seed: int = 1):
    """Continuous measurements where 300 records were written twice, target and all."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(2000, 5)), columns=list("abcde"))
    y = rng.integers(0, 2, 2000)
    x = pd.concat([x, x.iloc[:300]], ignore_index=True)
    y = np.concatenate([y, y[:300]])
    order = rng.permutation(len(x))
    return x, y, {"train": np.sort(order[:1800]), "test": np.sort(order[1800:])}


def test_repeats_among_coded_answers_are_expected_not_leakage():
    features, target, splits = survey()
    audit = audit_data(features, splits, target, ["no", "yes"], targets=target)
    shared = audit["duplicates_shared_with_train"]["test"]
    assert shared > 100  # many people answered alike
    assert audit["feature_space"]["repeats_expected"] is True
    assert audit["feature_space"]["most_values"] == 5 and audit["feature_space"]["columns"] == 10
    assert not any(f.startswith("leakage") or "drop duplicates" in f for f in audit["flags"])
    (note,) = [f for f in audit["flags"] if f.startswith("repeated rows:")]
    assert f"{shared} of {len(splits['test'])} test rows" in note and "not a sign of leakage" in note
    assert "drop" not in note


def test_exact_copies_of_continuous_records_are_leakage():
    features, target, splits = measurements_with_copies()
    audit = audit_data(features, splits, target, ["a", "b"], targets=target)
    shared = audit["duplicates_shared_with_train"]["test"]
    assert shared > 0 and audit["exact_duplicates_shared_with_train"]["test"] == shared
    assert audit["feature_space"]["repeats_expected"] is False
    (flag,) = [f for f in audit["flags"] if f.startswith("leakage:")]
    assert flag.startswith(f"leakage: {shared} of 500 test rows also appear in the training rows "
                           f"(identical features and target)")
    assert "drop duplicates before splitting" in flag
    assert "conflicting_labels" not in audit


def test_the_same_features_with_another_target_are_conflicting_labels_not_leakage():
    features, target, splits = measurements_with_copies()
    target = target.copy()
    target[2000:] = 1 - target[:300]  # the copies now disagree with their originals
    audit = audit_data(features, splits, target, ["a", "b"], targets=target)
    assert audit["exact_duplicates_shared_with_train"]["test"] == 0
    assert not any(f.startswith("leakage") for f in audit["flags"])
    conflict = audit["conflicting_labels"]
    assert conflict == {"rows": 600, "feature_rows": 300, "best_accuracy": (2300 - 300) / 2300}
    (flag,) = [f for f in audit["flags"] if f.startswith("conflicting labels:")]
    assert "600 of 2300 rows" in flag and "best accuracy any model can reach on these 2300 rows is 87.0%" in flag


def test_conflicting_regression_targets_say_the_error_has_a_floor():
    features = pd.DataFrame({"a": [1.5, 1.5, 2.25, 3.125]})
    values = np.array([10.0, 12.0, 5.0, 7.0])
    encoder = type("Encoder", (), {"task": "regression"})()
    audit = audit_split(features, {"train": np.array([0, 2, 3]), "test": np.array([1])}, encoder, values)
    assert audit["conflicting_labels"] == {"rows": 2, "feature_rows": 1}
    assert audit["duplicates_shared_with_train"] == {"test": 1}
    assert audit["exact_duplicates_shared_with_train"] == {"test": 0}
    assert any("cannot fall below the spread of their targets" in f for f in audit["flags"])
    assert not any(f.startswith("leakage") for f in audit["flags"])


def test_without_targets_a_repeated_row_is_taken_for_a_copy():
    features, _, splits = measurements_with_copies()
    audit = audit_data(features, splits, None, None)
    assert "exact_duplicates_shared_with_train" not in audit and "conflicting_labels" not in audit
    assert any(f.startswith("leakage:") and "(identical features)" in f for f in audit["flags"])


def test_the_audit_names_missing_categories_and_how_they_were_handled():
    features = pd.DataFrame({"colour": ["red", None, "blue", "red", None, "blue"],
                             "shape": ["o", "x", "o", "x", "o", None],
                             "w": [1.0, np.nan, 3.0, 4.0, 5.0, 6.5]})
    splits = {"train": np.arange(4), "test": np.array([4, 5])}
    spec = DataSpec(source="csv:x.csv", target="y", categorical=["colour", "shape"])
    pre = FeaturePreprocessor.fit(features.iloc[:4], spec)
    audit = audit_data(features, splits, None, None, preprocessor=pre)
    assert audit["missing_categories"] == {"colour": {"rows": {"train": 1, "test": 1}, "indicator": True},
                                           "shape": {"rows": {"test": 1}, "indicator": False}}
    (note,) = [f for f in audit["flags"] if f.startswith("missing categories:")]
    assert "'colour' (1 train, 1 test rows): its own category '<missing>'" in note
    assert "'shape' (1 test rows): no category (all zeros)" in note
    assert "missing values: 1 cell was missing (data.impute decides how they are filled)" in audit["flags"]
