"""The DlrunError family and the exit codes the CLI maps them to.

A user mistake (bad YAML, bad data, bad run id) is a `UserError` and exits 2 with a
message that names the place at fault; a run that fails on its own exits 1; an
interrupted one exits 130. Nothing in this module imports TensorFlow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Problem:
    """One located problem in a spec: where it is and what is wrong.

    Example:
        >>> str(Problem("exp.yaml", 12, 5, "model.layers[2].Dense.untis", "unknown field"))
        'exp.yaml:12:5  model.layers[2].Dense.untis: unknown field'
    """

    file: str | None
    line: int | None
    col: int | None
    path: str
    message: str

    def where(self) -> str:
        if self.file is None:
            return "<spec>"
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.col or 1}"

    def __str__(self) -> str:
        field = f"{self.path}: " if self.path else ""
        return f"{self.where()}  {field}{self.message}"

    def sort_key(self) -> tuple:
        return (self.file or "", self.line or 0, self.col or 0, self.path)


class DlrunError(Exception):
    """Base of every error dlrun reports without a traceback."""

    exit_code = EXIT_RUN_FAILED


class UserError(DlrunError):
    """A mistake in what the user gave us: config, data, run id, option."""

    exit_code = EXIT_USAGE


class SpecError(UserError):
    """A spec with one or more located problems, reported all at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=Problem.sort_key)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the experiment spec:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


class DataError(UserError):
    """The data does not fit the spec: missing column, bad values, wrong shape."""


class RunLookupError(UserError):
    """A run id, prefix or path that names no run (or names one outside the runs directory)."""


class DamagedRunFile(UserError):
    """A file dlrun wrote into a run earlier is missing, truncated or not what it wrote."""


class RunFailed(DlrunError):
    """Training started and failed for a reason that is not a spec or data mistake."""


class Diverged(RunFailed):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class ResumeAt:
    """Where an interrupted run continues: the command that resumes it, its id and runs directory
    (the CLI turns this into the hint it prints; the layers below never spell a command line)."""

    command: str
    run_id: str
    runs_dir: str


class Interrupted(DlrunError):
    """The user stopped the run (SIGINT / SIGTERM); `resume_at`, when the run can be continued."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, resume_at: ResumeAt | None = None):
        super().__init__(message)
        self.resume_at = resume_at


class Pruned(DlrunError):
    """A sweep's pruner stopped the run early: it was not promising (not a failure)."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message, at most `limit` characters (its class name if empty),
    for a message that quotes a library's failure. Keras's wrapper around a failing `call()` is skipped
    for the exception that caused it.

        >>> first_line(ValueError("bad shape\\n  at layer 3")), first_line(KeyError())
        ('bad shape', 'KeyError')
    """
    inner = exc
    while str(inner).startswith("Exception encountered when calling") and (inner.__cause__ or inner.__context__):
        inner = inner.__cause__ or inner.__context__
        while inner.__cause__ or inner.__context__:
            inner = inner.__cause__ or inner.__context__
    lines = re.sub(r"\x1b\[[0-9;]*m", "", str(inner)).strip().splitlines()
    return (lines[0] if lines else type(inner).__name__)[:limit]
