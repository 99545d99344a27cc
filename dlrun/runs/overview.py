"""What `dlrun show` and `dlrun compare` report about runs, as plain documents (also their --json)."""

from __future__ import annotations

from pathlib import Path

from dlrun.errors import UserError
from dlrun.runs import artifacts
from dlrun.runs.config_diff import config_differences
from dlrun.runs.kinds import kind_of
from dlrun.runs.lock import live
from dlrun.runs.lookup import resolve_run
from dlrun.runs.rundir import RunDir


def run_overview(run: RunDir) -> dict:
    """{"run": status record, what its kind shows (runs/kinds.py: "metrics", "summary", or "trials"
    and "best"), "path": folder}."""
    info = live(run.path, run.read_info())
    readers = {"metrics": artifacts.read_metrics, "summary": artifacts.read_summary,
               "trials": artifacts.read_trials_table, "best": artifacts.read_best}
    return {"run": info, **{name: readers[name](run.path) for name in kind_of(info).shows}, "path": str(run.path)}


def runs_to_compare(refs: list[str], runs_dir: Path) -> list[RunDir]:
    if len(refs) < 2:
        raise UserError("compare needs at least two runs")
    return [resolve_run(ref, runs_dir) for ref in refs]


def comparison_entries(runs: list[RunDir]) -> list[tuple[dict, dict | None, Path]]:
    """(status record, metrics, folder) per run, for the comparison table."""
    return [(r.read_info(), artifacts.read_metrics(r.path), r.path) for r in runs]


def comparison_document(runs: list[RunDir]) -> dict:
    """Every run's status record and metrics, then the resolved-spec keys whose values differ."""
    entries = comparison_entries(runs)
    return {"runs": [{"run": info, "metrics": metrics} for info, metrics, _ in entries],
            "config_differences": config_differences([artifacts.read_config(r.path) for r in runs])}


def comparison_curves(runs: list[RunDir], metric: str = "val_loss") -> dict[str, tuple[str, list[int], list[float]]]:
    """{run id: (column used, epochs, values)} of one history column per run, for `compare --plot`.

    A run without `val_<x>` (no validation part) falls back to `<x>`; a k-fold run uses its final
    model's history. A run that has neither is a UserError naming the columns it has.
    """
    curves: dict[str, tuple[str, list[int], list[float]]] = {}
    for run in runs:
        rows = artifacts.read_history(run.path) or artifacts.read_history(artifacts.final_folder(run.path))
        columns = [k for k in (rows[0] if rows else {}) if k != "epoch"]
        column = metric if metric in columns else metric[len("val_"):] if metric.startswith("val_") else None
        if column not in columns:
            has = f"it has {', '.join(columns)}" if columns else "it has no per-epoch history"
            raise UserError(f"run {run.run_id} has no '{metric}' per epoch ({has}); choose one with --plot METRIC")
        kept = [row for row in rows if column in row]
        curves[run.run_id] = (column, [row["epoch"] for row in kept], [row[column] for row in kept])
    return curves
