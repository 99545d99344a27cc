"""The lifecycle every protocol shares: open a run (new, or one to resume), write its start record,
map whatever ends it onto its status, and turn SIGTERM into a graceful stop.

    new ─start_record─▶ running ─run_status─▶ completed | failed | interrupted | diverged | pruned
    --resume ─open_to_resume (kind and status checked once)─▶ running ─▶ ...
"""

from __future__ import annotations

import _thread
import contextlib
import shutil
import signal
import threading
import time
import traceback
from pathlib import Path

from dlrun.errors import Diverged, DlrunError, Interrupted, Pruned, ResumeAt, RunFailed, UserError
from dlrun.runs import artifacts, records
from dlrun.runs.kinds import kind_of
from dlrun.runs.lookup import resolve_run
from dlrun.runs.provenance import installed_packages, provenance
from dlrun.runs.rundir import RunDir, now_iso
from dlrun.spec.load import LoadedSpec


def open_to_resume(ref: str, runs_dir: Path | None, command: str) -> RunDir:
    """The run `ref` names, refused unless it is an unfinished run of `dlrun <command>`."""
    run = resolve_run(ref, runs_dir or Path("runs"))
    refuse_unless_resumable(run, command)
    return run


def open_new(loaded: LoadedSpec, folder: Path | None = None) -> RunDir:
    """A fresh run folder in the spec's runs directory, or at `folder` (a sweep's trial)."""
    spec = loaded.spec
    return RunDir.create(Path(spec.output.runs_dir), spec.name) if folder is None else RunDir.fixed(folder)


def resume_at(run: RunDir, command: str) -> ResumeAt:
    return ResumeAt(command, run.run_id, str(run.path.parent))


def start_record(run: RunDir, loaded: LoadedSpec, kind: str, smoke: bool, data: dict, **more) -> None:
    """The run's status record as it starts: what it is, from which spec and data, where and with what."""
    spec = loaded.spec
    run.update_info(run_id=run.run_id, name=spec.name, status="running", started=now_iso(), kind=kind,
                    backend=spec.training.backend, spec_file=str(loaded.path), data_dir=str(loaded.base_dir),
                    seed=spec.seed, smoke=smoke, data={"source": spec.data.source, **data},
                    **provenance(loaded.base_dir), **more)
    records.write_environment(run.path, installed_packages())


def data_record(resolved) -> dict:
    """What the start record says of loaded data: its fingerprint and row count."""
    return {"fingerprint": resolved.dataset.fingerprint(), "rows": resolved.dataset.n_rows}


def lineage(resolved) -> dict:
    """For a warm start (init_from), the start record's `parent`: the run or file its weights start
    from, which `runs` and `show` display."""
    parent = resolved.parent
    return {} if parent is None else {"parent": parent.record()}


def start_sub_run(folder: RunDir, resolved, kind: str, **more) -> None:
    """A fresh folder inside a run (a fold, a final model), with its status record; an unfinished one
    from an interrupted run starts over."""
    if folder.path.exists():
        shutil.rmtree(folder.path)
    folder.path.mkdir(parents=True)
    folder.update_info(run_id=folder.run_id, kind=kind, **more, status="running", started=now_iso(),
                       seed=resolved.spec.seed, data_dir=str(resolved.loaded.base_dir),
                       data={"fingerprint": resolved.dataset.fingerprint()})


REINTERRUPT_SECONDS = 2.0  # a SIGTERM still unanswered after this long was swallowed: deliver it again


@contextlib.contextmanager
def term_as_interrupt():
    """For the block: SIGTERM ends a k-fold run or a sweep like Ctrl-C (status interrupted, what
    finished kept for --resume); the handler before it is put back after. Off the main thread,
    where signals cannot be set, nothing changes.

    Python drops an exception raised while a garbage-collection callback or `__del__` runs (it prints
    "Exception ignored in ..."), and a signal can land there (JAX registers such a callback). So the
    first SIGTERM also starts a thread that signals the main thread again every REINTERRUPT_SECONDS
    for as long as the block is still running."""
    state = {"active": True, "signalled": False}

    def again():
        while True:
            time.sleep(REINTERRUPT_SECONDS)
            if not state["active"]:
                return
            _thread.interrupt_main(signal.SIGTERM)  # does nothing once the block's handler is gone

    def handle(signum, frame):
        if not state["signalled"]:
            state["signalled"] = True
            threading.Thread(target=again, name="dlrun-sigterm", daemon=True).start()
        raise KeyboardInterrupt
    try:
        previous = signal.signal(signal.SIGTERM, handle)
    except ValueError:  # not the main thread
        previous = None
    try:
        yield
    finally:
        state["active"] = False
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def run_status(run: RunDir, what: str = "training", resume: ResumeAt | None = None):
    """Map whatever ends the block onto the run's status; an unexpected error keeps its details.
    With `resume`, an interruption says where the run continues."""
    try:
        yield
    except (KeyboardInterrupt, Interrupted) as exc:
        run.set_status("interrupted")
        if isinstance(exc, Interrupted) and (exc.resume_at or not resume):
            raise
        raise Interrupted(f"stopped; the run so far is in {run.path}", resume) from None
    except Pruned:
        run.set_status("pruned")
        raise
    except Diverged as exc:
        run.set_status("diverged", error=str(exc))
        raise
    except DlrunError as exc:
        run.set_status("failed", error=str(exc))
        raise
    except Exception as exc:  # noqa: BLE001 - an unexpected failure: keep the details in the run
        log = artifacts.error_log_path(run.path)
        log.write_text(traceback.format_exc(), encoding="utf-8")
        run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise RunFailed(f"{what} failed: {type(exc).__name__}: {str(exc)[:500]}\n"
                        f"details: {log}") from None


def refuse_unless_resumable(run: RunDir, command: str) -> None:
    """Refused unless the run is an unfinished run of `dlrun <command>` (checked again under the
    run's lock by the protocol that resumes it)."""
    info = run.read_info()
    if not info:
        raise UserError(f"{run.path}: no run.json; not a run folder")
    kind_of(info).refuse_resume(info, run.run_id, command)
