"""The dlrun command line: each command parses, calls one library function, and renders.

Heavy libraries (TensorFlow, scikit-learn, matplotlib) are imported inside the commands that
train, so `dlrun --help`, `validate` and `schema` answer at once.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from dlrun import __version__
from dlrun.errors import DlrunError

# dlrun uses no pydantic plugins; looking them up scans every installed package's metadata,
# a noticeable share of `dlrun validate`'s start-up
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

app = typer.Typer(
    name="dlrun",
    help="Describe a Keras experiment in one YAML file; validate, train and evaluate it with one command.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

Config = Annotated[Path, typer.Argument(help="The experiment spec (YAML).", show_default=False)]
ConfigOrResume = Annotated[Optional[Path], typer.Argument(help="The experiment spec (YAML); optional with --resume.",
                                                          show_default=False)]
AllowChanged = Annotated[bool, typer.Option("--allow-changed", help="With --resume: continue even if the spec "
                                                                    "differs from the run's.")]
NewRunsDir = Annotated[Optional[Path], typer.Option("--runs-dir", help="Where the run directory is created "
                                                                       "(default: output.runs_dir, 'runs').")]
RunName = Annotated[Optional[str], typer.Option("--name", help="Run name (default: the spec's name).")]
Smoke = Annotated[bool, typer.Option("--smoke", help="Quick end-to-end check: a small sample of rows, 1 epoch.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show TensorFlow's own log messages.")]
Sets = Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override a spec value: KEY.PATH=VALUE (repeatable).")]


def _fail(exc: DlrunError) -> None:
    from dlrun.errors import Interrupted

    label = "[bold yellow]interrupted:[/] " if isinstance(exc, Interrupted) else "[bold red]error:[/] "
    err.print(label, end="", highlight=False)
    err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _version(value: bool) -> None:
    if value:
        out.print(f"dlrun {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """dlrun: YAML-driven experiments for Keras."""


@app.command()
def validate(
    config: Config,
    set_: Sets = None,
    build: Annotated[bool, typer.Option("--build", help="Also load the data and build the Keras model "
                                                        "(imports TensorFlow) to catch shape errors.")] = False,
    verbose: Verbose = False,
) -> None:
    """Check a spec: print its resolved summary, or every problem with file:line:col."""
    from dlrun.report.console import spec_summary
    from dlrun.spec import load_spec

    try:
        loaded = load_spec(config, set_ or [])
        out.print(spec_summary(loaded.spec, str(config)))
        if build:
            from dlrun.train.runtime import quiet_tensorflow

            quiet_tensorflow(verbose)
            from dlrun.validate_build import build_summary

            out.print(build_summary(loaded))
    except DlrunError as exc:
        _fail(exc)


def _overrides(set_: list[str] | None, runs_dir: Path | None, name: str | None, smoke: bool) -> list[str]:
    """--set values plus the options that are spec values in disguise."""
    overrides = list(set_ or [])
    if runs_dir is not None:
        overrides.append(f"output.runs_dir={json.dumps(str(runs_dir))}")
    if name is not None:
        overrides.append(f"name={json.dumps(name)}")
    if smoke:
        overrides.append("training.epochs=1")
    return overrides


@app.command()
def train(
    config: ConfigOrResume = None,
    set_: Sets = None,
    resume: Annotated[Optional[str], typer.Option("--resume", help="Continue an interrupted run (id, prefix, path "
                                                                   "or 'latest') from its last finished epoch.")] = None,
    allow_changed: AllowChanged = False,
    runs_dir: NewRunsDir = None,
    name: RunName = None,
    smoke: Smoke = False,
    verbose: Verbose = False,
) -> None:
    """Train the experiment, evaluate it on held-out data, and write a run directory."""
    from dlrun.train.runtime import quiet_tensorflow

    quiet_tensorflow(verbose)
    from dlrun.report.console import EpochProgress, train_summary
    from dlrun.spec import load_spec

    overrides = _overrides(set_, runs_dir, name, smoke)
    try:
        if resume is not None:
            from dlrun.experiment import resume_train
            from dlrun.runs.lookup import resolve_run

            previous = resolve_run(resume, runs_dir or Path("runs"))
            loaded = load_spec(config, overrides) if config is not None else None
            out.print(f"resuming run [bold]{previous.run_id}[/] → {previous.path}")
            epochs = (loaded.spec if loaded else load_spec(previous.file("config.yaml")).spec).training.epochs
            with EpochProgress(out, epochs) as progress:
                result = resume_train(previous, loaded, allow_changed=allow_changed, on_epoch=progress.update)
            out.print(train_summary(result))
            return
        if config is None:
            from dlrun.errors import UserError

            raise UserError("give a CONFIG to train, or --resume RUN to continue an interrupted run")
        loaded = load_spec(config, overrides)
        from dlrun.experiment import train as run_train

        progress = EpochProgress(out, loaded.spec.training.epochs)
        with progress:
            result = run_train(loaded, smoke=smoke, on_epoch=progress.update,
                               on_start=lambda run, _: out.print(f"run [bold]{run.run_id}[/] → {run.path}"))
        out.print(train_summary(result))
    except DlrunError as exc:
        _fail(exc)


@app.command()
def kfold(
    config: ConfigOrResume = None,
    set_: Sets = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Folds run in parallel processes "
                                                           "(TensorFlow threads divided among them).")] = 1,
    resume: Annotated[Optional[str], typer.Option("--resume", help="Continue an interrupted k-fold run (id, prefix, "
                                                                   "path or 'latest') from its first unfinished fold.")] = None,
    allow_changed: AllowChanged = False,
    runs_dir: NewRunsDir = None,
    name: RunName = None,
    smoke: Smoke = False,
    verbose: Verbose = False,
) -> None:
    """Cross-validate: k-fold, stratified, repeated, group or time-series folds, with mean, std and 95% CI."""
    from dlrun.train.runtime import quiet_tensorflow

    quiet_tensorflow(verbose)
    overrides = _overrides(set_, runs_dir, name, smoke)
    try:
        from dlrun.kfold import kfold as run_kfold
        from dlrun.report.runs_view import kfold_panel
        from dlrun.runs.lookup import resolve_run
        from dlrun.spec import load_spec

        previous = None
        if resume is not None:
            previous = resolve_run(resume, runs_dir or Path("runs"))
        if config is None:
            if previous is None:
                from dlrun.errors import UserError

                raise UserError("give a CONFIG, or --resume RUN to continue an interrupted k-fold run")
            loaded = load_spec(previous.file("config.yaml"), overrides)
            loaded.data_dir = Path(previous.read_info().get("data_dir", "."))
            loaded = loaded.with_data(loaded.data)
        else:
            loaded = load_spec(config, overrides)

        def report(result: dict, total: int) -> None:
            from dlrun.report.cv_summary import fold_scalars

            scalars = fold_scalars(result["metrics"])
            shown = "  ".join(f"{k}={v:.4f}" for k, v in scalars.items() if "baseline" not in k)
            out.print(f"fold {result['fold']}/{total}  {shown}", highlight=False)

        result = run_kfold(loaded, smoke=smoke, jobs=jobs, resume=previous, allow_changed=allow_changed, on_fold=report)
        out.print(kfold_panel(result))
    except DlrunError as exc:
        _fail(exc)


RunsDir = Annotated[Path, typer.Option("--runs-dir", help="The runs directory to look in.")]
RunRef = Annotated[str, typer.Argument(help="A run id, a unique prefix of one, a run folder path, or 'latest'.",
                                       show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_metrics(path: Path) -> dict | None:
    return _read_json(path / "metrics.json")


@app.command()
def evaluate(
    run: RunRef,
    data: Annotated[Optional[Path], typer.Option("--data", help="Evaluate on this labelled data file (CSV or NPZ) "
                                                                 "instead of the run's own split.")] = None,
    split: Annotated[str, typer.Option("--split", help="Which part of the run's own split: test, validation or train.")] = "test",
    runs_dir: RunsDir = Path("runs"),
    as_json: Json = False,
    verbose: Verbose = False,
) -> None:
    """Re-evaluate a finished run (or evaluate it on new data); writes evaluations/<timestamp>/."""
    from dlrun.train.runtime import quiet_tensorflow

    quiet_tensorflow(verbose)
    try:
        from dlrun.evaluate import evaluate_any
        from dlrun.runs.lookup import resolve_run

        results = evaluate_any(resolve_run(run, runs_dir), data, split)
        if as_json:
            documents = [{**r.document, "folder": str(r.folder)} for r in results]
            _print_json(documents[0] if len(documents) == 1 else documents)
        else:
            from dlrun.report.runs_view import evaluation_panel

            for result in results:
                out.print(evaluation_panel(result))
    except DlrunError as exc:
        _fail(exc)


@app.command()
def predict(
    run: RunRef,
    data: Annotated[Path, typer.Argument(help="New rows: a CSV with the training columns (or an NPZ).", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the predictions to this CSV "
                                                                          "(default: print them).")] = None,
    runs_dir: RunsDir = Path("runs"),
    verbose: Verbose = False,
) -> None:
    """Predict new rows with a run's model and preprocessing (classes and probabilities, or values)."""
    from dlrun.train.runtime import quiet_tensorflow

    quiet_tensorflow(verbose)
    try:
        from dlrun.predict import predict as run_predict
        from dlrun.runs.lookup import resolve_run

        table = run_predict(resolve_run(run, runs_dir), data, output)
        if output is None:
            sys.stdout.write(table.to_csv(index=False))
        else:
            out.print(f"wrote {len(table)} predictions to {output}")
    except DlrunError as exc:
        _fail(exc)


