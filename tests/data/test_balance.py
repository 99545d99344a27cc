"""data.resample and training.class_weight decided on the training part only (no training here)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from dlrun.data.balance import balanced_weights, resample_rows
from dlrun.data.folds import fold_splits, make_folds
from dlrun.data.prepare import prepare_rows
from dlrun.errors import SpecError
from dlrun.protocols.stages import load_resolved, prepare
from dlrun.spec.load import load_spec
from tests.support import CONFIGS

SPEC = """
seed: 4
data:
  source: csv:imbalanced.csv
  target: fraud
  categorical: [region]
  resample: {resample}
model:
  layers:
    - Dense: {{units: 1, activation: sigmoid}}
training: {{epochs: 1{more}}}
"""


@pytest.fixture
def imbalanced(write_spec, tmp_path):
    """imbalanced(resample="none", more="") -> LoadedSpec of the example's imbalanced CSV."""
    shutil.copy(CONFIGS / "data" / "imbalanced.csv", tmp_path / "imbalanced.csv")

    def spec(resample: str = "none", more: str = "", sets: tuple = ()):
        return load_spec(write_spec(SPEC.format(resample=resample, more=more)), list(sets))

    return spec


def test_resample_rows_brings_every_class_to_the_majority_or_minority_count():
    rows = np.arange(100, 130)
    codes = np.array([0] * 20 + [1] * 7 + [2] * 3)
    over = resample_rows(rows, codes, "oversample", 0)
    under = resample_rows(rows, codes, "undersample", 0)
    assert np.bincount(codes[over - 100]).tolist() == [20, 20, 20]
    assert np.bincount(codes[under - 100]).tolist() == [3, 3, 3]
    assert set(over.tolist()) == set(rows.tolist())          # every real row kept, minority rows repeated
    assert set(under.tolist()) <= set(rows.tolist()) and len(set(under.tolist())) == 9
    np.testing.assert_array_equal(over, resample_rows(rows, codes, "oversample", 0))   # seeded
    assert not np.array_equal(under, resample_rows(rows, codes, "undersample", 1))


def test_balanced_weights_are_scikit_learns():
    weights = balanced_weights(np.array([0] * 90 + [1] * 10))
    assert weights == pytest.approx({0: 100 / 180, 1: 100 / 20})


@pytest.mark.parametrize("how", ["oversample", "undersample"])
def test_resampling_touches_only_the_training_part(imbalanced, how):
    plain, resampled = prepare(imbalanced()), prepare(imbalanced(how))
    for part in ("train", "validation", "test"):   # the split itself is the same
        np.testing.assert_array_equal(getattr(plain.splits, part), getattr(resampled.splits, part))
    np.testing.assert_array_equal(plain.part("test")[1], resampled.part("test")[1])
    # preprocessing statistics: those of the real training rows, with or without resampling
    np.testing.assert_allclose(plain.preprocessor.center, resampled.preprocessor.center)
    codes = resampled.codes("fraud", resampled.fit_rows)
    counts = np.bincount(plain.codes("fraud", plain.splits.train))
    expected = counts.max() if how == "oversample" else counts.min()
    assert np.bincount(codes).tolist() == [expected, expected]
    assert len(resampled.part("train")[1]) == 2 * expected
    assert set(resampled.fit_rows.tolist()) <= set(plain.splits.train.tolist())
    assert resampled.remedy() == {"resample": how, "train_rows": len(plain.splits.train), "fit_rows": 2 * expected}


def test_each_kfold_fold_resamples_its_own_training_part(imbalanced):
    resolved = load_resolved(imbalanced("oversample", sets=("split.protocol=stratified_kfold", "split.folds=3")))
    spec = resolved.spec
    folds = make_folds(np.arange(resolved.dataset.n_rows), spec.split, spec.seed, resolved.labels(), resolved.dataset.groups)
    for fold in folds:
        prepared = prepare_rows(resolved, fold_splits(fold, spec.split, spec.seed, resolved.labels(),
                                                      resolved.dataset.groups))
        held_out = set(prepared.splits.validation.tolist()) | set(prepared.splits.test.tolist())
        assert not held_out & set(prepared.fit_rows.tolist())
        counts = np.bincount(prepared.codes("fraud", prepared.fit_rows))
        assert counts[0] == counts[1] == np.bincount(prepared.codes("fraud", prepared.splits.train)).max()


def test_balanced_class_weight_comes_from_the_training_rows(imbalanced):
    prepared = prepare(imbalanced(more=", class_weight: balanced"))
    codes = prepared.codes("fraud", prepared.splits.train)
    assert prepared.class_weight == pytest.approx(balanced_weights(codes))
    assert prepared.class_weight[1] > 5 * prepared.class_weight[0]
    assert prepared.remedy()["class_weight"] == pytest.approx({"0": prepared.class_weight[0],
                                                                "1": prepared.class_weight[1]}, rel=1e-5)


def test_class_weight_by_label(imbalanced):
    assert prepare(imbalanced(more=", class_weight: {1: 8}")).class_weight == {0: 1.0, 1: 8.0}


def test_a_class_weight_label_that_is_not_a_class_is_a_located_error(imbalanced):
    with pytest.raises(SpecError) as caught:
        prepare(imbalanced(more=", class_weight: {1: 8, fraudulent: 3}"))
    message = str(caught.value)
    assert "spec.yaml:" in message and "training.class_weight.fraudulent" in message
    assert "'fraudulent' is not a class of target 'fraud'" in message and "classes: 0, 1" in message


def test_class_weight_and_resample_are_refused_for_regression_when_validating(write_spec):
    path = write_spec("""
        data: {source: "sklearn:diabetes", task: regression, resample: oversample}
        model:
          layers:
            - Dense: {units: 1}
        training: {class_weight: balanced}
    """)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert "training.class_weight: class weights need classes" in message
    assert "data.resample: resampling balances classes" in message


def test_class_weight_is_refused_for_an_inferred_regression_target(write_spec):
    path = write_spec("""
        data: {source: "sklearn:diabetes"}
        model:
          layers:
            - Dense: {units: 1}
        training: {class_weight: balanced}
    """)
    with pytest.raises(SpecError, match="target 'target' is a regression target"):
        prepare(load_spec(path))
