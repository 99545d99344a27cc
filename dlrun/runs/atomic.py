"""Atomic file writes: a temporary file in the same folder, fsync, then rename.

A process killed at any moment leaves each artifact either complete or absent.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from dlrun.errors import UserError


# mkstemp makes owner-only files; artifacts get the permissions a plain write would give them.
# The umask can only be read by setting it, so it is read once, at import.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def unwritable(path: Path, exc: OSError) -> UserError:
    """One line for a path that cannot be written, naming it and the system's reason."""
    return UserError(f"{path}: cannot be written ({exc.strerror or type(exc).__name__})")


def check_writable(path: Path) -> None:
    """Refuse, before any work, an output file that cannot be written: a folder, or a place where
    no file can be made (missing and uncreatable parent, read-only, not a real folder)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder; name a file to write")
    parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{path}: cannot be written ({parent} is not a writable folder)")


def write_bytes(path: Path, payload: bytes) -> None:
    """`payload` into `path` atomically; a path that cannot be written is a UserError naming it."""
    try:
        _write_bytes(Path(path), payload)
    except OSError as exc:
        raise unwritable(path, exc) from None


def _write_bytes(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def write_yaml(path: Path, data: Any, header: str = "") -> None:
    write_text(path, header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def _jsonable(value: Any):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")
