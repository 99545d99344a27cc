"""What the console shows of a sweep: a line per finished trial, the end-of-sweep panel, the
`--dry-run` plan, and `dlrun show SWEEP`. Reads plain records: no Optuna, TensorFlow or matplotlib."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from dlrun.report.runs_view import STATUS_STYLE, fmt, overview_card, scored_once
from dlrun.spec.monitor import Direction


def short_names(paths: list[str]) -> dict[str, str]:
    """A parameter path's last part as its column name (`Dense.units`), the whole path where two would clash."""
    parts = {p: p.split(".") for p in paths}
    short = {p: ".".join(bits[-2:]) if len(bits) > 1 and bits[-2][:1].isupper() else bits[-1]
             for p, bits in parts.items()}
    clashes = {name for name in short.values() if list(short.values()).count(name) > 1}
    return {p: p if name in clashes else name for p, name in short.items()}


def _params(record: dict) -> str:
    paths = [k.removeprefix("param:") for k in record if k.startswith("param:") or "." in k]
    names = short_names(paths)
    return "  ".join(f"{names[p]}={fmt(record.get(p, record.get('param:' + p)))}" for p in paths)


def trial_line(record: dict) -> str:
    """`trial 003  completed  val_loss=0.1234  12 epochs  3.2s  optimizer.learning_rate=0.01 ...`"""
    value = record.get("objective")
    error = f"  ({record['error']})" if record.get("error") else ""
    seconds = record.get("seconds")
    return (f"trial {int(record['number']):03d}  {record['status']:<9}  objective={fmt(value)}  "
            f"{record.get('epochs_run') or 0} epochs  {0.0 if seconds is None else float(seconds):.1f}s  "
            f"{_params(record)}{error}")


def ranked(rows: list[dict], direction: Direction) -> list[dict]:
    """The completed trials, best first (ties: the earlier trial); rows as the sweep builds them or
    as trials.csv gives them back (text)."""
    done = sorted((r for r in rows if r.get("status") == "completed"), key=lambda r: int(r["number"]))
    return direction.ranked(done, lambda r: _number(r.get("objective")))


def top_table(rows: list[dict], params: list[str], metric: str, direction: Direction, limit: int = 5) -> Table:
    table = Table(show_header=True, header_style="bold", title=f"best {min(limit, len(rows))} of {len(rows)} trial(s)")
    names = short_names(params)
    for column in ("trial", metric, *(names[p] for p in params), "epochs", "seconds"):
        table.add_column(column, justify="left" if column == "trial" else "right")
    for row in ranked(rows, direction)[:limit]:
        seconds = _number(row.get("seconds"))
        table.add_row(f"{int(row['number']):03d}", fmt(_number(row["objective"])),
                      *(fmt(_number(row.get(p), row.get(p))) for p in params),
                      fmt(row.get("epochs_run")), "—" if seconds is None else f"{seconds:.1f}")
    return table


def _number(value, default=None):
    """trials.csv holds text: a number back as a number (None for blanks)."""
    if isinstance(value, (int, float)) or value is None:
        return value
    try:
        return float(value) if any(c in value for c in ".eE") else int(value)
    except (TypeError, ValueError):
        return default


def sweep_card(info: dict, rows: list[dict], best: dict | None, path: str = "") -> Panel:
    """`dlrun sweep`'s last word and `dlrun show SWEEP`: counts, the best trial, the top trials."""
    sweep = info.get("sweep", {})
    metric = sweep.get("objective", {}).get("metric", "objective")
    direction = Direction.from_record(best)
    params = list(best["params"]) if best else sorted({k for r in rows for k in r if "." in k})
    interrupted = sum(str(r.get("error") or "").startswith("interrupted") for r in rows)
    counts = {s: sum(r.get("status") == s for r in rows) for s in ("completed", "pruned", "failed")}
    counts["failed"] -= interrupted
    finished = counts["completed"] + counts["pruned"] + counts["failed"]
    items: list = [f"{sweep.get('algorithm', '?')} search, {finished} of {sweep.get('trials', '?')} trials finished: "
                   f"{counts['completed']} completed, {counts['pruned']} pruned, {counts['failed']} failed"
                   + (f"; {interrupted} interrupted and run again" if interrupted else "")]
    if best:
        items.append(f"best: trial {best['number']:03d} ({best['run_id']})  {metric}={fmt(best['objective']['value'])}")
        items.append("  " + "  ".join(f"{k}={fmt(v)}" for k, v in best["params"].items()))
        items.append(f"  evaluate it: dlrun evaluate {best['run_id']}  (trial folder: trials/{best['number']:03d})")
        retrained = best.get("retrained")
        if retrained:
            items.append(f"retrained best ({retrained['epochs']} epochs) on {retrained['test_rows']} test rows: "
                         f"{scored_once(retrained['test'])}")
    if rows:
        items.append(top_table(rows, params, metric, direction))
    if info.get("recovered_trials"):
        items.append(f"resumed: trial(s) {', '.join(map(str, info['recovered_trials']))} had been left running "
                     f"and were run again")
    if path:
        items.append(f"sweep directory: [bold]{path}[/]")
    status = info.get("status", "?")
    return Panel(Group(*items), title=f"[bold {STATUS_STYLE.get(status, 'white')}]{status}[/] "
                                      f"{info.get('run_id', '?')} — sweep of {metric}", expand=False)


def plan_panel(plan: dict) -> Panel:
    """`dlrun sweep --dry-run`: the search that would run."""
    table = Table(show_header=True, header_style="bold")
    for column in ("parameter", "range"):
        table.add_column(column)
    for path, form in plan["params"].items():
        table.add_row(path, "  ".join(f"{k}: {v}" for k, v in form.items()))
    objective = plan["objective"]
    grid = f" (the grid's size)" if plan.get("grid_size") else ""
    lines = [f"objective {objective['metric']} ({objective['mode']}), evaluate {plan['evaluate']}",
             f"algorithm {plan['algorithm']}, {plan['trials']} trials{grid}, up to {plan['epochs']} epochs each, "
             f"pruner {plan['pruner']}, keep {plan['keep']}, retrain_best {plan['retrain_best']}",
             table, "dry run: nothing was trained and no folder was written"]
    return Panel(Group(*lines), title=f"[bold]{plan['name']}[/] — sweep plan", expand=False)


def show_card(overview: dict) -> Panel:
    """`dlrun show`: a sweep's card, or whatever `overview_card` shows for a run."""
    if "trials" in overview:
        return sweep_card(overview["run"], overview["trials"], overview["best"], overview.get("path", ""))
    return overview_card(overview)


def result_panel(shown) -> Panel:
    """`dlrun sweep`'s last word: the plan of a dry run (a dict), or the finished sweep's card."""
    if isinstance(shown, dict):
        return plan_panel(shown)
    run = shown.run
    return sweep_card(run.read_info(), shown.trials, shown.best, str(run.path))
