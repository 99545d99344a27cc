"""RunDir.create under contention: runs started at the same moment never share a folder."""

from __future__ import annotations

import threading

from dlrun.runs.rundir import RunDir


def test_threads_creating_runs_with_the_same_name_get_distinct_folders(tmp_path):
    runs = tmp_path / "runs"
    count = 200
    barrier = threading.Barrier(count)
    made: list[RunDir] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def create() -> None:
        barrier.wait()
        try:
            run = RunDir.create(runs, "same")
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)
            return
        with lock:
            made.append(run)

    threads = [threading.Thread(target=create) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    paths = [r.path for r in made]
    assert len(paths) == count and len(set(paths)) == count
    on_disk = sorted(p for p in runs.iterdir())
    assert sorted(paths) == on_disk
    assert all(p.is_dir() and not any(p.iterdir()) and "-same-" in p.name for p in on_disk)
