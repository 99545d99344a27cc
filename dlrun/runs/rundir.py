"""RunDir: one run's folder under the runs directory, and its status record.

The files inside it are named, written and read by runs/artifacts.py.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dlrun.errors import UserError
from dlrun.runs import artifacts

STATUSES = ("running", "completed", "failed", "interrupted", "diverged", "pruned")
# what a listing may also show: a running run whose process is gone, a run.json that is not readable
LISTED_STATUSES = (*STATUSES, "stale", "damaged")


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def new_run_id(name: str) -> str:
    """`20261121-205301-digits-mlp-3f9a`: sortable by start time, unique by its random tail."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-{secrets.token_hex(2)}"


@dataclass
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, runs_dir: Path, name: str) -> "RunDir":
        """Make a fresh, uniquely named run folder (exclusive mkdir: no two runs share one)."""
        runs_dir = Path(runs_dir)
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"runs directory {runs_dir} cannot be created: {exc.strerror}") from None
        for _ in range(100):
            path = runs_dir / new_run_id(name)
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise UserError(f"runs directory {runs_dir} is not writable: {exc.strerror}") from None
            return cls(path)
        raise UserError(f"could not make a unique run folder in {runs_dir}")  # pragma: no cover

    @classmethod
    def fixed(cls, path: Path) -> "RunDir":
        """A new run folder at a path its caller chose (a sweep's numbered trial); it must not exist."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()
        return cls(path)

    def file(self, *parts: str) -> Path:
        return self.path.joinpath(*parts)

    def read_info(self) -> dict[str, Any]:
        return artifacts.read_info(self.path)

    def update_info(self, **fields: Any) -> dict[str, Any]:
        """Merge fields into the run's status record (atomically)."""
        info = self.read_info()
        info.update(fields)
        artifacts.write_info(self.path, info)
        return info

    def set_status(self, status: str, **fields: Any) -> dict[str, Any]:
        assert status in STATUSES, status
        stamp = {"finished": now_iso()} if status != "running" else {}
        return self.update_info(status=status, **stamp, **fields)
