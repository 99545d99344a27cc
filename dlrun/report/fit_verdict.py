"""The fit verdict: one plain-words diagnosis of a history, with its reasons."""

from __future__ import annotations

OVERFIT_RISE = 0.10      # validation loss this far above its minimum at the end → overfitting
LARGE_GAP = 0.25         # validation loss this far above training loss at the best epoch → a large gap


def diagnose_fit(history: list[dict], best_epoch: int | None) -> dict:
    """Best epoch, the train–validation gap, and a plain-words verdict.

    Example:
        >>> rows = [{"epoch": e, "loss": 1 / e, "val_loss": [.9, .6, .5, .6, .8][e - 1]} for e in range(1, 6)]
        >>> diagnose_fit(rows, 3)["verdict"]
        'overfitting'
    """
    out: dict = {"epochs_run": len(history), "best_epoch": best_epoch, "flags": []}
    if not history:
        out["verdict"] = "no history"
        return out
    has_val = "val_loss" in history[0]
    best_row = next((r for r in history if r["epoch"] == best_epoch), history[-1])
    last = history[-1]
    if has_val:
        gap = best_row["val_loss"] - best_row["loss"]
        out["gap_at_best"] = {"loss": best_row["loss"], "val_loss": best_row["val_loss"], "difference": gap,
                              "relative": gap / abs(best_row["loss"]) if best_row["loss"] else None}
        lowest = min(r["val_loss"] for r in history)
        lowest_epoch = next(r["epoch"] for r in history if r["val_loss"] == lowest)
        rise = (last["val_loss"] - lowest) / abs(lowest) if lowest else 0.0
        if lowest_epoch < last["epoch"] and rise > OVERFIT_RISE and last["loss"] < history[lowest_epoch - 1]["loss"]:
            out["flags"].append(f"overfitting: validation loss rose {rise:.0%} above its minimum (epoch {lowest_epoch}) "
                                f"while training loss kept falling — early stopping, dropout or L2 would help")
        elif out["gap_at_best"]["relative"] is not None and out["gap_at_best"]["relative"] > LARGE_GAP and gap > 0.05:
            out["flags"].append(f"overfitting risk: validation loss is {out['gap_at_best']['relative']:.0%} above "
                                f"training loss at the best epoch")
    if len(history) > 1 and best_epoch == last["epoch"]:
        out["flags"].append("still improving at the last epoch: more epochs may help (underfitting)")
    if any(f.startswith("overfitting:") for f in out["flags"]):
        out["verdict"] = "overfitting"
    elif any("underfitting" in f for f in out["flags"]):
        out["verdict"] = "underfitting"
    elif out["flags"]:
        out["verdict"] = "overfitting risk"
    else:
        out["verdict"] = "good fit"
    return out
