"""Run independent jobs here, one after another, or in `workers` spawned processes.

Results arrive through `on_result` as each job finishes (in completion order with workers);
the function returns nothing itself, so a caller keeps whatever finished before an error or
an interruption.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


def threads_per_worker(workers: int) -> int | None:
    """The share of this machine's cores each worker's thread pools get (None: one worker, all cores)."""
    return max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None


def run_jobs(function: Callable[[Job], Result], jobs: Iterable[Job], workers: int,
             on_result: Callable[[Result], None]) -> None:
    """Call `function` on every job; `function` must be importable by name when workers > 1
    (the pool spawns fresh interpreters: nothing is forked from a process that holds TensorFlow)."""
    jobs = list(jobs)
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            on_result(function(job))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from dlrun.process_exit import in_worker

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=in_worker) as pool:
        for future in as_completed([pool.submit(function, job) for job in jobs]):
            on_result(future.result())
