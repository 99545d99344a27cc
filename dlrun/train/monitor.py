"""Which epoch is best: the one rule that train, k-fold and the final model share.

The quantity and its direction come from the spec (`CallbacksSpec.best_epoch_rule`: early
stopping's monitor, else the checkpoint's, else the loss); this module picks the epoch, by
`dlrun.spec.monitor.Direction`, the one rule of which way is better.
"""

from __future__ import annotations

from dlrun.spec.monitor import Direction


def best_epoch(history: list[dict], monitor: str, mode: str) -> int | None:
    """The epoch whose finite `monitor` value is lowest (mode min) or highest (max); ties go to the first.

    Example:
        >>> best_epoch([{"epoch": 1, "val_loss": 0.5}, {"epoch": 2, "val_loss": 0.4}], "val_loss", "min")
        2
    """
    best = Direction.of(monitor, mode).first_best(history, lambda row: row.get(monitor))
    return None if best is None else best["epoch"]


def chosen_epochs(curves: list[dict], monitor: str, mode: str, n_folds: int, default: int) -> int:
    """The epoch the averaged `monitor` curve is best at, among epochs every fold reached
    (`default` when no such epoch has the monitor)."""
    complete = [row for row in curves if row.get("folds") == n_folds]
    found = best_epoch(complete, monitor, mode)
    return default if found is None else int(found)
