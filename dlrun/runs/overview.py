"""What `dlrun show` and `dlrun compare` report about runs, as plain documents (also their --json)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
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
    more = {"lineage": lineage(info, run.path.parent)} if info.get("parent") else {}
    return {"run": info, **{name: readers[name](run.path) for name in kind_of(info).shows}, "path": str(run.path),
            **more}


MAX_LINEAGE = 20   # ancestors followed at most (a chain of warm starts; a loop is cut too)


def lineage(info: dict, runs_dir: Path) -> list[str]:
    """The warm-start ancestors of a run, nearest first: each parent's run id (or model file), read from
    the `parent` entry of each run.json in turn (the parent looked up beside the run, else where it was
    when the run started), as far as the folders are still there."""
    chain: list[str] = []
    parent = info.get("parent")
    while isinstance(parent, dict) and len(chain) < MAX_LINEAGE:
        chain.append(str(parent.get("run") or parent.get("source")))
        if parent.get("run") is None or chain.count(chain[-1]) > 1:
            break
        found = [f for f in (runs_dir / str(parent["run"]), Path(str(parent.get("source", "")))) if artifacts.is_run(f)]
        if not found:
            break
        folder = found[0]
        try:
            parent = artifacts.read_info(folder).get("parent")
        except Exception:  # noqa: BLE001 - a damaged ancestor ends the chain; the run itself is still shown
            break
    return chain


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


VALIDATION = "val_"  # a history column's prefix for the validation part's value
PART_DEPTH = 4       # how far above a run folder the run holding it may be: SWEEP/trials/NNN/folds/NN


@dataclass(frozen=True)
class Curve:
    """One run's per-epoch curve of one history column, for `compare --plot`.

    A k-fold run's curve is the mean over its folds (those that reached the epoch), with the lowest and
    the highest fold value per epoch (`low`, `high`) for a band; a run's own history has no band."""

    run: str                    # the run as the CLI names it: its id, SWEEP:NNN for a trial, RUN/folds/NN for a part
    column: str                 # the history column drawn
    epochs: list[int]
    values: list[float]
    params: dict = field(default_factory=dict)   # a sweep trial's parameters
    folds: int = 0              # how many folds were averaged (0: the run's own history)
    low: list[float] | None = None
    high: list[float] | None = None
    stands_for: str = ""        # the validation column asked for, when this run has none (trained without one)


def metric_names(metric: str) -> list[str]:
    """`--metric loss,val_loss` as ["loss", "val_loss"] (each name once, in the order given)."""
    names = list(dict.fromkeys(name.strip() for name in metric.split(",") if name.strip()))
    if not names:
        raise UserError("--metric names no history column (e.g. --metric val_loss, or --metric loss,val_loss)")
    return names


def comparison_panels(runs: list[RunDir], metric: str = "val_loss") -> dict[str, list[Curve]]:
    """{history column: the runs' curves of it}, one panel each for `compare --plot`, training columns
    before their validation twins (loss, val_loss, accuracy, val_accuracy).

    `metric` is one column or several, comma-separated; each is a panel of its own, so a training and a
    validation curve never share an axis. A run without `val_X` (trained without a validation part) is
    drawn from `X` in the training panel, marked as standing in; a k-fold run from its folds' histories
    (mean, min and max per epoch), never from its final model's. A run that has neither column is a
    UserError naming the columns it has.
    """
    names = metric_names(metric)
    panels: dict[str, list[Curve]] = {}
    for run in runs:
        for curve in _run_curves(run, names):
            panels.setdefault(curve.column, []).append(curve)
    quantities = list(dict.fromkeys(c.removeprefix(VALIDATION) for c in [*names, *panels]))
    return dict(sorted(panels.items(), key=lambda item: (quantities.index(item[0].removeprefix(VALIDATION)),
                                                         item[0].startswith(VALIDATION))))


def _run_curves(run: RunDir, names: list[str]) -> list[Curve]:
    info = run.read_info()
    label, params = _display_name(run, info), info.get("params") if isinstance(info.get("params"), dict) else {}
    folds = artifacts.fold_folders(run.path)
    if folds:
        return [_fold_curve(run, folds, name, label) for name in names]
    columns, rows = artifacts.read_history_table(run.path)
    columns = [c for c in columns if c != "epoch"]
    curves: dict[str, Curve] = {}
    for name in names:
        column = name if name in columns else _training_twin(name)
        if column not in columns:
            raise _no_column(run, label, name, columns)
        kept = [row for row in rows if column in row]
        stands_for = name if column != name else curves[column].stands_for if column in curves else ""
        curves[column] = Curve(label, column, [row["epoch"] for row in kept], [row[column] for row in kept],
                               params=params, stands_for=stands_for)
    return list(curves.values())


def _training_twin(name: str) -> str | None:
    return name[len(VALIDATION):] if name.startswith(VALIDATION) else None


def _no_column(run: RunDir, label: str, name: str, columns: list[str]) -> UserError:
    if not columns and artifacts.trial_folders(run.path):
        return UserError(f"{label} is a sweep: it has no per-epoch curve of its own; compare its trials instead, "
                         f"named {run.run_id}:N (a trial's number) or {run.run_id}:best")
    has = f"it has {', '.join(columns)}" if columns else "it has no per-epoch history"
    return UserError(f"run {label} has no '{name}' per epoch ({has}); choose one with --metric METRIC "
                     f"(several, comma-separated: --metric loss,val_loss)")


def _fold_curve(run: RunDir, folds: list[Path], name: str, label: str) -> Curve:
    """The mean of `name` over a k-fold run's folds per epoch, with the lowest and the highest fold value."""
    tables = [artifacts.read_history_table(fold) for fold in folds]
    histories = [rows for columns, rows in tables if name in columns]
    if not histories:
        has = sorted({c for columns, _ in tables for c in columns if c != "epoch"})
        why = "; split.curves: false scored each fold once, after its last epoch" \
            if name.startswith(VALIDATION) and artifacts.read_config(run.path).get("split", {}).get("curves") is False else ""
        raise UserError(f"k-fold run {label}: its folds have no '{name}' per epoch "
                        f"({'they have ' + ', '.join(has) if has else 'they have no per-epoch history'}{why}); "
                        f"its final model's training curve does not stand in for it — choose another with --metric")
    epochs, mean, low, high = [], [], [], []
    for index in range(max(len(rows) for rows in histories)):
        values = [rows[index][name] for rows in histories
                  if len(rows) > index and math.isfinite(rows[index].get(name, math.nan))]
        if values:
            epochs.append(index + 1)
            mean.append(sum(values) / len(values))
            low.append(min(values))
            high.append(max(values))
    return Curve(label, name, epochs, mean, folds=len(histories), low=low, high=high)


def _display_name(run: RunDir, info: dict) -> str:
    """How the CLI names the run: a sweep's trial as SWEEP:NNN (what `dlrun show` and compare accept),
    a part of a run (a fold, a final model) by its path from the run that holds it, else its id."""
    if isinstance(info.get("sweep"), str) and isinstance(info.get("trial"), int):
        return f"{info['sweep']}:{info['trial']:03d}"
    holders = [p for p in list(run.path.parents)[:PART_DEPTH] if artifacts.is_run(p)]  # RUN/folds/NN, SWEEP/trials/NNN/...
    return run.path.relative_to(holders[-1].parent).as_posix() if holders else run.run_id
