"""Which executor runs a command's independent jobs (k-fold folds, sweep trials), and with what:
`--executor local | ray`, `--jobs`, `--address`, `--cpus-per-trial`, `--gpus-per-trial`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterable

from dlrun.errors import UserError
from dlrun.executors.local import run_jobs, threads_per_worker
from dlrun.executors.ray_cluster import Resources

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Executor:
    name: str = "local"
    jobs: int = 1                  # local: worker processes; ray: at most this many at once when above 1
    address: str | None = None     # ray: the cluster (`auto`, `ray://host:10001`, `host:6379`); None: a local Ray
    cpus: float = 1.0              # ray: CPUs per fold or trial
    gpus: float = 0.0              # ray: GPUs per fold or trial (fractions allowed)

    def __post_init__(self):
        if self.name not in EXECUTORS:
            raise UserError(f"--executor must be one of {', '.join(EXECUTORS)}, not '{self.name}'")
        if self.jobs < 1:
            raise UserError("--jobs must be 1 or more")
        if self.cpus <= 0 or self.gpus < 0:
            raise UserError("--cpus-per-trial must be above 0 and --gpus-per-trial 0 or more")
        if self.name == "local" and (self.address or self.gpus or self.cpus != 1.0):
            raise UserError("--address, --cpus-per-trial and --gpus-per-trial apply to --executor ray")

    @property
    def resources(self) -> Resources:
        return Resources(self.cpus, self.gpus)

    def threads(self) -> int | None:
        """Threads for each job's backend pools: the job's CPUs on Ray, a share of the cores locally."""
        return self.resources.threads() if self.name == "ray" else threads_per_worker(self.jobs)

    def check_installed(self) -> None:
        if self.name == "ray":
            from dlrun.executors.ray_cluster import ray_module

            ray_module()


@contextlib.contextmanager
def job_runner(executor: Executor):
    """A function `run(function, jobs, on_result)` for the executor, with its cluster connected
    for as long as the block runs."""
    if executor.name == "local":
        yield lambda function, jobs, on_result: run_jobs(function, jobs, executor.jobs, on_result)
        return
    from dlrun.executors.ray_cluster import connected, run_tasks

    with connected(executor.address):
        yield lambda function, jobs, on_result: run_tasks(function, jobs, executor.resources, on_result)


def run_on(executor: Executor, function: Callable, jobs: Iterable, on_result: Callable) -> None:
    with job_runner(executor) as run:
        run(function, list(jobs), on_result)
