"""The command line's shared arguments and options (Typer annotations), so that dlrun/cli.py holds
the commands only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Config = Annotated[Path, typer.Argument(help="The experiment spec (YAML).", show_default=False)]
ConfigOrResume = Annotated[Optional[Path], typer.Argument(help="The experiment spec (YAML); optional with --resume.",
                                                          show_default=False)]
AllowChanged = Annotated[bool, typer.Option("--allow-changed", help="With --resume: continue even if the spec "
                                                                    "differs from the run's.")]
NewRunsDir = Annotated[Optional[Path], typer.Option("--runs-dir", help="Where the run directory is created "
                                                                       "(default: output.runs_dir, 'runs').")]
RunName = Annotated[Optional[str], typer.Option("--name", help="Run name (default: the spec's name).")]
Smoke = Annotated[bool, typer.Option("--smoke", help="Quick end-to-end check: a small sample of rows, 1 epoch.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show the backend's own log messages.")]
Sets = Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override a spec value: KEY.PATH=VALUE (repeatable).")]
Resume = Annotated[Optional[str], typer.Option("--resume", help="Continue an interrupted run (id, prefix, path or "
                                                                "'latest'): train from its last finished epoch, "
                                                                "kfold from its first unfinished fold.")]
Jobs = Annotated[int, typer.Option("--jobs", "-j", help="Folds run in parallel processes "
                                                        "(the backend's threads divided among them).")]
InitFromRun = Annotated[Optional[str], typer.Option("--init-from", help="Warm start: begin with the weights of this run "
                                                                         "(id, prefix, SWEEP:best, path) or model file "
                                                                         "(sets init_from.run).")]
Track = Annotated[Optional[str], typer.Option("--track", help="Track the run in MLflow at this tracking URI "
                                                              "(http://HOST:PORT, sqlite:///PATH; sets "
                                                              "tracking.mlflow.uri; pip install \"dlrun\\[mlflow]\").")]
Backend = Annotated[Optional[str], typer.Option("--backend", help="Keras backend: tensorflow or jax (default: the "
                                                                  "spec's training.backend; for a run, the one it "
                                                                  "was trained on).")]
RunsDir = Annotated[Path, typer.Option("--runs-dir", help="The runs directory to look in.")]
ExecutorName = Annotated[str, typer.Option("--executor", help="Where folds or trials run: local (this machine) or "
                                                              "ray (a Ray cluster; pip install \"dlrun\\[ray]\").")]
Address = Annotated[Optional[str], typer.Option("--address", help="With --executor ray: the cluster ('auto' for the "
                                                                  "one `ray start` made here); default: a local Ray "
                                                                  "for this command only.")]
CpusPerTrial = Annotated[float, typer.Option("--cpus-per-trial", help="With --executor ray: CPUs per fold or trial.")]
GpusPerTrial = Annotated[float, typer.Option("--gpus-per-trial", help="With --executor ray: GPUs per fold or trial "
                                                                      "(fractions allowed).")]
RunRef = Annotated[str, typer.Argument(help="A run id, a unique prefix of one, a run folder path, or 'latest'.",
                                       show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
