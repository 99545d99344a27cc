"""One writer per run: an OS lock (flock) on the run folder's lock file, held by the command that
writes into the run for as long as it writes. A second writer is refused, naming the holder; a run
whose status says `running` but whose lock nobody holds was left by a process that is gone (stale).

The lock belongs to the open file: the kernel drops it when the process ends, however it ends
(kill -9 included), so a stale lock never blocks anyone.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with hold(folder):
    ...     held_by(folder) is not None
    True
    >>> held_by(folder) is None
    True
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from pathlib import Path

from dlrun.errors import UserError
from dlrun.runs.artifacts import lock_path
from dlrun.runs.rundir import now_iso

_held: dict[str, int] = {}  # folders this process holds, by resolved path: nested holds are free


@contextlib.contextmanager
def hold(folder: Path, what: str = "run"):
    """Hold the folder's writer lock for the block; UserError (exit 2) when another process holds it."""
    key = str(Path(folder).resolve())
    if key in _held:  # this process holds it already (a resume inside the command that opened it)
        yield
        return
    path = lock_path(folder)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:  # a read-only run folder, a lock file replaced by a link
        raise UserError(f"{folder}: cannot write into the {what} ({exc.strerror or type(exc).__name__})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _describe(_read(fd))
        os.close(fd)
        raise UserError(f"{what} {Path(folder).name} is being written by another dlrun process ({holder}); "
                        f"wait for it to finish, or stop it first") from None
    record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso()}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, record, 0)
    _held[key] = fd
    try:
        yield
    finally:
        _held.pop(key, None)
        os.close(fd)  # releases the lock


def held_by(folder: Path) -> dict | None:
    """Who holds the folder's lock ({"pid", "host", "since"}), or None when nobody does."""
    path = lock_path(folder)
    if str(Path(folder).resolve()) in _held:
        return {"pid": os.getpid(), "host": socket.gethostname()}
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read(fd) or {"pid": None, "host": None}
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def live(folder: Path, info: dict) -> dict:
    """The status record as it stands: a run whose record says `running` but whose lock nobody holds
    was left by a process that is gone (killed, crashed, the machine rebooted): `stale`."""
    if info.get("status") == "running" and held_by(folder) is None:
        return {**info, "status": "stale", "recorded_status": "running"}
    return info


def _read(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(holder: dict) -> str:
    if not holder:
        return "holder unknown"
    return f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')}"
