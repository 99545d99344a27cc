"""Ray as the executor: a connection to a cluster (or a local Ray this command starts and stops),
independent jobs as Ray tasks, and searches as Ray Tune runs. Knows nothing of folds or trials:
the protocols hand it functions and their arguments.

A local Ray started here never outlives the command: `ray.shutdown()` on every way out (Ctrl-C
included), anything of its session still running is killed after that, and a small watchdog
process kills the session if this process itself is killed (SIGKILL cannot be caught).

Without an address the local Ray is always a new one (`address="local"`, RAY_ADDRESS set aside):
the record a dead `ray start` cluster leaves behind (/tmp/ray/ray_current_cluster) or a stale
RAY_ADDRESS would otherwise send Ray's default connect to a cluster that no longer answers. With
an address, a cluster that does not answer is an error within about CONNECT_TIMEOUT_S seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from dlrun.errors import UserError, first_line

CONNECT_TIMEOUT_S = 30  # at most this long to find that the cluster at --address does not answer
# Ray reads its GCS time-out (per connect attempt, 30 s by default) once, as it is imported; each attempt
# also waits about 10 s for the channel first. One attempt of 18 s: about 30 s in all.
_IMPORT_ENV = {"RAY_py_gcs_connect_timeout_s": str(CONNECT_TIMEOUT_S - 12)}
_CONNECT_ENV = {"RAY_gcs_server_port_wait_time_s": "1"}  # one connect attempt, not Ray's 20
_LOCAL_ENV = {"RAY_ADDRESS": None}  # a stale RAY_ADDRESS must not redirect the local Ray (None: unset)


def ray_module():
    """Ray, or a clear message naming the extra to install. Imported with the shorter GCS
    time-out of _IMPORT_ENV unless the environment sets one: Ray reads it once, at its import."""
    try:
        with environment({k: v for k, v in _IMPORT_ENV.items() if k not in os.environ}):
            import ray
    except ImportError:
        raise UserError('--executor ray needs Ray, which is not installed: pip install "dlrun[ray]"') from None
    return ray


@contextlib.contextmanager
def environment(values: dict[str, str | None]):
    """os.environ with `values` set (None: removed) for the block, as it was afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        _set_environment(values)
        yield
    finally:
        _set_environment(saved)


def _set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@dataclass
class Resources:
    """What one trial or fold asks of the cluster."""

    cpus: float = 1.0
    gpus: float = 0.0

    def threads(self) -> int:
        """Threads for the backend's pools inside one trial: its whole CPUs, at least one."""
        return max(1, int(self.cpus))


