"""Reading back what dlrun wrote, checked: a file that is missing, truncated or not what dlrun wrote
is a DamagedRunFile naming it (never a traceback, never a guess); a path into a run that passes
through a symbolic link is refused, so that nothing dlrun writes leaves the run.

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> bad = Path(tempfile.mkdtemp()) / "preprocessing.json"
    >>> _ = bad.write_text("[]")
    >>> try:
    ...     read_json_object(bad)
    ... except DamagedRunFile as exc:
    ...     print(str(exc).split(";")[0].endswith("holds a JSON list, not an object"))
    True
"""

from __future__ import annotations

import json
from pathlib import Path

from dlrun.errors import DamagedRunFile, UserError


def damaged(path: Path, what: str) -> DamagedRunFile:
    """The error for a run file that is not what dlrun wrote: names the file, says what is wrong."""
    return DamagedRunFile(f"{path}: {what}; the file is damaged or was edited — restore it, or train the run again")


def read_json_object(path: Path, keys: tuple[str, ...] = ()) -> dict:
    """A JSON object dlrun wrote, checked: a missing file, text that is not JSON, another type or a
    missing key is a DamagedRunFile naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise DamagedRunFile(f"{path}: missing; the run cannot be used without it (train it again)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise damaged(path, f"not valid JSON ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(data, dict):
        raise damaged(path, f"holds a JSON {type(data).__name__}, not an object")
    missing = [key for key in keys if key not in data]
    if missing:
        raise damaged(path, f"lacks {', '.join(repr(k) for k in missing)}")
    return data


def history_row(row: dict, line: int) -> dict:
    """One history.csv row as numbers; a field out of place or a value that is not a number is a ValueError."""
    if None in row:
        raise ValueError(f"line {line} has more fields than the header")
    try:
        return {k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v not in ("", None)}
    except ValueError:
        raise ValueError(f"line {line} holds a value that is not a number") from None


def inside(folder: Path, *names: str) -> Path:
    """`folder/names...`, refused when any part below `folder` is a symbolic link: what dlrun writes
    into a run stays inside the run (a link to elsewhere would carry the writes out of it)."""
    path = Path(folder)
    for name in names:
        path = path / name
        if path.is_symlink():
            raise UserError(f"{path}: is a symbolic link; dlrun writes only inside the run folder — "
                            f"remove the link")
    return path
