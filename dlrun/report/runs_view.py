"""Renderables for finding and comparing runs: `dlrun runs`, `show`, `compare`, and the
evaluation summary. Reads only the runs' JSON and YAML files: no TensorFlow, scikit-learn or matplotlib."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dlrun.runs.artifacts import MANIFEST, read_config, report_path
from dlrun.runs.config_diff import config_differences

STATUS_STYLE = {"completed": "green", "running": "cyan", "failed": "red", "interrupted": "yellow", "diverged": "magenta",
                "pruned": "blue"}


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    return "—" if value is None else str(value)


def scored_once(test: dict) -> str:
    """The headline test metrics of a model scored once (k-fold's final model, a sweep's retrained best);
    with several outputs, each output's, after its name."""
    return "; ".join(f"{name}: " * bool(name) + "  ".join(f"{k}={fmt(result[k])}" for k in
                                                        ("accuracy", "balanced_accuracy", "mae", "rmse") if k in result)
                     for name, result in _outputs(test).items())


class AtWidth:
    """A renderable laid out for the width it is printed at: rich asks `layout(width)` for it when it
    measures it (a panel that fits its content) and when it renders it."""

    def __init__(self, layout: Callable[[int], RenderableType]):
        self.layout = layout

    def __rich_console__(self, console, options):
        yield self.layout(options.max_width)

    def __rich_measure__(self, console, options):
        return Measurement.get(console, options, self.layout(options.max_width))


def _span(cells: list[str]) -> tuple[int, int]:
    """(longest word, longest line) of a column's cells (rich markup), in terminal cells."""
    plain = [Text.from_markup(cell).plain for cell in cells]
    words = [cell_len(word) for text in plain for word in text.split()]
    lines = [cell_len(line) for text in plain for line in text.splitlines()]
    return max(words, default=1), max(lines, default=1)