@contextlib.contextmanager
def connected(address: str | None, num_cpus: int | None = None):
    """Connect to the cluster at `address` (`auto`: the one `ray start` made on this machine), or
    start a local Ray for this command only. Yields the node's address."""
    ray = ray_module()
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's own progress tables would bury dlrun's output
    # TensorFlow takes all of a GPU's memory unless told to grow: trials sharing a GPU (--gpus-per-trial 0.5) need growth
    kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": True, "logging_level": "ERROR",
              "runtime_env": {"env_vars": {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}}}
    address = None if address == "local" else address
    try:
        if address:
            with environment(_CONNECT_ENV):
                _check_answers(ray, address)
                ray.init(address=address, **kwargs)
        else:
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a Ray for this command alone needs no token in ~/.ray
            with environment(_LOCAL_ENV):
                ray.init(address="local", num_cpus=num_cpus, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(f"cannot connect to Ray at {address or 'a new local instance'}: {first_line(exc)}") from None
    watchdog, session = None, None
    if not address:
        session = _session_dir(ray)
        watchdog = subprocess.Popen([sys.executable, "-m", "dlrun.executors.ray_watchdog", str(os.getpid()), session],
                                    start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
    try:
        yield ray.util.get_node_ip_address()
    finally:
        ours = {} if watchdog is None else ray_descendants(os.getpid())
        ray.shutdown()
        if session is not None:
            kill_session(session, ours)
        if watchdog is not None:
            watchdog.kill()
            watchdog.wait()


def _check_answers(ray, address: str) -> None:
    """Fail at once, rather than after Ray's connect time-out, when nothing listens at the GCS
    address (`auto` resolved as Ray resolves it): the usual sign of a cluster that died. Ray
    client addresses (`ray://`) are left to Ray, which gives up on them after 30 s."""
    if "://" in address:
        return
    found = ray._private.services.canonicalize_bootstrap_address(address)
    host, _, port = (found or address).rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S / 3):
            return
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ConnectionError(f"nothing listens at {found or address} ({why}): is the cluster up?") from None


def _session_dir(ray) -> str:
    node = getattr(ray._private.worker, "_global_node", None)
    if node is not None:
        return node.get_session_dir_path()
    return str(max(Path("/tmp/ray").glob("session_2*"), key=lambda p: p.stat().st_mtime))  # pragma: no cover


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a process, from /proc; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields[19]


def descendants(root: int) -> dict[int, str]:
    """Every process below `root` ({pid: start time}): a local Ray's raylet and GCS are children of
    the process that started it, and its agents and workers their children (Ray renames them, so
    their command lines no longer say which session they belong to)."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is not None:
                children.setdefault(found[0], []).append(int(entry.name))
                started[int(entry.name)] = found[1]
    out, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out[pid] = started[pid]
        todo.extend(children.get(pid, []))
    return out


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def ray_descendants(root: int) -> dict[int, str]:
    """The processes below `root` that are Ray's (raylet, GCS, agents, workers: all name ray)."""
    return {pid: start for pid, start in descendants(root).items()
            if "ray" in _command(pid).lower() and "dlrun.executors.ray_watchdog" not in _command(pid)}


def session_processes(session: str) -> list[int]:
    """Processes whose command line names the Ray session folder (as started, before renaming)."""
    name = Path(session).name
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        command = _command(int(entry.name))
        if name in command and "dlrun.executors.ray_watchdog" not in command:
            found.append(int(entry.name))
    return found


def kill_session(session: str, known: dict[int, str] | None = None, grace: float = 2.0) -> None:
    """Stop what is left of a local Ray session (after ray.shutdown, or after its driver died): the
    processes naming its folder and the `known` ones ({pid: start time}, checked so that a number
    reused by another process is left alone); SIGTERM, then SIGKILL after `grace` seconds."""
    def left() -> list[int]:
        same = [pid for pid, start in (known or {}).items() if (_stat(pid) or (0, None))[1] == start]
        return sorted(set(same) | set(session_processes(session)) - {os.getpid()})

    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = left()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            time.sleep(0.1)
            pids = left()
        if not pids:
            return


def run_tasks(function: Callable, jobs: Iterable, resources: Resources, on_result: Callable) -> None:
    """Call `function` on every job as a Ray task; results arrive through `on_result` as tasks finish."""
    ray = ray_module()
    remote = ray.remote(num_cpus=resources.cpus, num_gpus=resources.gpus, max_retries=0)(function)
    pending = [remote.remote(job) for job in jobs]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            on_result(ray.get(done[0]))
    finally:
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)


@dataclass
class TuneSearch:
    """A search for Ray Tune: Optuna's sampler and study (the journal) behind OptunaSearch, and
    ASHA when trials may be stopped early."""

    space: Callable            # define-by-run: suggests on an Optuna trial, returns constants for the config
    sampler: object
    storage: object | None     # None: OptunaSearch keeps the study in memory (saved with Tune's state)
    study_name: str
    mode: str                  # "min" | "max"
    trials: int
    max_steps: int             # epochs (or folds) a trial reports at most
    prune: bool
    grace: int                 # steps every trial runs before ASHA may stop it
    max_concurrent: int | None = None


def tune_run(trainable: Callable, search: TuneSearch, resources: Resources, folder: Path, restore: bool) -> list[dict]:
    """Run (or, after the driver died, restore and finish) a Tune experiment in `folder`; returns
    per trial {"config", "metrics" (its last report), "error"}."""
    ray_module()
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    folder = Path(folder)
    wrapped = tune.with_resources(trainable, {"cpu": resources.cpus, "gpu": resources.gpus})
    if restore and tune.Tuner.can_restore(str(folder)):
        tuner = tune.Tuner.restore(str(folder), wrapped, resume_unfinished=True, resume_errored=True)
    else:
        searcher = OptunaSearch(space=search.space, metric="objective", mode=search.mode, sampler=search.sampler,
                                study_name=search.study_name, storage=search.storage)
        if search.max_concurrent:
            searcher = ConcurrencyLimiter(searcher, max_concurrent=search.max_concurrent)
        # max_t beyond the last step: ASHA never stops a trial at its last epoch, which is its end anyway
        scheduler = ASHAScheduler(time_attr="step", metric="objective", mode=search.mode, max_t=search.max_steps + 1,
                                  grace_period=max(1, min(search.grace, search.max_steps))) \
            if search.prune else FIFOScheduler()
        tuner = tune.Tuner(wrapped, tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                                                                num_samples=search.trials),
                           run_config=tune.RunConfig(name=folder.name, storage_path=str(folder.parent), verbose=0,
                                                     failure_config=tune.FailureConfig(max_failures=0)))
    results = tuner.fit()
    return [{"config": r.config, "metrics": r.metrics or {}, "error": None if r.error is None else str(r.error)}
            for r in results]
