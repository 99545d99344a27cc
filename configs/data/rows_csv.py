"""Write generated rows next to the generator scripts, the one way all of them do it."""

from __future__ import annotations

import csv
from pathlib import Path


def write_rows(rows: list[dict], name: str) -> Path:
    """Write `rows` (dicts with the same keys) as configs/data/<name>; returns the path."""
    path = Path(__file__).with_name(name)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path
