"""The dlrun command line: each command parses, calls one library function, and renders.

Heavy libraries (TensorFlow, scikit-learn, matplotlib) are imported inside the commands that
train, so `dlrun --help`, `validate`, `runs`, `show`, `compare` and `schema` answer at once.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from dlrun import __version__, process_exit
from dlrun.cli_options import (Config, ConfigOrResume, AllowChanged, NewRunsDir, RunName, Smoke, Verbose, Sets,
                               Resume, Jobs, Backend, RunsDir, ExecutorName, Address, CpusPerTrial, GpusPerTrial,
                               RunRef, Json, InitFromRun, Track)
from dlrun.cli_smoke import Junit, Keep, Plots, SmokeJobs, SpecPaths, Strict, print_result, show_smoke
from dlrun.errors import DlrunError, Interrupted, UserError

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

def reports_errors(command):
    """A user mistake or a failed run becomes `error: …` on stderr and its exit code, never a traceback."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DlrunError as exc:
            label = "[bold yellow]interrupted:[/] " if isinstance(exc, Interrupted) else "[bold red]error:[/] "
            err.print(label, end="", highlight=False)
            err.print(str(exc) + _resume_hint(exc), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
    return run


def _resume_hint(exc: DlrunError) -> str:
    """The command that continues an interrupted run, from where the error says it resumes."""
    at = getattr(exc, "resume_at", None)
    if at is None:
        return ""
    return f"; continue with: dlrun {at.command} --resume {at.run_id} --runs-dir {at.runs_dir}"


def _quiet(verbose: bool) -> None:
    from dlrun.model.backend import quiet_tensorflow

    quiet_tensorflow(verbose)


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _overrides(set_: list[str] | None, runs_dir: Path | None, name: str | None, smoke: bool,
               backend: str | None = None, init_from: str | None = None, track: str | None = None) -> list[str]:
    """--set values plus the options that are spec values in disguise."""
    overrides = list(set_ or [])
    overrides += [f"tracking.mlflow.uri={json.dumps(track)}"] if track is not None else []
    if init_from is not None:
        overrides.append(f"init_from.run={json.dumps(init_from)}")
    if backend is not None:
        overrides.append(f"training.backend={json.dumps(backend)}")
    if runs_dir is not None:
        overrides.append(f"output.runs_dir={json.dumps(str(runs_dir))}")
    if name is not None:
        overrides.append(f"name={json.dumps(name)}")
    if smoke:
        overrides.append("training.epochs=1")
    return overrides


def _executor(name: str, jobs: int, address: str | None, cpus: float, gpus: float):
    from dlrun.executors.choice import Executor

    return Executor(name, jobs, address, cpus, gpus)


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
@reports_errors
def validate(
    config: Config,
    set_: Sets = None,
    build: Annotated[bool, typer.Option("--build", help="Also load the data and build the Keras model "
                                                        "(imports TensorFlow) to catch shape errors.")] = False,
    verbose: Verbose = False,
) -> None:
    """Check a spec: print its resolved summary, or every problem with file:line:col."""
    from dlrun.protocols.build_check import checked_spec
    from dlrun.report.console import build_panel, spec_summary

    loaded = checked_spec(config, set_ or [])
    out.print(spec_summary(loaded.spec, str(config)))
    if build:
        _quiet(verbose)
        from dlrun.protocols.build_check import check_build

        out.print(build_panel(check_build(loaded)))


@app.command()
@reports_errors
def train(config: ConfigOrResume = None, set_: Sets = None, resume: Resume = None, allow_changed: AllowChanged = False,
          runs_dir: NewRunsDir = None, name: RunName = None, smoke: Smoke = False, backend: Backend = None,
          init_from: InitFromRun = None, track: Track = None, verbose: Verbose = False) -> None:
    """Train the experiment, evaluate it on held-out data, and write a run directory."""
    _quiet(verbose)
    from dlrun.protocols.holdout import train_or_resume
    from dlrun.report.console import TrainConsole, train_summary

    with TrainConsole(out) as console:
        result = train_or_resume(config, _overrides(set_, runs_dir, name, smoke, backend, init_from, track), console,
                                 resume=resume, runs_dir=runs_dir, allow_changed=allow_changed, smoke=smoke)
    out.print(train_summary(result))


@app.command()
@reports_errors
def kfold(config: ConfigOrResume = None, set_: Sets = None, jobs: Jobs = 1, resume: Resume = None,
          allow_changed: AllowChanged = False, runs_dir: NewRunsDir = None, name: RunName = None, track: Track = None,
          smoke: Smoke = False, backend: Backend = None, executor: ExecutorName = "local", address: Address = None,
          cpus_per_trial: CpusPerTrial = 1.0, gpus_per_trial: GpusPerTrial = 0.0, verbose: Verbose = False) -> None:
    """Cross-validate: k-fold, stratified, repeated, group or time-series folds, with mean, std and 95% CI."""
    _quiet(verbose)
    from dlrun.protocols.kfold import kfold_or_resume
    from dlrun.report.console import fold_line
    from dlrun.report.runs_view import kfold_panel

    result = kfold_or_resume(config, _overrides(set_, runs_dir, name, smoke, backend, track=track), resume=resume,
                             runs_dir=runs_dir, allow_changed=allow_changed, smoke=smoke,
                             executor=_executor(executor, jobs, address, cpus_per_trial, gpus_per_trial),
                             on_fold=lambda fold, total: out.print(fold_line(fold, total), highlight=False))
    out.print(kfold_panel(result))


@app.command()
@reports_errors
def sweep(config: ConfigOrResume = None, set_: Sets = None, jobs: Annotated[int, typer.Option(
              "--jobs", "-j", help="Trials run in parallel processes sharing the study (results may then differ "
                                   "from run to run).")] = 1,
          resume: Annotated[Optional[str], typer.Option("--resume", help="Continue an interrupted sweep (id, prefix, "
                                                                         "path or 'latest').")] = None,
          dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the sweep and show the search; train "
                                                                  "nothing.")] = False,
          runs_dir: NewRunsDir = None, name: RunName = None, smoke: Smoke = False, backend: Backend = None,
          executor: ExecutorName = "local", address: Address = None, cpus_per_trial: CpusPerTrial = 1.0,
          gpus_per_trial: GpusPerTrial = 0.0, track: Track = None, verbose: Verbose = False) -> None:
    """Search hyperparameters declared in the spec's sweep: section (Optuna); each trial is a run folder."""
    _quiet(verbose)
    from dlrun.protocols.sweep import sweep_command
    from dlrun.report.sweep_view import result_panel, trial_line

    shown = sweep_command(config, _overrides(set_, runs_dir, name, smoke, backend, track=track), resume=resume,
                          runs_dir=runs_dir, smoke=smoke, dry_run=dry_run,
                          executor=_executor(executor, jobs, address, cpus_per_trial, gpus_per_trial),
                          on_trial=lambda record: out.print(trial_line(record), highlight=False, markup=False))
    out.print(result_panel(shown))