@app.command()
def runs(
    runs_dir: RunsDir = Path("runs"),
    name: Annotated[Optional[str], typer.Option("--name", help="Only runs whose name contains this.")] = None,
    status: Annotated[Optional[str], typer.Option("--status", help="Only runs with this status "
                                                                   "(completed, failed, running, interrupted, diverged).")] = None,
    as_json: Json = False,
) -> None:
    """List runs: id, name, status, start, duration and headline metric."""
    from dlrun.runs.lookup import list_runs
    from dlrun.runs.rundir import STATUSES

    if status is not None and status not in STATUSES:
        err.print(f"[bold red]error:[/] --status must be one of {', '.join(STATUSES)}, not '{status}'", highlight=False)
        raise typer.Exit(2)

    found = list_runs(runs_dir, name, status)
    if as_json:
        _print_json(found)
    else:
        from dlrun.report.runs_view import runs_table

        out.print(runs_table(found))


@app.command()
def show(run: RunRef, runs_dir: RunsDir = Path("runs"), as_json: Json = False) -> None:
    """Summarise one run: status, data, device, epochs, held-out metrics, fit and audit flags."""
    try:
        from dlrun.runs.lookup import resolve_run

        found = resolve_run(run, runs_dir)
        info, metrics = found.read_info(), _read_metrics(found.path)
        if info.get("kind") == "kfold":
            summary = _read_json(found.path / "summary.json")
            if as_json:
                _print_json({"run": info, "summary": summary, "path": str(found.path)})
                return
            from dlrun.report.runs_view import kfold_card

            out.print(kfold_card(info, summary))
            out.print(f"folder: {found.path}")
            return
        if as_json:
            _print_json({"run": info, "metrics": metrics, "path": str(found.path)})
        else:
            from dlrun.report.runs_view import run_card

            out.print(run_card(info, metrics))
            out.print(f"folder: {found.path}")
    except DlrunError as exc:
        _fail(exc)


