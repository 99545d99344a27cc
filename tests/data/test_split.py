"""holdout_split: which rows train, validate and test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlrun.data.split import Splits, holdout_split
from dlrun.errors import DataError
from dlrun.spec.models import SplitSpec


def split(n, seed=0, labels=None, source_test=None, **fields) -> Splits:
    return holdout_split(n, SplitSpec(**fields), seed, labels, source_test)


def assert_partition(s: Splits, n: int) -> None:
    parts = [s.train, s.validation, s.test]
    together = np.concatenate(parts)
    assert len(together) == len(set(together.tolist())), "a row is in two parts"
    assert sorted(together.tolist()) == list(range(n)), "the parts do not cover every row"


@pytest.mark.parametrize("n", [5, 17, 100, 1001])
@pytest.mark.parametrize("shuffle", [True, False])
def test_parts_are_disjoint_and_cover_all_rows(n, shuffle):
    assert_partition(split(n, shuffle=shuffle), n)


@pytest.mark.parametrize("n, test, validation, sizes", [
    (100, 0.2, 0.2, (60, 20, 20)),
    (100, 0.1, 0.3, (60, 30, 10)),
    (50, 0.2, 0.0, (40, 0, 10)),
    (50, 0.0, 0.2, (40, 10, 0)),
    (1000, 0.15, 0.05, (800, 50, 150)),
])
def test_sizes_follow_the_fractions_of_all_rows(n, test, validation, sizes):
    s = split(n, test=test, validation=validation)
    assert (len(s.train), len(s.validation), len(s.test)) == sizes
    assert_partition(s, n)


def test_a_small_positive_fraction_still_takes_one_row():
    s = split(4, test=0.05, validation=0.05)
    assert s.sizes() == {"train": 2, "validation": 1, "test": 1}


def test_stratified_parts_keep_class_proportions_within_one_row():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    np.random.default_rng(3).shuffle(labels)
    s = split(100, seed=7, labels=labels, test=0.2, validation=0.2)
    assert_partition(s, 100)
    for part in (s.train, s.validation, s.test):
        counts = np.bincount(labels[part], minlength=3)
        expected = np.array([0.5, 0.3, 0.2]) * len(part)
        assert np.all(np.abs(counts - expected) <= 1), (len(part), counts, expected)


def test_stratified_split_keeps_a_rare_class_in_every_part():
    labels = np.array([1] * 10 + [0] * 90)
    s = split(100, seed=1, labels=labels, test=0.2, validation=0.2)
    for part in (s.train, s.validation, s.test):
        assert 1 in labels[part]


def test_stratifying_a_class_with_too_few_rows_is_a_data_error():
    labels = np.array([0] * 9 + [1])
    with pytest.raises(DataError, match="stratify"):
        split(10, labels=labels)


def test_same_seed_gives_the_same_split():
    a, b = split(200, seed=5), split(200, seed=5)
    assert a.to_json() == b.to_json()


def test_different_seed_gives_a_different_split():
    a, b = split(200, seed=5), split(200, seed=6)
    assert a.to_json()["test"] != b.to_json()["test"]
    assert a.to_json()["validation"] != b.to_json()["validation"]


def test_shuffled_split_is_not_the_row_order():
    s = split(100, seed=0)
    assert s.test.tolist() != list(range(80, 100))


def test_no_shuffle_keeps_order_with_the_last_rows_as_test():
    s = split(10, shuffle=False, test=0.2, validation=0.3)
    assert s.train.tolist() == [0, 1, 2, 3, 4]
    assert s.validation.tolist() == [5, 6, 7]
    assert s.test.tolist() == [8, 9]


def test_no_shuffle_ignores_labels_and_seed():
    labels = np.array([0, 1] * 10)
    assert split(20, seed=1, labels=labels, shuffle=False).to_json() == split(20, seed=2, shuffle=False).to_json()


def test_source_test_part_is_the_test_set_when_use_source_test():
    source_test = np.arange(80, 100)
    s = split(100, source_test=source_test, test=0.5, validation=0.2)
    assert s.test.tolist() == list(range(80, 100))
    assert len(s.validation) == 20
    assert_partition(s, 100)
    assert not set(s.validation.tolist()) & set(range(80, 100))


def test_source_test_part_is_ignored_without_use_source_test():
    source_test = np.arange(80, 100)
    s = split(100, seed=3, source_test=source_test, use_source_test=False, test=0.1, validation=0.2)
    assert len(s.test) == 10
    assert s.test.tolist() != list(range(90, 100))
    assert_partition(s, 100)


def test_source_test_rows_need_not_be_the_last():
    source_test = np.array([7, 2, 5])
    s = split(10, source_test=source_test, validation=0.2)
    assert s.test.tolist() == [2, 5, 7]
    assert_partition(s, 10)


def test_empty_source_test_falls_back_to_the_fraction():
    s = split(10, source_test=np.array([], dtype=np.int64), test=0.2, validation=0.2)
    assert len(s.test) == 2


@pytest.mark.parametrize("n, shuffle", [(1, False), (2, True), (2, False)])
def test_too_few_rows_is_a_data_error(n, shuffle):
    with pytest.raises(DataError, match="too few|no rows"):
        split(n, shuffle=shuffle)


def test_three_rows_still_split_one_each():
    assert split(3).sizes() == {"train": 1, "validation": 1, "test": 1}


def test_validation_taking_every_remaining_row_is_a_data_error():
    with pytest.raises(DataError, match="no rows are left to train on"):
        split(10, source_test=np.arange(2, 10), validation=0.2)


def test_too_few_rows_without_labels_does_not_blame_stratification():
    with pytest.raises(DataError) as err:
        split(1, shuffle=True, labels=None)
    assert "stratify" not in str(err.value)


def test_splits_json_round_trip():
    s = split(30, seed=2)
    back = Splits.from_json(json.loads(json.dumps(s.to_json())))
    assert back.to_json() == s.to_json()
    assert back.sizes() == s.sizes()