@app.command()
@reports_errors
def evaluate(
    run: RunRef,
    data: Annotated[Optional[Path], typer.Option("--data", help="Evaluate on this labelled data file (CSV, Parquet or NPZ) "
                                                                 "instead of the run's own split.")] = None,
    split: Annotated[str, typer.Option("--split", help="Which part of the run's own split: test, validation or train.")] = "test",
    runs_dir: RunsDir = Path("runs"),
    as_json: Json = False,
    backend: Backend = None,
    verbose: Verbose = False,
) -> None:
    """Re-evaluate a finished run (or evaluate it on new data); writes evaluations/<timestamp>/."""
    _quiet(verbose)
    from dlrun.inference.evaluate import evaluate_any
    from dlrun.report.runs_view import evaluation_panel
    from dlrun.runs.lookup import resolve_run

    results = evaluate_any(resolve_run(run, runs_dir), data, split, backend)
    if as_json:
        documents = [{**r.document, "folder": str(r.folder)} for r in results]
        return _print_json(documents[0] if len(documents) == 1 else documents)
    for result in results:
        out.print(evaluation_panel(result))


@app.command()
@reports_errors
def predict(
    run: RunRef,
    data: Annotated[list[Path], typer.Argument(help="New rows: a CSV or Parquet file with the training columns (or "
                                                    "an NPZ); for an image run, image files or folders of them.",
                                               show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the predictions to this CSV "
                                                                          "(default: print them).")] = None,
    runs_dir: RunsDir = Path("runs"),
    backend: Backend = None,
    verbose: Verbose = False,
) -> None:
    """Predict new rows with a run's model and preprocessing (classes and probabilities, or values)."""
    _quiet(verbose)
    from dlrun.inference.predict import predict as predict_rows
    from dlrun.runs.lookup import resolve_run

    table = predict_rows(resolve_run(run, runs_dir), data, output, backend)
    for note in table.attrs.get("notes", []):  # on stderr: stdout may be the predictions' CSV
        err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    if output is None:
        sys.stdout.write(table.to_csv(index=False))
    else:
        out.print(f"wrote {len(table)} predictions to {output}")


