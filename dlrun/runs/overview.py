"""What `dlrun show` and `dlrun compare` report about runs, as plain documents (also their --json)."""

from __future__ import annotations

from pathlib import Path

from dlrun.errors import UserError
from dlrun.runs import artifacts
from dlrun.runs.config_diff import config_differences
from dlrun.runs.lookup import resolve_run
from dlrun.runs.rundir import RunDir


def run_overview(run: RunDir) -> dict:
    """{"run": status record, "metrics" (holdout) or "summary" (k-fold): ..., "path": folder}."""
    info = run.read_info()
    if info.get("kind") == "kfold":
        return {"run": info, "summary": artifacts.read_summary(run.path), "path": str(run.path)}
    return {"run": info, "metrics": artifacts.read_metrics(run.path), "path": str(run.path)}


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