def fitted_table(header: list[str], rows: list[list[str]], width: int, right: tuple = (), **options) -> Table | None:
    """A table of these cells (rich markup) at most `width` wide, each column at least as wide as its
    longest word, so that a narrow console wraps cells between words instead of cutting them to '…'.
    The room left goes first to the columns that need least of it to show their cells on one line.
    None when the longest words alone do not fit (the caller then drops columns or transposes)."""
    spans = [_span([name, *(row[index] for row in rows)]) for index, name in enumerate(header)]
    widths = [low for low, _ in spans]
    room = width - (3 * len(header) + 1) - sum(widths)  # per column: padding 2 and a rule; one edge more
    if room < 0:
        return None
    for index in sorted(range(len(spans)), key=lambda i: spans[i][1] - spans[i][0]):
        extra = min(room, spans[index][1] - spans[index][0])
        widths[index] += extra
        room -= extra
    table = Table(show_header=True, header_style="bold", **options)
    for name, column_width in zip(header, widths):
        table.add_column(name, width=column_width, justify="right" if name in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def folded_table(header: list[str], rows: list[list[str]], right: tuple = (), **options) -> Table:
    """The last resort of a console too narrow even for the longest words: cells fold, never end in '…'."""
    table = Table(show_header=True, header_style="bold", **options)
    for name in header:
        table.add_column(name, justify="right" if name in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _duration(info: dict) -> str:
    seconds = info.get("seconds")
    if seconds is None:
        try:
            start = datetime.fromisoformat(info["started"])
            end = datetime.fromisoformat(info["finished"])
            seconds = (end - start).total_seconds()
        except (KeyError, ValueError, TypeError):
            return "—"
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def backend_of(info: dict) -> str:
    """The Keras backend a run used (runs from before backends were recorded ran on TensorFlow)."""
    return str(info.get("backend") or info.get("runtime", {}).get("backend") or "tensorflow")


RUN_COLUMNS = ("id", "name", "status", "backend", "started", "duration", "headline")
# The layouts `dlrun runs` tries, widest first; "status/headline" is one column: the headline under the status.
RUN_LAYOUTS = (RUN_COLUMNS, ("id", "status", "backend", "started", "duration", "headline"),
               ("id", "status", "backend", "duration", "headline"), ("id", "status", "duration", "headline"),
               ("id", "status", "headline"), ("id", "status/headline"), ("id/status/headline",))


def runs_table(runs: list[dict]) -> AtWidth:
    """`dlrun runs`, at the console's width: the first of RUN_LAYOUTS whose columns' longest words fit;
    the caption names what it leaves out (the run id holds the start and the name)."""
    cells = [_run_cells(info) for info in runs]
    return AtWidth(lambda width: _runs_at(cells, width, f"{len(runs)} run(s)"))


def _run_cells(info: dict) -> dict[str, str]:
    status = info.get("status", "?")
    headline = info.get("headline") or {}
    return {"id": str(info.get("run_id", "?")), "name": str(info.get("name", "?")),
            "status": f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]", "backend": backend_of(info),
            **({"name": f"{info.get('name', '?')} ← {_parent_name(info['parent'])}"} if info.get("parent") else {}),
            "started": str(info.get("started", "—"))[:19].replace("T", " "), "duration": _duration(info),
            "headline": f"{headline.get('name', '')} {fmt(headline.get('value'))}" if headline else "—"}


def _parent_name(parent: dict) -> str:
    """A warm start's parent in the runs table: its run id, or its model file's name."""
    return str(parent.get("run") or Path(str(parent.get("source", "?"))).name)


def _runs_at(cells: list[dict], width: int, title: str) -> Table:
    right = ("duration", "headline")
    for layout in RUN_LAYOUTS:
        rows = [["\n".join(row[key] for key in column.split("/")) for column in layout] for row in cells]
        shown = "/".join(layout).split("/")
        left_out = [c for c in RUN_COLUMNS if c not in shown]
        caption = f"not shown at this width: {', '.join(left_out)} (see dlrun show RUN)" if left_out else None
        table = fitted_table(list(layout), rows, width, right, title=title, caption=caption)
        if table is not None:
            return table
    return folded_table(list(layout), rows, right, title=title, caption=caption)


def run_card(info: dict, metrics: dict | None, lineage: list[str] = ()) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")  # a long path folds rather than ending in '…'
    status = info.get("status", "?")
    table.add_row("status", f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"
                  + (f" — {info['error']}" if info.get("error") else ""))
    for key in ("name", "kind", "started", "finished", "seed", "spec_file", "git_commit"):
        if info.get(key) is not None:
            table.add_row(key, str(info[key]))
    table.add_row("duration", _duration(info))
    if lineage:
        preprocessing = (info.get("parent") or {}).get("preprocessing")
        table.add_row("warm start", " ← ".join(["this run", *lineage])
                      + (f"  (preprocessing {preprocessing})" if preprocessing else ""))
    data = info.get("data", {})
    if data:
        table.add_row("data", f"{data.get('source')}  rows={data.get('rows')}  split={data.get('split')}")
    runtime = info.get("runtime", {})
    if runtime:
        table.add_row("device", f"{runtime.get('device')}  deterministic={runtime.get('deterministic')}")
    version = runtime.get("backend_version")
    table.add_row("backend", backend_of(info) + (f" {version}" if version else ""))
    if info.get("epochs_run") is not None:
        table.add_row("epochs", f"{info['epochs_run']} run, best {info.get('best_epoch')}")
    if metrics:
        part = metrics.get("part", "test")
        for name, result in _outputs(metrics.get(part, {})).items():
            keys = ("mae", "rmse", "r2") if result.get("task") == "regression" else \
                ("accuracy", "subset_accuracy", "hamming_loss", "balanced_accuracy", "f1_micro", "f1_macro")
            shown = "  ".join(f"{k}={fmt(result[k])}" for k in keys if k in result)
            table.add_row(f"{part} {name}".strip(), shown)
            if result.get("warning"):
                table.add_row("", f"[yellow]{result['warning']}[/]")
        fit = metrics.get("fit")
        if fit:
            table.add_row("fit", fit.get("verdict", "?"))
        for flag in (metrics.get("audit") or {}).get("flags", []):
            table.add_row("audit", f"[yellow]{flag}[/]")
    if info.get("summary"):  # a k-fold run's mean and std across folds
        for key, value in info["summary"].items():
            table.add_row(key, fmt(value))
    return Panel(table, title=f"[bold]{info.get('run_id', '?')}[/]", expand=False)


def _outputs(section: dict) -> dict[str, dict]:
    """A metrics section as {output name: metrics}; a single output is keyed ''."""
    if section and all(isinstance(v, dict) and "task" in v for v in section.values()):
        return section
    return {"": section} if section else {}


def comparison(runs: list[tuple[dict, dict | None, Path]]) -> Group:
    """Metrics side by side, then the config keys whose values differ."""
    metrics_table = Table(show_header=True, header_style="bold", title="metrics")
    metrics_table.add_column("metric")
    for info, _, _ in runs:
        metrics_table.add_column(info.get("run_id", "?"), justify="right")
    rows: dict[str, list] = {}
    for index, (info, metrics, _) in enumerate(runs):
        values = {"status": info.get("status"), "backend": backend_of(info), "epochs run": info.get("epochs_run"),
                  "best epoch": info.get("best_epoch")}
        if metrics:
            part = metrics.get("part", "test")
            for name, result in _outputs(metrics.get(part, {})).items():
                for key in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "mae", "rmse", "r2"):
                    if key in result:
                        values[f"{part} {name} {key}".replace("  ", " ")] = result[key]
            for key, value in metrics.get("validation_at_best", {}).items():
                values[key] = value
        if info.get("summary"):  # a k-fold run's mean and std across folds
            values.update(info["summary"])
        for key, value in values.items():
            rows.setdefault(key, [None] * len(runs))[index] = value
    for key, values in rows.items():
        metrics_table.add_row(key, *(fmt(v) for v in values))
    diff = config_differences([read_config(path) for _, _, path in runs])
    diff_table = Table(show_header=True, header_style="bold", title="config differences")
    diff_table.add_column("key")
    for info, _, _ in runs:
        diff_table.add_column(info.get("run_id", "?"))
    for key, values in diff.items():
        diff_table.add_row(key, *(fmt(v) for v in values))
    if not diff:
        diff_table.add_row("(the resolved configs are identical)", *([""] * len(runs)))
    return Group(metrics_table, diff_table)