@app.command()
@reports_errors
def export(
    run: RunRef,
    formats: Annotated[str, typer.Option("--format", "-f", help="Comma-separated: keras, savedmodel, litert, onnx "
                                                                "(litert and onnx: pip install \"dlrun\\[export]\").")] = "keras",
    quantize: Annotated[str, typer.Option("--quantize", help="none, dynamic (litert, onnx) or int8 (litert, "
                                                             "calibrated on training rows).")] = "none",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write into this folder "
                                                                          "(default: the run's export/).")] = None,
    runs_dir: RunsDir = Path("runs"),
    as_json: Json = False,
    verbose: Verbose = False,
) -> None:
    """Export a run's model with its preprocessing baked in (it takes the raw columns), each format loaded
    back in its own runtime and checked against `dlrun predict`."""
    _quiet(verbose)
    from dlrun.inference.export import export as export_run, parse_formats
    from dlrun.report.runs_view import export_panel
    from dlrun.runs.lookup import resolve_run

    result = export_run(resolve_run(run, runs_dir), parse_formats(formats, quantize), quantize, output)
    if as_json:
        return _print_json({**result.report, "folder": str(result.folder)})
    out.print(export_panel(result.report, result.folder))


@app.command()
@reports_errors
def runs(
    runs_dir: RunsDir = Path("runs"),
    name: Annotated[Optional[str], typer.Option("--name", help="Only runs whose name contains this.")] = None,
    status: Annotated[Optional[str], typer.Option("--status", help="Only runs with this status "
                                                                   "(completed, failed, running, interrupted, diverged).")] = None,
    as_json: Json = False,
) -> None:
    """List runs: id, name, status, start, duration and headline metric."""
    from dlrun.runs.lookup import list_runs

    found = list_runs(runs_dir, name, status)
    if as_json:
        return _print_json(found)
    from dlrun.report.runs_view import runs_table

    out.print(runs_table(found))


@app.command()
@reports_errors
def show(run: RunRef, runs_dir: RunsDir = Path("runs"), as_json: Json = False) -> None:
    """Summarise one run: status, data, device, epochs, held-out metrics, fit and audit flags."""
    from dlrun.runs.lookup import resolve_run
    from dlrun.runs.overview import run_overview

    overview = run_overview(resolve_run(run, runs_dir))
    if as_json:
        return _print_json(overview)
    from dlrun.report.sweep_view import show_card

    out.print(show_card(overview))
    out.print(f"folder: {overview['path']}")