@app.command()
def compare(
    run_refs: Annotated[list[str], typer.Argument(help="Two or more runs (ids, prefixes, paths or 'latest').",
                                                  show_default=False)],
    runs_dir: RunsDir = Path("runs"),
    as_json: Json = False,
) -> None:
    """Put runs' metrics side by side, with the differences between their resolved configs."""
    try:
        from dlrun.runs.lookup import resolve_run
        from dlrun.report.runs_view import comparison, config_differences

        if len(run_refs) < 2:
            from dlrun.errors import UserError

            raise UserError("compare needs at least two runs")
        found = [resolve_run(ref, runs_dir) for ref in run_refs]
        entries = [(r.read_info(), _read_metrics(r.path), r.path) for r in found]
        if as_json:
            import yaml

            configs = [yaml.safe_load((r.path / "config.yaml").read_text(encoding="utf-8")) or {}
                       if (r.path / "config.yaml").is_file() else {} for r in found]
            _print_json({"runs": [{"run": i, "metrics": m} for i, m, _ in entries],
                         "config_differences": config_differences(configs)})
        else:
            out.print(comparison(entries))
    except DlrunError as exc:
        _fail(exc)


@app.command()
def schema(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of printing.")] = None,
) -> None:
    """Write the JSON Schema of the spec, for editor completion (yaml-language-server)."""
    from dlrun.spec.schema_walk import spec_schema

    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **spec_schema()}
    document["title"] = "dlrun experiment spec"
    document["properties"] = {"extends": {"description": "A spec file (or list of them) this one builds on; "
                                                         "deep-merged, relative to this file.",
                                          "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                              **document["properties"]}
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        from dlrun.runs.atomic import write_text

        write_text(output, text)
        out.print(f"wrote {output}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