def evaluation_panel(result) -> Panel:
    document = result.document
    part = result.part
    table = Table(show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("value", justify="right")
    for name, values in _outputs(document.get(part, {})).items():
        prefix = f"{name} " if name else ""
        keys = ("mae", "mse", "rmse", "r2") if values.get("task") == "regression" else \
            ("accuracy", "subset_accuracy", "hamming_loss", "balanced_accuracy", "precision_macro", "recall_macro",
             "f1_micro", "f1_macro", "roc_auc", "roc_auc_ovr", "log_loss")
        for key in keys:
            if key in values:
                table.add_row(prefix + key, fmt(values[key]))
        base = values.get("baseline", {})
        key = {"regression": "mae", "multilabel": "subset_accuracy"}.get(values.get("task"), "accuracy")
        if key in base:
            table.add_row(prefix + f"baseline {key}", fmt(base[key]))
            table.add_row(prefix + "margin over baseline", fmt(values.get("margin_over_baseline")))
    items: list = [table]
    for name, values in _outputs(document.get(part, {})).items():
        if values.get("warning"):
            items.append(f"[yellow]warning:[/] {values['warning']}")
    fit = document.get("fit") or {}
    if fit.get("verdict"):
        items.append(f"fit: [bold]{fit['verdict']}[/]" + "".join(f"\n  - {f}" for f in fit.get("flags", [])))
    for flag in (document.get("audit") or {}).get("flags", []):
        items.append(f"[yellow]audit:[/] {flag}")
    for note in result.notes:
        items.append(f"[yellow]note:[/] {note}")
    items.append(f"report: [bold]{report_path(result.folder)}[/]")
    return Panel(Group(*items), title=f"[bold]{result.run.run_id}[/] on {part}", expand=False)


def kfold_panel(result) -> Panel:
    """Each fold's headline metrics, then mean, sample std and 95% CI; the final model if any."""
    return _kfold_view(result.summary, result.skipped, result.run.run_id, str(result.run.path), "completed",
                       result.notes)


def kfold_card(info: dict, summary: dict | None) -> Panel:
    """`dlrun show` for a k-fold run: its status and, once it finished, the fold table."""
    if not summary:
        return run_card(info, None)
    return _kfold_view(summary, [], info.get("run_id", "?"), info.get("path", ""), info.get("status", "?"))


def _kfold_view(summary: dict, skipped: list, run_id: str, path: str, status: str, notes: list = ()) -> Panel:
    items: list = _fold_blocks(summary)
    if skipped:
        items.append(f"resumed: folds {', '.join(map(str, skipped))} were already finished")
    final = summary.get("final_model")
    if final:
        items.append(f"final model ({final['epochs']} epochs) on {final['test_rows']} test rows: {scored_once(final['test'])}")
    if path:
        items.append(f"run directory: [bold]{path}[/]")
    items.extend(f"[yellow]note:[/] {note}" for note in notes)
    style = STATUS_STYLE.get(status, "white")
    return Panel(Group(*items), title=f"[bold {style}]{status}[/] {run_id} — {summary['protocol']}", expand=False)


def _fold_blocks(summary: dict) -> list[AtWidth]:
    """The fold table: one block per output (the target's name as its title when there are several),
    folds as rows where the metrics fit side by side, else transposed: metrics as rows."""
    keys = [k for k in summary["stats"] if not k.rpartition(".")[2].startswith(("precision", "recall", "mse"))]
    outputs: dict[str, list[str]] = {}
    for key in keys:
        outputs.setdefault(key.rpartition(".")[0], []).append(key)
    return [AtWidth(lambda width, name=name, keys=keys: _fold_block(summary, name, keys[:7], width))
            for name, keys in outputs.items()]


def _fold_block(summary: dict, output: str, keys: list[str], width: int) -> Table:
    stats, folds = summary["stats"], summary["folds"]
    metrics = [key.rpartition(".")[2] for key in keys]
    ci = ["—" if not stats[k]["ci95"] else f"{stats[k]['ci95'][0]:.3f} – {stats[k]['ci95'][1]:.3f}" for k in keys]
    rows = [[str(row["fold"]), *(fmt(row.get(k)) for k in keys)] for row in folds]
    rows += [["[bold]mean[/]", *(fmt(stats[k]["mean"]) for k in keys)],
             ["[bold]std[/]", *(fmt(stats[k]["std"]) for k in keys)], ["[bold]95% CI[/]", *ci]]
    title = f"[bold]{output}[/]" if output else None
    wide = fitted_table(["fold", *metrics], rows, width, tuple(metrics), title=title)
    if wide is not None:
        return wide
    header = ["metric", "mean", "std", "95% CI", f"folds {folds[0]['fold']}–{folds[-1]['fold']}" if folds else "folds"]
    turned = [[metric, fmt(stats[k]["mean"]), fmt(stats[k]["std"]), interval, " ".join(fmt(r.get(k)) for r in folds)]
              for metric, k, interval in zip(metrics, keys, ci)]
    return fitted_table(header, turned, width, ("mean", "std"), title=title) or \
        folded_table(header, turned, ("mean", "std"), title=title)


def overview_card(overview: dict) -> Panel:
    """`dlrun show`: a k-fold run's fold table, or a holdout run's card."""
    if "summary" in overview:
        return kfold_card(overview["run"], overview["summary"])
    return run_card(overview["run"], overview["metrics"], overview.get("lineage", ()))


def export_panel(report: dict, folder: Path) -> Panel:
    """`dlrun export`: each format's file, its check against predict and the verdict."""
    table = Table(show_header=True, header_style="bold")
    for column in ("format", "file", "quantized", "largest difference", "class agreement", "check"):
        table.add_column(column)
    for name, check in report["formats"].items():
        figures = check.get("outputs", {}).values()
        largest = max((f["max_abs_difference"] for f in figures if "max_abs_difference" in f), default=None)
        agreement = min((f["agreement"] for f in figures if "agreement" in f), default=None)
        table.add_row(name, check["file"], check["quantization"], "" if largest is None else f"{largest:.1e}",
                      "" if agreement is None else f"{agreement:.2%}",
                      "[green]ok[/]" if check["passed"] else f"[red]failed[/]: {check['verdict']}")
    rows = report["rows"]
    items: list = [table, f"checked on {rows['n']} {rows['part']} rows against `dlrun predict` "
                          f"({report['tolerance']['float']} for float formats)"]
    items += [f"[yellow]note:[/] {note}" for note in report.get("notes", [])]
    items.append(f"export: [bold]{folder}[/] ({MANIFEST}: inputs, outputs, classes, sha256)")
    return Panel(Group(*items), title=f"export {report['run_id']}", expand=False)