@app.command()
@reports_errors
def audit(run: RunRef, runs_dir: RunsDir = Path("runs"), as_json: Json = False,
          reproduce: Annotated[bool, typer.Option("--reproduce", help="Train the run's saved spec again in a "
                                                                      "temporary folder and compare the histories "
                                                                      "(train and k-fold runs).")] = False,
          fail_on: Annotated[Optional[str], typer.Option("--fail-on", help="Exit 1 when an item is at this level or "
                                                                           "worse: warn or fail (a CI gate).")] = None,
          verbose: Verbose = False) -> None:
    """Audit a finished run: nine quality items, each PASS / WARN / FAIL with its evidence and fix (audit.md)."""
    _quiet(verbose)
    from dlrun.protocols.audit import audit as audit_run
    from dlrun.runs.lookup import resolve_run

    if fail_on is not None and fail_on not in ("warn", "fail"):
        raise UserError(f"--fail-on {fail_on}: give warn or fail")
    result = audit_run(resolve_run(run, runs_dir), reproduce)
    if as_json:
        _print_json(result.to_json())
    else:
        from dlrun.report.audit_view import audit_table

        out.print(audit_table(result))
    if fail_on is not None and result.reaches(fail_on):
        raise typer.Exit(1)


@app.command()
@reports_errors
def compare(
    run_refs: Annotated[list[str], typer.Argument(help="Two or more runs (ids, prefixes, paths or 'latest').",
                                                  show_default=False)],
    runs_dir: RunsDir = Path("runs"),
    as_json: Json = False,
    plot: Annotated[bool, typer.Option("--plot", help="Write one PNG with the runs' per-epoch --metric curves "
                                                      "overlaid, legend by run (a sweep's trial as SWEEP:N with its "
                                                      "parameters), and print its path.")] = False,
    metric: Annotated[str, typer.Option("--metric", help="With --plot: the history column to plot, or several "
                                                         "comma-separated, a panel each (loss,val_loss: training and "
                                                         "validation side by side). A run without validation is drawn "
                                                         "from X in a training panel instead of val_X; a k-fold run as "
                                                         "its folds' mean with a min-max band.")] = "val_loss",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="With --plot: the PNG to write "
                                                   "(default: RUNS_DIR/comparisons/<timestamp>-<metric>.png).")] = None,
) -> None:
    """Put runs' metrics side by side, with the differences between their resolved configs."""
    from dlrun.runs.overview import comparison_document, comparison_entries, runs_to_compare

    found = runs_to_compare(run_refs, runs_dir)
    if plot:
        from dlrun.report.plots import compare_plot

        return out.print(str(compare_plot(found, metric, runs_dir, output)), soft_wrap=True)
    if as_json:
        return _print_json(comparison_document(found))
    from dlrun.report.runs_view import comparison

    out.print(comparison(comparison_entries(found)))


@app.command()
@reports_errors
def schema(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of printing.")] = None,
) -> None:
    """Write the JSON Schema of the spec, for editor completion (yaml-language-server)."""
    from dlrun.runs.atomic import check_writable, write_text
    from dlrun.spec.schema_walk import schema_document

    text = json.dumps(schema_document(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    check_writable(output)
    write_text(output, text)
    out.print(f"wrote {output}")


@app.command()
@reports_errors
def smoke(paths: SpecPaths, junit: Junit = None, jobs: SmokeJobs = 1, backend: Backend = None, strict: Strict = False,
          keep: Keep = False, plots: Plots = False, verbose: Verbose = False) -> None:
    """Smoke-run every spec found: train, kfold or sweep as each says; small sample, 1 epoch, 2 folds, 2 trials."""
    from dlrun.protocols.smoke import SmokeOptions, smoke as smoke_specs
    report = smoke_specs(paths, SmokeOptions(jobs, backend, strict, keep, verbose, junit, plots), print_result(out))
    raise typer.Exit(show_smoke(report, out, err))


def main() -> None:
    process_exit.run(app)


if __name__ == "__main__":
    main()
