"""train.monitor: the best epoch of a history, and chosen_epochs, the epoch count a final model
trains for, read off the curves averaged across folds (report.cv_summary.average_curves builds them here)."""

from __future__ import annotations

from dlrun.report.cv_summary import average_curves
from dlrun.train.monitor import best_epoch, chosen_epochs


def _history(losses, maes):
    return [{"epoch": i + 1, "loss": loss, "val_mae": mae} for i, (loss, mae) in enumerate(zip(losses, maes))]


def test_chosen_epochs_is_the_best_epoch_of_the_averaged_curve():
    curves = average_curves([_history([4, 3, 2, 1], [40, 20, 30, 35]), _history([4, 3, 2, 1], [30, 30, 20, 30])])
    # averaged val_mae: 35, 25, 25, 32.5 -> the first minimum; averaged loss: 4, 3, 2, 1
    assert chosen_epochs(curves, "val_mae", "min", 2, default=99) == 2
    assert chosen_epochs(curves, "loss", "min", 2, default=99) == 4
    assert chosen_epochs(curves, "val_mae", "max", 2, default=99) == 1


def test_chosen_epochs_only_considers_epochs_every_fold_reached():
    short = _history([5, 4], [50, 40])
    long = _history([5, 4, 1, 0.1], [50, 40, 1, 0.1])  # looks best late, but only one fold got there
    curves = average_curves([short, long])
    assert chosen_epochs(curves, "val_mae", "min", 2, default=99) == 2


def test_chosen_epochs_falls_back_to_the_default():
    curves = average_curves([_history([1, 2], [3, 4])])
    assert chosen_epochs(curves, "val_accuracy", "max", 1, default=17) == 17  # the monitor was never recorded
    assert chosen_epochs(curves, "val_mae", "min", 3, default=17) == 17       # no epoch reached by all 3 folds
    assert chosen_epochs([], "val_mae", "min", 3, default=17) == 17


def test_best_epoch_skips_non_finite_values_and_keeps_the_first_of_ties():
    history = [{"epoch": 1, "val_loss": float("nan")}, {"epoch": 2, "val_loss": 0.3}, {"epoch": 3, "val_loss": 0.3},
               {"epoch": 4}, {"epoch": 5, "val_loss": float("-inf")}]
    assert best_epoch(history, "val_loss", "min") == 2
    assert best_epoch(history[:1], "val_loss", "min") is None


def test_best_epoch_auto_mode_reads_the_direction_from_the_name():
    history = [{"epoch": 1, "val_accuracy": 0.7, "val_loss": 0.4}, {"epoch": 2, "val_accuracy": 0.8, "val_loss": 0.5}]
    assert best_epoch(history, "val_accuracy", "auto") == 2
    assert best_epoch(history, "val_loss", "auto") == 1
