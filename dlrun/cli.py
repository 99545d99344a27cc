"""The dlrun command line: each command parses, calls one library function, and renders.

Heavy libraries (TensorFlow, scikit-learn, matplotlib) are imported inside the commands that
train, so `dlrun --help`, `validate` and `schema` answer at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from dlrun import __version__
from dlrun.errors import DlrunError

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
Sets = Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override a spec value: KEY.PATH=VALUE (repeatable).")]


def _fail(exc: DlrunError) -> None:
    err.print("[bold red]error:[/] ", end="", highlight=False)
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
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show TensorFlow's own log messages.")] = False,
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


@app.command()
def train(
    config: Config,
    set_: Sets = None,
    runs_dir: Annotated[Optional[Path], typer.Option("--runs-dir", help="Where the run directory is created "
                                                                        "(default: output.runs_dir, 'runs').")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Run name (default: the spec's name).")] = None,
    smoke: Annotated[bool, typer.Option("--smoke", help="Quick end-to-end check: a small sample of rows, 1 epoch.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show TensorFlow's own log messages.")] = False,
) -> None:
    """Train the experiment, evaluate it on held-out data, and write a run directory."""
    from dlrun.train.runtime import quiet_tensorflow

    quiet_tensorflow(verbose)
    from dlrun.report.console import EpochProgress, train_summary
    from dlrun.spec import load_spec

    overrides = list(set_ or [])
    if runs_dir is not None:
        overrides.append(f"output.runs_dir={json.dumps(str(runs_dir))}")
    if name is not None:
        overrides.append(f"name={json.dumps(name)}")
    if smoke:
        overrides.append("training.epochs=1")
    try:
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
