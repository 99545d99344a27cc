"""make_folds: the cross-validation protocols on small index sets (no data loading, no training)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from dlrun.data.folds import make_folds
from dlrun.errors import DataError
from dlrun.spec.models import SplitSpec

N = 30
ROWS = np.arange(N)
LABELS = np.array([0] * 15 + [1] * 10 + [2] * 5)          # per dataset row: 50% / 33% / 17%
GROUPS = np.repeat(np.array([f"g{i}" for i in range(10)]), 3)  # 10 groups of 3 rows


def folds_of(protocol: str, seed: int = 0, rows=ROWS, labels=LABELS, groups=GROUPS, **split):
    spec = SplitSpec(protocol=protocol, folds=split.pop("folds", 5),
                     group=split.pop("group", "g" if protocol == "group_kfold" else None), **split)
    return make_folds(rows, spec, seed, labels, groups if protocol == "group_kfold" else None)


def by_repeat(folds):
    out: dict[int, list] = {}
    for fold in folds:
        out.setdefault(fold.repeat, []).append(fold)
    return out


ALL = ["kfold", "stratified_kfold", "repeated_kfold", "group_kfold", "time_series"]
COVERING = ["kfold", "stratified_kfold", "repeated_kfold", "group_kfold"]


# ---- partitions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ALL)
def test_held_out_parts_are_disjoint_within_a_repeat(protocol):
    folds = folds_of(protocol, repeats=2) if protocol == "repeated_kfold" else folds_of(protocol)
    for repeat, group in by_repeat(folds).items():
        seen: set[int] = set()
        for fold in group:
            held = set(fold.held_out.tolist())
            assert len(held) == len(fold.held_out), "a row is held out twice in one fold"
            assert not held & seen, f"repeat {repeat}: fold {fold.number} re-tests rows {sorted(held & seen)}"
            seen |= held


@pytest.mark.parametrize("protocol", COVERING)
def test_held_out_parts_cover_every_row_exactly_once_per_repeat(protocol):
    folds = folds_of(protocol, repeats=3) if protocol == "repeated_kfold" else folds_of(protocol)
    repeats = by_repeat(folds)
    assert len(repeats) == (3 if protocol == "repeated_kfold" else 1)
    for group in repeats.values():
        every = np.concatenate([f.held_out for f in group])
        assert sorted(every.tolist()) == ROWS.tolist()


@pytest.mark.parametrize("protocol", ALL)
def test_train_and_held_out_of_a_fold_are_disjoint(protocol):
    for fold in folds_of(protocol):
        assert not set(fold.train.tolist()) & set(fold.held_out.tolist())
        assert len(fold.train) > 0 and len(fold.held_out) > 0


@pytest.mark.parametrize("protocol", COVERING)
def test_train_is_every_other_row_for_covering_protocols(protocol):
    for fold in folds_of(protocol):
        assert sorted(np.concatenate([fold.train, fold.held_out]).tolist()) == ROWS.tolist()


def test_fold_numbers_are_one_based_and_named_with_two_digits():
    folds = folds_of("kfold", folds=3)
    assert [f.number for f in folds] == [1, 2, 3]
    assert [f.name for f in folds] == ["01", "02", "03"]
    assert {f.repeat for f in folds} == {1}


def test_folds_are_subsets_of_the_given_rows_not_positions():
    rows = np.arange(100, 130)  # dataset row numbers, e.g. after a final-model test part was removed
    labels = np.zeros(130, dtype=int)
    labels[::3] = 1
    for protocol in ("kfold", "stratified_kfold", "time_series"):
        for fold in folds_of(protocol, rows=rows, labels=labels):
            assert set(fold.train.tolist()) | set(fold.held_out.tolist()) <= set(rows.tolist())


# ---- repeated k-fold ----------------------------------------------------------------------------

def test_repeated_kfold_gives_folds_times_repeats_folds():
    folds = folds_of("repeated_kfold", folds=5, repeats=3)
    assert len(folds) == 15
    assert [f.number for f in folds] == list(range(1, 16))
    assert [f.repeat for f in folds] == [1] * 5 + [2] * 5 + [3] * 5


@pytest.mark.parametrize("labels", [LABELS, None], ids=["stratified", "plain"])
def test_repeated_kfold_reshuffles_each_repeat(labels):
    folds = folds_of("repeated_kfold", labels=labels, folds=5, repeats=3)
    partitions = []
    for group in by_repeat(folds).values():
        partitions.append(frozenset(frozenset(f.held_out.tolist()) for f in group))
    assert len(set(partitions)) == 3, "two repeats used the same shuffle"


def test_repeated_kfold_without_stratify_ignores_labels():
    folds = folds_of("repeated_kfold", folds=5, repeats=1, stratify=False)
    plain = folds_of("repeated_kfold", labels=None, folds=5, repeats=1)
    assert [f.held_out.tolist() for f in folds] == [f.held_out.tolist() for f in plain]


# ---- group k-fold -------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_kfold_never_puts_one_group_on_both_sides(seed):
    for fold in folds_of("group_kfold", seed=seed, folds=4):
        train_groups = set(GROUPS[fold.train])
        held_groups = set(GROUPS[fold.held_out])
        assert not train_groups & held_groups, f"fold {fold.number}: {sorted(train_groups & held_groups)}"


def test_group_kfold_with_uneven_groups_keeps_groups_whole():
    groups = np.array(["a"] * 7 + ["b"] * 2 + ["c"] * 5 + ["d"] * 1 + ["e"] * 9 + ["f"] * 6)
    for fold in folds_of("group_kfold", groups=groups, folds=3):
        assert not set(groups[fold.train]) & set(groups[fold.held_out])
    every = np.concatenate([f.held_out for f in folds_of("group_kfold", groups=groups, folds=3)])
    assert sorted(every.tolist()) == ROWS.tolist()


# ---- time series --------------------------------------------------------------------------------

def test_time_series_never_trains_on_rows_later_than_held_out():
    for fold in folds_of("time_series", folds=4):
        assert fold.train.max() < fold.held_out.min()


def test_time_series_windows_expand_and_held_out_moves_forward():
    folds = folds_of("time_series", folds=4)
    sizes = [len(f.train) for f in folds]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), sizes
    for before, after in zip(folds, folds[1:]):
        assert set(before.train.tolist()) < set(after.train.tolist())  # each window contains the previous one
        assert before.held_out.max() < after.held_out.min()
    assert all(f.train.min() == 0 for f in folds)  # expanding, not sliding
    assert folds[-1].held_out.max() == N - 1


def test_time_series_ignores_the_seed():
    assert ([f.held_out.tolist() for f in folds_of("time_series", seed=1)]
            == [f.held_out.tolist() for f in folds_of("time_series", seed=99)])


# ---- stratification ------------------------------------------------------------------------------

def test_stratified_folds_keep_class_proportions():
    for fold in folds_of("stratified_kfold", folds=5):
        counts = Counter(LABELS[fold.held_out].tolist())
        assert counts == {0: 3, 1: 2, 2: 1}, counts  # exactly 15/5, 10/5, 5/5
        train_counts = Counter(LABELS[fold.train].tolist())
        assert train_counts == {0: 12, 1: 8, 2: 4}


def test_stratified_folds_with_uneven_sizes_stay_within_one_row_of_proportion():
    labels = np.array([0] * 23 + [1] * 7)
    for fold in folds_of("stratified_kfold", labels=labels, folds=4):
        n = len(fold.held_out)
        ones = int(labels[fold.held_out].sum())
        assert abs(ones - n * 7 / 30) <= 1


def test_plain_kfold_is_not_stratified_by_accident():
    # with sorted labels and no shuffle, plain k-fold puts whole classes into single folds
    folds = folds_of("kfold", folds=5, shuffle=False)
    assert set(LABELS[folds[0].held_out].tolist()) == {0}
    assert folds[0].held_out.tolist() == list(range(6))


# ---- seeds ----------------------------------------------------------------------------------------

SEEDED = ["kfold", "stratified_kfold", "repeated_kfold", "group_kfold"]


@pytest.mark.parametrize("protocol", SEEDED)
def test_same_seed_gives_the_same_folds(protocol):
    first = folds_of(protocol, seed=7)
    second = folds_of(protocol, seed=7)
    assert [(f.train.tolist(), f.held_out.tolist()) for f in first] == \
           [(f.train.tolist(), f.held_out.tolist()) for f in second]


@pytest.mark.parametrize("protocol", SEEDED)
def test_another_seed_gives_different_folds(protocol):
    first = folds_of(protocol, seed=7)
    second = folds_of(protocol, seed=8)
    assert [f.held_out.tolist() for f in first] != [f.held_out.tolist() for f in second]


def test_kfold_without_shuffle_keeps_row_order_and_ignores_the_seed():
    a = folds_of("kfold", seed=1, shuffle=False)
    b = folds_of("kfold", seed=2, shuffle=False)
    assert [f.held_out.tolist() for f in a] == [f.held_out.tolist() for f in b]
    assert [f.held_out.tolist() for f in a] == [list(range(i, i + 6)) for i in range(0, 30, 6)]


# ---- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["kfold", "stratified_kfold", "repeated_kfold"])
def test_too_few_rows_for_the_folds_is_a_data_error(protocol):
    rows = np.arange(4)
    labels = np.zeros(4, dtype=int)
    with pytest.raises(DataError, match=r"4 rows are too few for 5 folds; lower split.folds"):
        folds_of(protocol, rows=rows, labels=labels, folds=5)


def test_time_series_needs_one_row_more_than_folds():
    with pytest.raises(DataError, match=r"5 rows are too few for 5 folds"):
        folds_of("time_series", rows=np.arange(5), folds=5)
    assert len(folds_of("time_series", rows=np.arange(6), folds=5)) == 5


@pytest.mark.parametrize("protocol", ["stratified_kfold", "repeated_kfold"])
def test_a_class_rarer_than_the_folds_is_a_data_error(protocol):
    labels = np.array([0] * 26 + [1] * 4)
    with pytest.raises(DataError) as caught:
        folds_of(protocol, labels=labels, folds=5)
    message = str(caught.value)
    assert "rarest class has 4 rows" in message and "5 folds" in message and "split.folds" in message


def test_a_class_rarer_than_the_folds_is_fine_for_plain_kfold():
    labels = np.array([0] * 26 + [1] * 4)
    assert len(folds_of("kfold", labels=labels, folds=5)) == 5
    assert len(folds_of("repeated_kfold", labels=labels, folds=5, stratify=False)) == 5


def test_fewer_groups_than_folds_is_a_data_error():
    groups = np.repeat(np.array(["a", "b", "c"]), 10)
    with pytest.raises(DataError) as caught:
        folds_of("group_kfold", groups=groups, folds=4, group="site")
    message = str(caught.value)
    assert "'site'" in message and "3 distinct groups" in message and "4 folds" in message


def test_group_kfold_without_group_values_is_a_data_error():
    with pytest.raises(DataError, match="split.group"):
        make_folds(ROWS, SplitSpec(protocol="group_kfold", folds=3, group="site"), 0, None, None)


def test_stratified_kfold_on_a_regression_target_is_a_data_error():
    with pytest.raises(DataError) as caught:
        folds_of("stratified_kfold", labels=None)
    message = str(caught.value)
    assert "stratified_kfold" in message and "classification" in message and "kfold" in message
