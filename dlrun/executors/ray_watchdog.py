"""`python -m dlrun.executors.ray_watchdog DRIVER_PID SESSION_DIR`: waits for the dlrun process
that started a local Ray to end, however it ends (SIGKILL included), then stops what is left of
that Ray session, so no Ray process outlives the command."""

from __future__ import annotations

import sys
import time

from dlrun.executors.ray_cluster import kill_session, ray_descendants


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet collected by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def main(argv: list[str]) -> None:
    driver, session = int(argv[0]), argv[1]
    known: dict[int, str] = {}
    while alive(driver):  # keep a list of the driver's process tree (Ray's), to stop once it is gone
        known.update(ray_descendants(driver))
        time.sleep(0.5)
    kill_session(session, known)


if __name__ == "__main__":
    main(sys.argv[1:])
