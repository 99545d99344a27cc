"""`dlrun smoke`'s results: one record per spec, the line printed as each finishes, and the table at
the end (readable at 80 columns: long cells fold, nothing is cut to '…'). No TensorFlow here."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import PurePath

from rich import box
from rich.table import Table
from rich.text import Text

PASSED, FAILED, INVALID, SKIPPED = "passed", "failed", "invalid", "skipped"
STATUSES = (PASSED, FAILED, INVALID, SKIPPED)
STYLES = {PASSED: "green", FAILED: "bold red", INVALID: "bold yellow", SKIPPED: "dim"}
_UNPRINTABLE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class SmokeResult:
    """One spec's smoke run.

    `message`: the first line of what went wrong, located (`spec.yaml:7:5  model.layers[0]…: …`, or
    the spec's path and the run's error); `details`: everything (every problem, the traceback);
    `line`: the line of the first problem in `file`, when the spec's mistake has one."""

    spec: str
    kind: str
    status: str
    seconds: float = 0.0
    message: str = ""
    details: str = ""
    file: str = ""
    line: int | None = None


def counts(results: list[SmokeResult]) -> dict[str, int]:
    return {status: sum(r.status == status for r in results) for status in STATUSES}


def _short(result: SmokeResult, folder: str = "") -> str:
    """The message without the spec's own path in front (the table's first column names it), and
    without the folder every spec is in; terminal codes and control characters removed."""
    message = _UNPRINTABLE.sub("", result.message)
    for prefix in (f"{result.spec}:", f"{result.spec} "):
        if message.startswith(prefix):
            return message[len(prefix):].strip()
    if folder and message.startswith(f"{folder}/"):
        return message[len(folder) + 1:]
    return message


def _common_folder(specs: list[str]) -> str:
    """The folder every spec is in ('' when none, or the working directory)."""
    try:
        common = os.path.commonpath([PurePath(spec).parent.as_posix() for spec in specs])
    except ValueError:  # absolute and relative paths mixed
        return ""
    return "" if common in ("", ".") else PurePath(common).as_posix()


def result_line(result: SmokeResult) -> Text:
    """`passed   train  configs/iris.yaml  2.1 s`, then the message when there is one."""
    text = Text()
    text.append(f"{result.status:<8}", style=STYLES[result.status])
    text.append(f" {result.kind:<6} {result.spec}  {result.seconds:.1f} s")
    if result.message:
        text.append(f"  {_short(result)}", style="dim")
    return text


def smoke_table(results: list[SmokeResult], seconds: float) -> Table:
    """spec, kind, status, seconds and the first line of the error, one row per spec, with the counts."""
    tally = counts(results)
    caption = ", ".join(f"{tally[s]} {s}" for s in STATUSES if tally[s]) + f" in {seconds:.1f} s"
    folder = _common_folder([r.spec for r in results])
    table = Table(title=f"dlrun smoke: {folder}/" if folder else "dlrun smoke", caption=caption,
                  box=box.SIMPLE_HEAD, title_justify="left", caption_justify="left")
    table.add_column("spec", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("s", justify="right", no_wrap=True)
    table.add_column("error", overflow="fold", ratio=1)
    for result in results:
        name = PurePath(result.spec).relative_to(folder).as_posix() if folder else result.spec
        table.add_row(Text(name), result.kind, Text(result.status, style=STYLES[result.status]),
                      f"{result.seconds:.1f}", Text(_short(result, folder)))
    return table
