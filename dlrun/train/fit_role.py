"""What a fit is for decides how it behaves: a holdout run, a k-fold fold, a sweep trial, or a
model retrained for a number of epochs chosen beforehand (k-fold's final model, a sweep's best).

The protocol picks a role; the fit reads it instead of a row of flags.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class FitRole:
    """How one fit behaves.

    Example:
        >>> FOLD.with_curves_on_test(True).curves_on_test
        True
    """

    name: str
    resumable: bool = False        # resume state after every epoch (`--resume` continues it exactly)
    stoppable: bool = False        # SIGINT / SIGTERM end the fit at the next epoch end
    history_every: float = 2.0     # seconds between history.csv rewrites (0: after every epoch)
    plots: bool = True             # plots of this fit (a k-fold run plots its averaged curves instead)
    hold_test: bool = False        # score the validation part; the test rows take no part in a choice
    release_raw: bool = False      # free the raw features before the fit's peak (not needed again)
    curves_on_test: bool = False   # no validation part: pass the test rows to Keras for per-epoch curves only
    linear_baseline: bool = True   # fit a linear model on the same rows for the report (report/linear_model.py)

    def with_curves_on_test(self, on: bool) -> "FitRole":
        return replace(self, curves_on_test=on)


RUN = FitRole("run", resumable=True, stoppable=True, history_every=0.0, release_raw=True)
TRIAL = FitRole("trial", stoppable=True, history_every=0.0, hold_test=True, release_raw=True, linear_baseline=False)
FOLD = FitRole("fold", plots=False)
FINAL = FitRole("final")
