"""The per-epoch history file: every epoch for a resumable run, throttled (and complete at the end) for a fold."""

from __future__ import annotations

from dlrun.runs.artifacts import read_history
from dlrun.train.callbacks import HistoryWriter


def _epoch(writer: HistoryWriter, epoch: int) -> None:
    writer.on_epoch_begin(epoch)
    writer.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "learning_rate": 0.01})


def test_every_epoch_is_written_at_once_by_default(tmp_path):
    writer = HistoryWriter(tmp_path)
    for epoch in range(3):
        _epoch(writer, epoch)
        assert [row["epoch"] for row in read_history(tmp_path)] == list(range(1, epoch + 2))


def test_a_throttled_writer_skips_epochs_between_writes_and_writes_all_at_the_end(tmp_path):
    writer = HistoryWriter(tmp_path, every_seconds=3600.0)
    _epoch(writer, 0)
    assert [row["epoch"] for row in read_history(tmp_path)] == [1]  # the first epoch is written at once
    _epoch(writer, 1)
    _epoch(writer, 2)
    assert [row["epoch"] for row in read_history(tmp_path)] == [1]
    writer.on_train_end()
    rows = read_history(tmp_path)
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert rows[2]["loss"] == 1.0 / 3
