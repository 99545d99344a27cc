"""The fit verdict: one plain-words diagnosis of a history, with the reasons for it.

The checks run in order and the first that holds is the verdict; its reasons are the evidence for
it alone, so a report never says "underfitting" and "overfitting risk" at once:

    unscaled target         a regression target far from 0 for its spread was fitted unscaled and
                            the loss was still falling at the end
    learning rate too high  the training loss rose well above its lowest value
    overfitting             validation loss rose while training loss kept falling
    underfitting            still falling at the last epoch: more epochs may help
    overfitting risk        a large gap between validation and training loss at the best epoch
    good fit                none of the above
"""

from __future__ import annotations

OVERFIT_RISE = 0.10      # validation loss this far above its minimum at the end → overfitting
LOSS_RISE = 0.10         # training loss this far above its minimum at the end → the learning rate is too high
LARGE_GAP = 0.25         # validation loss this far above training loss at the best epoch → a large gap
STILL_FALLING = 0.01     # the monitored loss fell this much (relative) over the last quarter → still improving
FAR_FROM_ZERO = 3.0      # |mean| above this many standard deviations: an unscaled target starts far away


def diagnose_fit(history: list[dict], best_epoch: int | None, unscaled: dict | None = None) -> dict:
    """Best epoch, the train–validation gap, one verdict and its reasons (`flags`). "Still improving"
    needs the best epoch to be the last one (an unknown best epoch never is).

    `unscaled`: {target: (mean, std)} of the regression targets fitted without scaling.

    Example:
        >>> rows = [{"epoch": e, "loss": 1 / e, "val_loss": [.9, .6, .5, .6, .8][e - 1]} for e in range(1, 6)]
        >>> diagnose_fit(rows, 3)["verdict"]
        'overfitting'
    """
    out: dict = {"epochs_run": len(history), "best_epoch": best_epoch, "flags": []}
    if not history:
        out["verdict"] = "no history"
        return out
    best_row = next((r for r in history if r["epoch"] == best_epoch), history[-1])
    if "val_loss" in history[0]:
        gap = best_row["val_loss"] - best_row["loss"]
        out["gap_at_best"] = {"loss": best_row["loss"], "val_loss": best_row["val_loss"], "difference": gap,
                              "relative": gap / abs(best_row["loss"]) if best_row["loss"] else None}
    improving = _still_improving(history) if best_epoch == history[-1]["epoch"] else None
    out["still_improving"] = improving
    for check in (_unscaled_target, _loss_rising, _overfitting, _still_falling, _large_gap):
        found = check(history, out, unscaled or {})
        if found is not None:
            out["verdict"], out["flags"] = found
            return out
    out["verdict"] = "good fit"
    return out


def unscaled_targets(baselines: dict[str, dict], scaled: set[str] | dict) -> dict[str, tuple[float, float]]:
    """{target: (mean, std)} of the regression targets (those whose baseline has a spread) that
    were fitted without data.target_scale, from the training rows' baselines."""
    return {name: (base["mean"], base["std"]) for name, base in baselines.items()
            if "std" in base and name not in scaled}


def _monitored(history: list[dict]) -> str:
    return "val_loss" if "val_loss" in history[0] else "loss"


def _still_improving(history: list[dict]) -> float | None:
    """How much the monitored loss fell over the last quarter of the epochs (relative), when it is
    at its lowest at the last epoch and fell by more than STILL_FALLING; else None."""
    column = _monitored(history)
    values = [r[column] for r in history]
    if len(values) < 2 or values[-1] > min(values):
        return None
    earlier = values[-1 - max(1, len(values) // 4)]
    fall = (earlier - values[-1]) / abs(earlier) if earlier else 0.0
    return fall if fall > STILL_FALLING else None


def _unscaled_target(history, out, unscaled):
    far = {name: (mean, std) for name, (mean, std) in unscaled.items() if abs(mean) > FAR_FROM_ZERO * max(std, 1e-12)}
    if not far or out["still_improving"] is None:
        return None
    named = ", ".join(f"'{name}' (mean {mean:.4g}, std {std:.4g})" for name, (mean, std) in far.items())
    return "unscaled target", [f"unscaled target: {named} was fitted in its own units and the loss was still falling "
                               f"at the last epoch — the output spends its epochs walking to the target's level; set "
                               f"data.target_scale: standard (the default for a linear output)"]


def _loss_rising(history, out, unscaled):
    losses = [r["loss"] for r in history]
    lowest = min(losses)
    rise = (losses[-1] - lowest) / abs(lowest) if lowest else 0.0
    lowest_at = losses.index(lowest)
    lasting = len(losses) - 1 - lowest_at >= 2 or losses[-1] > losses[0]  # one noisy epoch is not a trend
    if len(losses) < 3 or rise <= LOSS_RISE or not lasting:
        return None
    lowest_epoch = history[lowest_at]["epoch"]
    return "learning rate too high", [f"learning rate too high: training loss rose {rise:.0%} above its lowest "
                                      f"(epoch {lowest_epoch}) — lower optimizer.learning_rate or add a schedule"]


def _overfitting(history, out, unscaled):
    if "gap_at_best" not in out:
        return None
    lowest = min(r["val_loss"] for r in history)
    lowest_at = next(i for i, r in enumerate(history) if r["val_loss"] == lowest)
    last = history[-1]
    rise = (last["val_loss"] - lowest) / abs(lowest) if lowest else 0.0
    if lowest_at == len(history) - 1 or rise <= OVERFIT_RISE or last["loss"] >= history[lowest_at]["loss"]:
        return None
    return "overfitting", [f"overfitting: validation loss rose {rise:.0%} above its minimum (epoch "
                           f"{history[lowest_at]['epoch']}) while training loss kept falling — early stopping, "
                           f"dropout or L2 would help"]


def _still_falling(history, out, unscaled):
    fall = out["still_improving"]
    if fall is None:
        return None
    column = _monitored(history)
    return "underfitting", [f"still improving at the last epoch: {column} fell {fall:.1%} over the last "
                            f"{max(1, len(history) // 4)} epoch(s) — more epochs may help (underfitting)"]


def _large_gap(history, out, unscaled):
    gap = out.get("gap_at_best")
    if gap is None or gap["relative"] is None or gap["relative"] <= LARGE_GAP or gap["difference"] <= 0.05:
        return None
    return "overfitting risk", [f"overfitting risk: validation loss is {gap['relative']:.0%} above training loss "
                                f"at the best epoch"]
