"""Find runs: by id, unique id prefix, path, or `latest`; list them from their status records.

Ids never resolve outside the runs directory. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import re
from pathlib import Path

from dlrun.errors import RunLookupError, UserError
from dlrun.runs.artifacts import RUN_INFO, peek_info, read_best, read_info, trial_folder, trial_folders
from dlrun.runs.artifacts import is_run as _is_run
from dlrun.runs.lock import live
from dlrun.runs.rundir import LISTED_STATUSES, RunDir
from dlrun.did_you_mean import suggest

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def run_dirs(runs_dir: Path) -> list[Path]:
    """Run folders under runs_dir, oldest first (ids start with their start time)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    # a symlink is never a run: it could point anywhere, and ids must not resolve outside runs_dir
    return sorted(p for p in runs_dir.iterdir()
                  if not p.is_symlink() and p.is_dir() and not p.name.startswith(".") and _is_run(p))


def resolve_run(ref: str, runs_dir: Path) -> RunDir:
    """The run `ref` names.

    Example:
        >>> resolve_run("latest", Path("runs"))  # doctest: +SKIP
        RunDir(path=PosixPath('runs/20261121-205301-digits-mlp-3f9a'))
    """
    runs_dir = Path(runs_dir)
    if ":" in ref and "/" not in ref and "\\" not in ref:
        return _trial(ref, runs_dir)
    if ref == "latest":
        runs = run_dirs(runs_dir)
        if not runs:
            raise RunLookupError(f"no runs in {runs_dir} yet — train one with `dlrun train CONFIG`")
        return RunDir(max(runs, key=_started))
    if "/" in ref or "\\" in ref or ref in (".", ".."):
        path = Path(ref)
        inside = runs_dir.resolve() in path.resolve().parents  # a run, or a sweep's trial inside one
        if not inside:
            raise RunLookupError(f"{ref}: not a run directory inside the runs directory {runs_dir} "
                                 f"(point --runs-dir at the folder that holds it)")
        if path.is_dir() and _is_run(path):
            return RunDir(path)
        raise RunLookupError(f"{ref}: not a run directory (it has no {RUN_INFO})")
    if not ID_RE.match(ref):
        raise RunLookupError(f"'{ref}' is not a run id: ids hold only letters, digits, '.', '_' and '-'")
    runs = run_dirs(runs_dir)
    exact = [p for p in runs if p.name == ref]
    if exact:
        return RunDir(exact[0])
    matches = [p for p in runs if p.name.startswith(ref)]
    if len(matches) == 1:
        return RunDir(matches[0])
    if len(matches) > 1:
        listing = ", ".join(p.name for p in matches[:5]) + (", …" if len(matches) > 5 else "")
        raise RunLookupError(f"'{ref}' matches {len(matches)} runs in {runs_dir} ({listing}); give more of the id")
    names = [p.name for p in runs]
    hint = suggest(ref, names) if names else ""
    raise RunLookupError(f"no run '{ref}' in {runs_dir}{hint}" + ("" if names else " (it holds no runs)"))


def _trial(ref: str, runs_dir: Path) -> RunDir:
    """`SWEEP:N` (a trial's number) or `SWEEP:best` (the best trial) names a sweep's trial."""
    sweep_ref, _, which = ref.rpartition(":")
    sweep = resolve_run(sweep_ref, runs_dir)
    if read_info(sweep.path).get("kind") != "sweep":
        raise RunLookupError(f"'{ref}': {sweep.run_id} is not a sweep (SWEEP:N names a sweep's trial)")
    if which == "best":
        best = read_best(sweep.path)
        if best is None:
            raise RunLookupError(f"'{ref}': sweep {sweep.run_id} has no completed trial yet")
        which = str(best["number"])
    if not which.isdigit():
        raise RunLookupError(f"'{ref}': after ':' give a trial number or 'best'")
    folder = trial_folder(sweep.path, int(which))
    if not _is_run(folder):
        numbers = ", ".join(p.name for p in trial_folders(sweep.path)) or "none yet"
        raise RunLookupError(f"'{ref}': sweep {sweep.run_id} has no trial {int(which)} (trials: {numbers})")
    return RunDir(folder)


def _started(path: Path) -> tuple[float, str]:
    """Sort key: the start time as a moment (UTC offsets compared properly), then the id."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(peek_info(path)["started"]).timestamp()
    except (KeyError, TypeError, ValueError):
        moment = float("-inf")
    return moment, path.name


def list_runs(runs_dir: Path, name: str | None = None, status: str | None = None) -> list[dict]:
    """The status record of every run (with `path`), filtered by a name substring and a status."""
    if status is not None and status not in LISTED_STATUSES:
        raise UserError(f"--status must be one of {', '.join(LISTED_STATUSES)}, not '{status}'")
    out = []
    for path in run_dirs(runs_dir):
        info = live(path, peek_info(path))
        info.setdefault("run_id", path.name)
        info["path"] = str(path)
        if name and name not in str(info.get("name", "")):
            continue
        if status and info.get("status") != status:
            continue
        out.append(info)
    return out
