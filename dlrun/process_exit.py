"""Leaving the `dlrun` command without the interpreter's teardown.

Once a command has finished — its files written and closed, its worker threads joined and every
exit handler run — Python would still tear down each imported module and object; with TensorFlow
loaded that takes most of a second of every training command (0.85 s of a 9 s image run). The
handler below is registered when dlrun is first imported, so it runs after every other exit handler
(they run last-registered first), and only where `dlrun.cli.main` armed it with the command's exit
status (or a process pool's worker, by `in_worker`): tests that call the CLI in-process exit as usual.
"""

from __future__ import annotations

import atexit
import os
import sys

_status: int | None = None


def arm(code: object) -> None:
    """Exit with `code` (a SystemExit's code: None, a number, or a message already printed) once the
    exit handlers have run."""
    global _status
    _status = code if isinstance(code, int) else 0 if code is None else 1


def in_worker() -> None:
    """A process pool's initializer: its spawned worker ends the same way once the pool lets it go (the
    pool reads results, not its workers' exit statuses). multiprocessing's own exit work runs before."""
    arm(None)


def run(command) -> None:
    """Run the command-line app `command` (which always ends in SystemExit) and arm the exit."""
    try:
        command()
    except SystemExit as done:
        arm(done.code)
        raise


def _leave() -> None:
    if _status is None:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # a closed pipe (`dlrun … | head`), a closed stream
            pass
    os._exit(_status)


atexit.register(_leave)
