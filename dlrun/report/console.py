"""What the CLI shows people: spec summaries, live epoch progress, final tables (rich).

Each function builds a renderable; the CLI only prints it. No TensorFlow here.
"""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dlrun.report.linear_model import linear_margin

from dlrun.spec.model_forms import layer_entry
from dlrun.spec.models import ExperimentSpec


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    return "—" if value is None else str(value)


def spec_summary(spec: ExperimentSpec, source: str) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")  # a long path folds rather than ending in '…'
    data = spec.data
    table.add_row("file", source)
    table.add_row("data", f"{data.source}" + (f"  target={data.target}" if data.target else "")
                  + f"  scale={data.scale}  impute={data.impute}" + (f"  reshape={data.reshape}" if data.reshape else "")
                  + ("  streamed" if data.streaming else ""))
    s = spec.split
    table.add_row("split", f"{s.protocol}  test={s.test}  validation={s.validation}  shuffle={s.shuffle}"
                  + (f"  folds={s.folds}" if s.protocol != "holdout" else ""))
    if spec.model.is_graph:
        model = (f"graph: {len(spec.model.inputs)} input(s), {len(spec.model.nodes)} node(s), "
                 f"{len(spec.model.outputs)} output(s)")
    else:
        model = " → ".join(layer_entry(item)[0] for item in spec.model.layers)
    table.add_row("model", model + (f"  as {spec.model.model_class}" if spec.model.model_class else ""))
    opt = spec.optimizer
    table.add_row("optimizer", f"{opt.name}  lr={opt.learning_rate}"
                  + (f"  schedule={opt.schedule.type}" if opt.schedule else ""))
    table.add_row("loss", spec.loss or "follows the task")
    table.add_row("metrics", ", ".join(spec.metrics) if spec.metrics else "follow the task")
    t = spec.training
    table.add_row("training", f"epochs={t.epochs}  batch_size={t.batch_size}  backend={t.backend}  device={t.device}  "
                              f"seed={spec.seed}")
    callbacks = [n for n in ("early_stopping", "model_checkpoint", "reduce_lr_on_plateau")
                 if getattr(spec.callbacks, n) is not None]
    callbacks += [name for name, _ in spec.callbacks.custom_entries()]
    table.add_row("callbacks", ", ".join(callbacks) or "none")
    if spec.sweep is not None:
        w = spec.sweep
        table.add_row("sweep", f"{w.algorithm}  {w.trial_count()} trials  {w.objective.metric} ({w.objective.mode})  "
                               f"evaluate={w.evaluate}  pruner={w.pruner}  params: {', '.join(w.params)}")
    return Panel(table, title=f"[bold]{spec.name}[/] is valid", expand=False)


class EpochProgress:
    """A progress bar over epochs showing the latest metrics; feed it rows with `update`.
    When the output is not a terminal (CI logs), it prints one line per epoch instead."""

    def __init__(self, console, epochs: int):
        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(TextColumn("[bold]epoch"), MofNCompleteColumn(), BarColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[metrics]}"),
                                 console=console, transient=False)
        self.task = self.progress.add_task("train", total=epochs, metrics="")

    def __enter__(self):
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.live:
            self.progress.stop()

    def update(self, row: dict) -> None:
        shown = "  ".join(f"{k}={_fmt(v)}" for k, v in row.items() if k != "epoch"
                          and (k in ("loss", "val_loss") or "acc" in k or "mae" in k))
        if self.live:
            self.progress.update(self.task, completed=row["epoch"], metrics=shown)
        else:
            self.console.print(f"epoch {row['epoch']}/{self.progress.tasks[0].total}  {shown}", highlight=False)


def train_summary(result) -> Panel:
    metrics = result.metrics
    table = Table(show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("epochs run", str(result.epochs_run))
    table.add_row(f"best epoch (by {result.monitor})", _fmt(result.best_epoch))
    for key, value in metrics.get("validation_at_best", {}).items():
        table.add_row(f"validation {key[4:]}", _fmt(value))
    test = metrics.get("test", {})
    outputs = test if test and all(isinstance(v, dict) and "task" in v for v in test.values()) else {"": test}
    for name, values in outputs.items():
        prefix = f"test {name} " if name else "test "
        keys = {"regression": ("mae", "rmse", "r2"), "multilabel": ("subset_accuracy", "hamming_loss", "f1_micro",
                                                                    "f1_macro")}.get(
            values.get("task"), ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"))
        for key in keys:
            if key in values:
                table.add_row(prefix + key, _fmt(values[key]))
        base = values.get("baseline")
        if base:
            key = next(k for k in ("accuracy", "subset_accuracy", "mae") if k in base)
            table.add_row(prefix + f"baseline {key}", _fmt(base[key]))
        margin = linear_margin(values)
        if margin is not None:
            table.add_row(prefix + f"linear model {margin[0]}", _fmt(values["linear_model"][margin[0]]))
    items = [table, f"run directory: [bold]{result.run.path}[/]"]
    if result.phases:
        from dlrun.runs.timing import phase_line

        items.append(f"[dim]time: {phase_line(result.phases, result.epochs_run)}[/]")
    items.extend(f"[yellow]note:[/] {note}" for note in result.notes)
    return Panel(Group(*items), title=f"[bold green]completed[/] {result.run.run_id}", expand=False)


def build_panel(check) -> Panel:
    """`dlrun validate --build`: the model's layers as a table (report/model_summary.py), the parameter
    counts, rows per part and losses."""
    from dlrun.report.model_summary import summary_table

    split = check.split
    heads = ", ".join(f"{name}: {loss}" for name, loss in check.losses.items())
    text = (f"rows: {sum(split.values())} (train {split['train']}, validation {split['validation']}, "
            f"test {split['test']})\nloss: {heads}")
    return Panel(Group(summary_table(check.model), text), title=f"[bold]{check.name}[/] builds", expand=False)


def fold_line(result: dict, total: int) -> str:
    """One finished fold's headline metrics, as `dlrun kfold` prints them."""
    from dlrun.report.cv_summary import fold_scalars

    scalars = fold_scalars(result["metrics"])
    shown = "  ".join(f"{k}={v:.4f}" for k, v in scalars.items() if "baseline" not in k)
    return f"fold {result['fold']}/{total}  {shown}"


class TrainConsole:
    """What `dlrun train` shows while it runs: the run's folder, then live epoch progress."""

    def __init__(self, console):
        self.console = console
        self.progress: EpochProgress | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def begin(self, run, epochs: int, resumed: bool) -> None:
        self.console.print(f"{'resuming run' if resumed else 'run'} [bold]{run.run_id}[/] → {run.path}")
        self.progress = EpochProgress(self.console, epochs).__enter__()

    def epoch(self, row: dict) -> None:
        if self.progress is not None:
            self.progress.update(row)
