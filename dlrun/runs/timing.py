"""Where a run's time goes: wall seconds per phase of the flow, kept in run.json (`phases`) and shown
at the end of `dlrun train`, so a slow run says which step is slow.

    load        read the source (files, a dataset) and fit the target encodings
    preprocess  split, fit the preprocessing on the training rows, transform every row
    backend     import and start Keras's backend (TensorFlow's import alone takes seconds)
    build       build and compile the model, put its starting weights in
    fit         Keras's fit (run.json's epoch_seconds splits it per epoch)
    evaluate    predict the held-out part and score it (with the baselines and the linear model)
    report      metrics.json, report.md and the plots
    write       the final model and its summary

    >>> clock = PhaseClock()
    >>> with clock.phase("load"):
    ...     pass
    >>> list(clock.record())
    ['load']
"""

from __future__ import annotations

import time
from contextlib import contextmanager

ORDER = ("load", "preprocess", "backend", "build", "fit", "evaluate", "report", "write")


class PhaseClock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def record(self) -> dict[str, float]:
        """{phase: seconds} in the flow's order, rounded to milliseconds."""
        names = [n for n in ORDER if n in self.seconds] + [n for n in self.seconds if n not in ORDER]
        return {name: round(self.seconds[name], 3) for name in names}


def phase_line(phases: dict[str, float], epochs: int | None = None) -> str:
    """'load 0.4 s · preprocess 0.1 s · ... · fit 3.2 s (0.32 s/epoch) · ...' for the console."""
    parts = []
    for name, seconds in phases.items():
        per_epoch = f" ({seconds / epochs:.2f} s/epoch)" if name == "fit" and epochs else ""
        parts.append(f"{name} {seconds:.2f} s{per_epoch}")
    return " · ".join(parts)
