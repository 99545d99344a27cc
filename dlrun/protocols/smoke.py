"""`dlrun smoke`: every spec found, run the way its kind says with smoke settings, in one process
that imports the backend once (or in `jobs` worker processes, each importing it once).

    PATH… ─find_specs─▶ specs ─plan (no TensorFlow)─▶ invalid | skipped (offline) | a case to run
          ─run_case (train | kfold | sweep, --smoke)─▶ passed | failed | invalid ─▶ table, JUnit XML

Smoke settings: a small seeded sample of rows (`--smoke`), 1 epoch, 2 folds (and 1 repeat) for a
cross-validation protocol, 2 trials for a sweep. Runs go into a temporary runs folder that is
removed at the end, unless `keep` (then into each spec's own output.runs_dir).

A status follows dlrun's exit codes: a UserError (a spec, data or option mistake: exit 2) is
`invalid`, any other failure (exit 1) `failed`; a spec whose data needs a download that cannot
happen offline is `skipped` (`failed` with `strict`). An interruption stops the whole smoke run.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from dlrun.data.offline import needs_download
from dlrun.errors import EXIT_RUN_FAILED, EXIT_USAGE, DlrunError, Interrupted, SpecError, UserError, first_line
from dlrun.executors.local import threads_per_worker
from dlrun.protocols.smoke_find import KFOLD, SWEEP, TRAIN, find_specs, guess_kind, kind_of
from dlrun.report.junit import junit_xml
from dlrun.report.smoke_view import FAILED, INVALID, PASSED, SKIPPED, SmokeResult
from dlrun.runs.atomic import check_writable, write_text
from dlrun.spec.backends import BACKENDS, missing_backend
from dlrun.spec.load import LoadedSpec, load_spec

SMOKE_EPOCHS, SMOKE_FOLDS, SMOKE_TRIALS = 1, 2, 2

OnResult = Callable[[SmokeResult], None]


@dataclass(frozen=True)
class SmokeOptions:
    jobs: int = 1                  # worker processes (1: this process)
    backend: str | None = None     # every spec on this Keras backend (None: each its training.backend)
    strict: bool = False           # a spec that needs a download offline fails instead of being skipped
    keep: bool = False             # runs into each spec's runs dir instead of a temporary folder
    verbose: bool = False          # the backend's own log messages (worker processes too)
    junit: Path | None = None      # where to write the results as JUnit XML
    plots: bool = False            # draw each run's plots (output.plots, sweep.plots) as its spec says


@dataclass(frozen=True)
class SmokeCase:
    """One spec to run: picklable, for a worker process."""

    spec: str
    kind: str
    overrides: tuple[str, ...]
    backend: str
    threads: int | None = None
    verbose: bool = False
    process: str = ""              # cases with the same key may share a process (default: the backend's name)


@dataclass
class SmokeReport:
    results: list[SmokeResult]     # in the order the specs were found
    seconds: float
    ignored: list[Path]            # files named on the command line that are not dlrun specs
    junit: Path | None = None      # the JUnit XML file written

    @property
    def exit_code(self) -> int:
        """2 when a spec is invalid (it wins over a failed run: the spec is the first thing to fix),
        1 when a run failed, else 0 (every spec passed or was skipped)."""
        statuses = {r.status for r in self.results}
        return EXIT_USAGE if INVALID in statuses else EXIT_RUN_FAILED if FAILED in statuses else 0


def smoke(paths: list[Path], options: SmokeOptions = SmokeOptions(),
          on_result: OnResult | None = None) -> SmokeReport:
    """Smoke-run every spec under `paths`; `on_result` hears each result as it is known."""
    started = time.perf_counter()
    if options.jobs < 1:
        raise UserError("--jobs must be 1 or more")
    if options.backend is not None and missing_backend(options.backend):
        raise UserError(f"--backend: {missing_backend(options.backend)}")
    if options.junit is not None:
        check_writable(options.junit)  # before any work
    specs, ignored = find_specs(paths)
    if not specs:
        named = ", ".join(str(p) for p in paths)
        raise UserError(f"no dlrun specs in {named} (a spec is a .yaml/.yml file with top-level data: and model:, "
                        f"or extends:)")
    heard = on_result or (lambda result: None)
    by_spec: dict[str, SmokeResult] = {}

    def finished(result: SmokeResult) -> None:
        by_spec[result.spec] = result
        heard(result)

    with _runs_folder(options.keep) as runs_dir:
        try:
            cases = []
            for path in specs:  # mistakes and offline specs are known before anything trains
                planned = plan(path, options, runs_dir)
                if isinstance(planned, SmokeResult):
                    finished(planned)
                else:
                    cases.append(planned)
            run_cases(cases, options.jobs, finished)
        except (KeyboardInterrupt, Interrupted):  # the run's own resume hint would name the temporary folder
            raise Interrupted(f"smoke run stopped after {len(by_spec)} of {len(specs)} specs") from None
    report = SmokeReport([by_spec[str(path)] for path in specs], time.perf_counter() - started, ignored, options.junit)
    if options.junit is not None:
        write_text(options.junit, junit_xml(report.results, report.seconds))
    return report


@contextlib.contextmanager
def _runs_folder(keep: bool):
    if keep:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="dlrun-smoke-", ignore_cleanup_errors=True) as folder:
        yield Path(folder)


def smoke_overrides(loaded: LoadedSpec, kind: str, plots: bool = False) -> list[str]:
    """The smoke settings for a spec of `kind`: 1 epoch (and 1 per fine-tuning phase); 2 folds (1 repeat) for a cross-validation
    split, which a sweep evaluated by k-fold has too; 2 trials (fewer if its grid is smaller); no plots
    unless `plots` (they depend on dlrun rather than on the spec, and take a quarter of the time); no tracking."""
    spec = loaded.spec
    overrides = [f"training.epochs={SMOKE_EPOCHS}"]
    overrides += [f"training.fine_tune[{i}].epochs={SMOKE_EPOCHS}" for i in range(len(spec.training.fine_tune))]
    if not plots:
        overrides.append("output.plots=false")
    if spec.split.folds is not None:
        overrides.append(f"split.folds={min(SMOKE_FOLDS, spec.split.folds)}")
        if spec.split.repeats > 1:
            overrides.append("split.repeats=1")
    if spec.tracking.mlflow is not None:  # a smoke check is not an experiment to record
        overrides.append("tracking.mlflow=null")
    if kind == SWEEP:
        overrides.append(f"sweep.trials={min(SMOKE_TRIALS, spec.sweep.trial_count())}")
        if not plots:
            overrides.append("sweep.plots=false")
    return overrides


def plan(path: Path, options: SmokeOptions, runs_dir: Path | None) -> SmokeCase | SmokeResult:
    """What to do with one spec, decided without TensorFlow: load and check it with the smoke settings
    (a mistake: invalid), see whether its data needs a download (offline: skipped), else a case to run."""
    started, shown = time.perf_counter(), str(path)
    base = []
    if options.backend is not None:
        base.append(f"training.backend={json.dumps(options.backend)}")
    if runs_dir is not None:
        base.append(f"output.runs_dir={json.dumps(str(runs_dir))}")
    kind = None
    try:
        loaded = load_spec(path, base)
        kind = kind_of(loaded.spec)
        overrides = [*base, *smoke_overrides(loaded, kind, options.plots)]
        loaded = load_spec(path, overrides)
        if kind == SWEEP:
            from dlrun.spec.sweep_checks import check_sweep

            check_sweep(loaded, overrides)
    except Exception as exc:  # noqa: BLE001 - a mistake (DlrunError) or a loader's own failure: this spec's result
        return failure(shown, kind or guess_kind(path), exc, time.perf_counter() - started)
    offline = needs_download(loaded.spec.data)
    if offline is not None:
        message = f"offline: {loaded.spec.data.source} needs a download"
        return SmokeResult(shown, kind, FAILED if options.strict else SKIPPED, 0.0, message, offline, shown)
    return SmokeCase(shown, kind, tuple(overrides), loaded.spec.training.backend, threads_per_worker(options.jobs),
                     options.verbose, process_key(loaded.spec.training))


def process_key(training) -> str:
    """Which specs can share a process: those on one backend; a mirrored spec's devices (its CPU replicas)
    are fixed when TensorFlow starts, so mirrored specs share one only with the same replicas."""
    if training.distribute == "mirrored":
        return f"{training.backend}, mirrored on {training.cpu_replicas} CPU device(s)"
    return training.backend


def failure(spec: str, kind: str, exc: BaseException, seconds: float) -> SmokeResult:
    """The result of a spec that ended in `exc`: invalid for a user mistake (exit 2), else failed; the
    message located (the first problem's file:line:col, or the spec's path), the details complete."""
    status = INVALID if isinstance(exc, UserError) else FAILED
    if isinstance(exc, SpecError) and exc.problems:
        first = exc.problems[0]
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        return SmokeResult(spec, kind, status, seconds, f"{first}{more}", str(exc), first.file or spec, first.line)
    ours = isinstance(exc, DlrunError)
    line = _first_line(exc) if ours else f"{type(exc).__name__}: {_first_line(exc)}"
    message = line if line.startswith(spec) else f"{spec}: {line}"
    details = str(exc) if ours else ""
    cause = (exc.__cause__ or exc.__context__) if ours else exc  # a run's own error: its traceback too
    if status == FAILED and cause is not None:  # the traceback, in place of the run's error.log it names
        details = "\n".join(row for row in details.splitlines() if not row.startswith("details: "))
        details += "\n\n" + "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
    return SmokeResult(spec, kind, status, seconds, message, _ANSI.sub("", details).strip(), spec)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_KERAS_WRAPPER = "Exception encountered when calling"


def _first_line(exc: BaseException) -> str:
    """The first line of the error; where Keras's wrapper around a failing layer `call()` heads it
    (quoted inside a run's error too), the layer's own message instead of the wrapper's."""
    line = first_line(exc, 500)
    if _KERAS_WRAPPER not in line:
        return line
    rows = [row.strip() for row in _ANSI.sub("", str(exc)).splitlines()]
    inner = next((row for row in rows[1:] if row), "")
    return line[:line.index(_KERAS_WRAPPER)] + inner if inner else line


# ---- running ----------------------------------------------------------------------------------------

_process = {"prepared": False}


def _prepare_process(case: SmokeCase) -> None:
    """Once per process: quiet backend start-up (unless verbose) and, in a worker, its share of the cores."""
    if _process["prepared"]:
        return
    from dlrun.model.backend import activate, limit_threads, quiet_tensorflow
    from dlrun.spec.models import TrainingSpec

    quiet_tensorflow(case.verbose)
    if case.threads:
        limit_threads(TrainingSpec(backend=case.backend), case.threads)
    else:
        activate(case.backend)
    _process["prepared"] = True


def run_case(case: SmokeCase) -> SmokeResult:
    """Run one spec the way its kind says, with --smoke; every outcome but an interruption is a result."""
    _prepare_process(case)
    started = time.perf_counter()
    try:
        RUNNERS[case.kind](case)
    except (Interrupted, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - every failure of one spec is that spec's result
        return failure(case.spec, case.kind, exc, time.perf_counter() - started)
    finally:
        _clear_session()
    return SmokeResult(case.spec, case.kind, PASSED, time.perf_counter() - started, file=case.spec)


def _clear_session() -> None:
    """Reset Keras's global state (layer names, the dtype policy) after a spec, so the next starts clean."""
    import sys

    keras = sys.modules.get("keras")
    if keras is None:
        return
    try:
        keras.backend.clear_session(free_memory=False)  # Python's full collection would cost 0.3 s a spec
    except TypeError:  # a Keras before 3.5 has no free_memory
        keras.backend.clear_session()


def _train(case: SmokeCase) -> None:
    from dlrun.protocols.holdout import train

    train(load_spec(case.spec, list(case.overrides)), smoke=True)


def _kfold(case: SmokeCase) -> None:
    from dlrun.protocols.kfold import kfold

    kfold(load_spec(case.spec, list(case.overrides)), smoke=True)


def _sweep(case: SmokeCase) -> None:
    from dlrun.protocols.sweep import sweep_or_resume

    sweep_or_resume(Path(case.spec), list(case.overrides), smoke=True)


RUNNERS: dict[str, Callable[[SmokeCase], None]] = {TRAIN: _train, KFOLD: _kfold, SWEEP: _sweep}


def run_cases(cases: list[SmokeCase], jobs: int, on_result: OnResult) -> None:
    """The cases, a process key at a time (`process_key`): with jobs 1, those on this process's backend
    here, one after another, and the others in a worker process per key (a process cannot switch
    backends); with jobs N, in N worker processes per key, each taking the next case when free."""
    from dlrun.model.backend import running_backend

    groups: dict[str, list[SmokeCase]] = {}
    for case in cases:
        groups.setdefault(case.process or case.backend, []).append(case)
    running = running_backend()
    here = next((key for key in groups if key in BACKENDS and running in (None, key)), None)
    for key, group in groups.items():
        if jobs == 1 and key == here:
            for case in group:
                on_result(run_case(case))
        else:
            workers = max(1, min(jobs, len(group)))
            in_workers([replace(case, threads=threads_per_worker(workers)) for case in group], workers, on_result)


def in_workers(cases: list[SmokeCase], workers: int, on_result: OnResult) -> None:
    """`run_case` in `workers` spawned processes (nothing forked from a process that holds a backend);
    a worker that dies fails the cases it had."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from dlrun.process_exit import in_worker

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=in_worker) as pool:
        futures = {pool.submit(run_case, case): case for case in cases}
        for future in as_completed(futures):
            try:
                on_result(future.result())
            except Exception as exc:  # noqa: BLE001 - a worker process that died (killed, out of memory)
                case = futures[future]
                on_result(failure(case.spec, case.kind, RuntimeError(f"its worker process died ({exc})"), 0.0))
