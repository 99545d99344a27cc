"""The options of `dlrun smoke` and what it prints; the command itself is in cli.py, which is at its
400-line limit (tests/test_architecture.py), so its option declarations live here.

Light: Typer and rich only, as cli.py imports this module at start-up (`dlrun --help` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from rich.console import Console

from dlrun.report.smoke_view import result_line, smoke_table

SpecPaths = Annotated[list[Path], typer.Argument(
    help="Spec files or folders, searched recursively for dlrun specs (*.yaml / *.yml with top-level data: and "
         "model:, or extends:).", show_default=False)]
Junit = Annotated[Optional[Path], typer.Option("--junit", help="Also write the results as JUnit XML to this file "
                                                               "(one testcase per spec), for CI.")]
SmokeJobs = Annotated[int, typer.Option("--jobs", "-j", help="Run the specs in this many worker processes (each "
                                                             "starts the backend once).")]
Strict = Annotated[bool, typer.Option("--strict", help="A spec whose data needs a download that is not possible "
                                                       "offline fails instead of being skipped.")]
Keep = Annotated[bool, typer.Option("--keep", help="Keep the runs, in each spec's runs dir (default: a temporary "
                                                   "folder, removed at the end).")]
Plots = Annotated[bool, typer.Option("--plots", help="Draw each run's plots as its spec says (default: none; they "
                                                     "take about a quarter of the time).")]


def print_result(out: Console) -> Callable:
    """A callback printing each spec's result as it is known."""
    return lambda result: out.print(result_line(result))


def show_smoke(report, out: Console, err: Console) -> int:
    """The notes, the table and the JUnit file's name; returns the exit code."""
    for path in report.ignored:
        err.print(f"note: {path} is not a dlrun spec; ignored", markup=False, highlight=False, soft_wrap=True)
    out.print(smoke_table(report.results, report.seconds))
    if report.junit is not None:
        out.print(f"wrote {report.junit}", markup=False, highlight=False, soft_wrap=True)
    return report.exit_code
