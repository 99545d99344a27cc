"""Training options that act during `fit`: learning-rate schedules, callbacks and the device choice,
each on a real, tiny digits run."""

from __future__ import annotations

import pytest

from dlrun.errors import UserError
from tests.support import TINY_DIGITS

WITHOUT_EARLY_STOPPING = TINY_DIGITS.replace("callbacks:\n  early_stopping: {monitor: val_loss, patience: 3}\n",
                                             "callbacks:\n")


def test_gpu_requested_without_gpu_is_a_clear_error(trained_run, runs_dir):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(UserError, match="no GPU"):
        trained_run(TINY_DIGITS, "training.device=gpu", runs_dir=runs_dir)


@pytest.mark.slow  # 3 epochs per schedule
@pytest.mark.parametrize("schedule", ["{type: exponential, decay_rate: 0.5}", "{type: step, drop: 0.5, epochs_drop: 1}",
                                      "{type: time_based, decay: 1.0}", "{type: cosine, warmup_epochs: 1}"])
def test_learning_rate_schedule_is_applied_per_epoch(trained_run, schedule):
    spec = WITHOUT_EARLY_STOPPING + f"optimizer: {{name: sgd, learning_rate: 0.1, schedule: {schedule}}}\n"
    result = trained_run(spec, "training.epochs=3")
    rates = [row["learning_rate"] for row in result.history]
    assert len(set(round(r, 8) for r in rates)) > 1  # the rate changed between epochs


@pytest.mark.slow  # 3 epochs
def test_tensorboard_and_reduce_lr_callbacks_run(trained_run):
    # mode max on a falling val_loss: no epoch "improves", so the rate halves after every epoch
    spec = TINY_DIGITS.replace("  model_checkpoint: {monitor: val_accuracy}\n",
                               "  tensorboard: true\n  reduce_lr_on_plateau: {monitor: val_loss, patience: 0, "
                               "factor: 0.5, mode: max}\n")
    result = trained_run(spec, "training.epochs=3")
    assert any((result.run.path / "tensorboard").rglob("*.tfevents*"))
    rates = [row["learning_rate"] for row in result.history]
    assert rates[-1] < rates[0] and rates == sorted(rates, reverse=True)
