"""spec.monitor.Direction: the one rule of which way a monitored quantity is better."""

from __future__ import annotations

import math

import pytest

from dlrun.spec.models import resolve_mode
from dlrun.spec.monitor import Direction

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("monitor", ["val_accuracy", "binary_accuracy", "val_auc", "precision", "recall", "f1_score",
                                     "val_r2"])
def test_auto_reads_accuracy_like_names_as_max(monitor):
    assert Direction.of(monitor).mode == "max"


@pytest.mark.parametrize("monitor", ["loss", "val_loss", "val_mae", "mse", "val_rmse"])
def test_auto_reads_loss_like_names_as_min(monitor):
    assert Direction.of(monitor, "auto").mode == "min"


def test_an_explicit_mode_wins_over_the_name():
    assert Direction.of("val_accuracy", "min").mode == "min"
    assert Direction.of("val_loss", "max").mode == "max"


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="'min' or 'max'"):
        Direction.of("val_loss", "up")


def test_resolve_mode_is_the_same_rule():
    for monitor in ("val_accuracy", "val_loss"):
        for mode in ("auto", "min", "max"):
            assert resolve_mode(monitor, mode) == Direction.of(monitor, mode).mode


def test_optuna_names_round_trip():
    for mode in ("min", "max"):
        direction = Direction(mode)
        assert Direction.from_optuna(direction.optuna) == direction
    assert Direction("max").optuna == "maximize" and Direction("min").optuna == "minimize"
    assert Direction("max").maximize and not Direction("min").maximize


def test_from_optuna_takes_a_study_direction_enum():
    class StudyDirection:  # optuna.study.StudyDirection.MAXIMIZE, as far as `name` goes
        name = "MAXIMIZE"

    assert Direction.from_optuna(StudyDirection()).mode == "max"
    with pytest.raises(ValueError):
        Direction.from_optuna("NOT_SET")


def test_from_record_reads_best_json_and_is_min_without_one():
    assert Direction.from_record({"objective": {"metric": "val_accuracy", "direction": "maximize"}}).maximize
    assert Direction.from_record({"objective": {"metric": "val_loss", "direction": "minimize"}}).mode == "min"
    assert Direction.from_record(None).mode == "min"


def test_better_is_strict_and_never_for_a_non_finite_value():
    low, high = Direction("min"), Direction("max")
    assert low.better(0.1, 0.2) and not low.better(0.2, 0.2)
    assert high.better(0.3, 0.2) and not high.better(0.2, 0.2)
    assert not low.better(NAN, 0.2) and not high.better(INF, 0.2)


def test_every_finite_value_improves_on_worst():
    for direction in (Direction("min"), Direction("max")):
        assert direction.better(1e300, direction.worst) and direction.better(-1e300, direction.worst)
    assert Direction("min").worst == math.inf and Direction("max").worst == -math.inf


def test_best_counts_finite_values_only_and_is_none_without_any():
    assert Direction("min").best([0.5, NAN, None, -INF, 0.3]) == 0.3
    assert Direction("max").best([0.5, INF, 0.7]) == 0.7
    assert Direction("max").best([NAN, None]) is None
    assert Direction("min").best([]) is None


def test_ranked_puts_the_best_first_keeps_ties_in_order_and_drops_non_finite():
    rows = [{"n": 1, "v": 0.2}, {"n": 2, "v": 0.1}, {"n": 3, "v": 0.2}, {"n": 4, "v": NAN}]
    assert [r["n"] for r in Direction("min").ranked(rows, lambda r: r["v"])] == [2, 1, 3]
    assert [r["n"] for r in Direction("max").ranked(rows, lambda r: r["v"])] == [1, 3, 2]


def test_first_best_is_the_earliest_of_equal_bests():
    rows = [{"epoch": 1, "acc": 0.9}, {"epoch": 2, "acc": 0.9}, {"epoch": 3, "acc": 0.8}]
    assert Direction.of("acc").first_best(rows, lambda r: r["acc"])["epoch"] == 1
    assert Direction.of("acc").first_best([], lambda r: r["acc"]) is None


def test_sort_key_sorts_the_best_first():
    assert sorted([0.1, 0.3, 0.2], key=Direction("max").sort_key) == [0.3, 0.2, 0.1]
    assert sorted([0.1, 0.3, 0.2], key=Direction("min").sort_key) == [0.1, 0.2, 0.3]


def test_the_spec_layer_owner_imports_no_keras_or_tensorflow():
    import ast
    from pathlib import Path

    import dlrun.spec.monitor as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"keras", "tensorflow", "numpy"}
