"""train.checkpoint.BestCheckpoint: saves on a strictly better, finite value of its monitor."""

from __future__ import annotations

import math

import pytest

from dlrun.train import checkpoint


@pytest.fixture
def saves(monkeypatch) -> list:
    saved: list = []
    monkeypatch.setattr(checkpoint, "save_model", lambda model, path: saved.append(path))
    return saved


def _feed(callback, values: list[float]) -> list[float]:
    kept = []
    for epoch, value in enumerate(values):
        before = callback.best
        callback.on_epoch_end(epoch, {callback.monitor: value})
        if callback.best != before:
            kept.append(value)
    return kept


def test_auto_mode_keeps_the_lowest_loss_and_ignores_nan(saves, tmp_path):
    callback = checkpoint.BestCheckpoint(tmp_path / "best.keras", "val_loss", "auto")
    assert callback.best == math.inf
    assert _feed(callback, [0.5, float("nan"), 0.6, 0.4, 0.4]) == [0.5, 0.4]
    assert len(saves) == 2


def test_auto_mode_keeps_the_highest_accuracy(saves, tmp_path):
    callback = checkpoint.BestCheckpoint(tmp_path / "best.keras", "val_accuracy", "auto")
    assert _feed(callback, [0.5, 0.7, 0.6, float("inf")]) == [0.5, 0.7]
    assert len(saves) == 2


def test_a_missing_monitor_saves_nothing(saves, tmp_path):
    callback = checkpoint.BestCheckpoint(tmp_path / "best.keras", "val_loss", "min")
    callback.on_epoch_end(0, {"loss": 0.1})
    assert saves == [] and callback.best == math.inf
