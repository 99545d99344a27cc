"""MLflow tracking (`tracking.mlflow` in the spec, `--track URI`): every dlrun run is an MLflow run too.

    check_tracking(spec)     before any run folder is made or anything trains: MLflow is installed and its
                             store answers, else exit 2 naming the URI and the fix
    tracked(run, kind, ...)  around a run: opens its MLflow run — for a fold, a trial, a final or retrained
                             model a child run (mlflow.parentRunId) of the run folder it sits in — with the
                             resolved spec as parameters and dlrun's tags; at the end its held-out scores,
                             its files and its status
    mlflow_callback(folder, writer)  the fit's per-epoch metrics, a mlflow.keras.MlflowCallback: each row of
                             history.csv (learning_rate and phase too) at step = its epoch, continuous over
                             fine-tuning phases and resumes

Where a folder's MLflow run is, is kept in its run.json (`mlflow`: uri, experiment_id, run_id), so a fold
fitted in another process finds its parent, and a resumed run goes on in the same MLflow run. After the
check, every MLflow call goes through `Tracker.call`: a failure (a server gone mid-run) becomes one
warning, tracking stops for that run and its children, and the dlrun run completes as it would have.
MLflow is imported inside functions only, when a tracked run trains.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dlrun import __version__
from dlrun.errors import UserError, first_line
from dlrun.runs import artifacts
from dlrun.runs.rundir import RunDir

INSTALL = 'pip install "dlrun[mlflow]"'
# MLflow's own defaults retry a request for minutes; a variable already set in the environment wins
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
CHECK_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
MLFLOW_STATUS = {"completed": "FINISHED", "failed": "FAILED", "diverged": "FAILED", "interrupted": "KILLED",
                 "pruned": "KILLED"}
MAX_KEY, MAX_VALUE = 250, 6000  # MLflow's limits on a parameter's name and value
# the files a run's MLflow run gets, those the folder has (the audit, summary and environment files when
# present); plots/ goes whole
LOGGED_FILES = (artifacts.CONFIG, artifacts.HISTORY, artifacts.METRICS, artifacts.SUMMARY, artifacts.REPORT,
                artifacts.BEST, artifacts.TRIALS_TABLE, artifacts.AUDIT_REPORT, artifacts.AUDIT_JSON,
                artifacts.MODEL_SUMMARY, artifacts.ENVIRONMENT, artifacts.MODEL)

_OPEN: dict[Path, "Tracker"] = {}  # the trackers open in this process, by folder: where a fit finds its own


def mlflow_module():
    """MLflow, its log lines quieted (dlrun reports what matters); exit 2 naming the extra when missing."""
    try:
        import mlflow
    except ImportError:
        raise UserError(f"tracking.mlflow: runs are tracked with MLflow, which is not installed: {INSTALL}") \
            from None
    import logging

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow


def tracking_uri(spec) -> str:
    """`tracking.mlflow.uri`, or the SQLite store in the runs directory (an absolute path)."""
    uri = spec.tracking.mlflow.uri
    if uri:
        return uri
    return "sqlite:///" + (Path(spec.output.runs_dir).resolve() / artifacts.TRACKING_STORE).as_posix()


def check_tracking(spec) -> None:
    """Before any run folder or training: the MLflow store the spec tracks to answers; exit 2 naming the
    URI and the fix otherwise. Nothing when the spec tracks nothing."""
    settings = spec.tracking.mlflow
    if settings is None:
        return
    mlflow_module()
    uri = tracking_uri(spec)
    _http_defaults()
    try:
        if settings.uri is None:  # the SQLite store is made beside the runs
            Path(spec.output.runs_dir).mkdir(parents=True, exist_ok=True)
        with _environment(CHECK_SETTINGS):
            _client(uri).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - whatever MLflow raises for a store that does not answer
        raise UserError(f"tracking.mlflow.uri: the MLflow tracking store {uri} cannot be reached "
                        f"({first_line(exc, 200)}); start it (e.g. mlflow server --host 127.0.0.1 --port 5000), "
                        f"give another with --track URI, or remove tracking.mlflow from the spec") from None


@contextlib.contextmanager
def tracked(run: RunDir, kind: str, spec=None, sub_run: bool = False):
    """Around a dlrun run: its MLflow run from start to end (see the module docstring). `sub_run`: a fold,
    trial, final or retrained model, tracked as a child run when the folder it sits in is tracked. Without
    `spec`, the caller opens it later (`tracker.open(spec)`). Ends the MLflow run with the folder's status,
    whatever ends the block."""
    tracker = Tracker(run, kind, sub_run)
    if spec is not None:
        tracker.open(spec)
    try:
        yield tracker
    finally:
        tracker.close()


def mlflow_callback(folder: Path, writer=None):
    """The per-epoch metrics callback of a fit in `folder`, when that folder's MLflow run is open here;
    `writer` (train/callbacks.HistoryWriter, running before it) gives each epoch's history row."""
    tracker = _OPEN.get(Path(folder).resolve())
    if tracker is None or tracker.client is None:
        return None
    from dlrun.train.mlflow_callback import EpochMetrics

    return EpochMetrics(tracker, writer)


@dataclass
class Tracker:
    """One dlrun folder's MLflow run while it is open."""

    run: RunDir
    kind: str
    sub_run: bool = False
    client: Any = None                 # an MlflowClient while tracking goes on; None before, after or once failed
    record: dict = field(default_factory=dict)  # run.json's `mlflow`: uri, experiment_id, run_id, parent_run_id
    fresh: bool = True                 # a new MLflow run (a resumed one has its parameters already)

    def call(self, what: str, action: Callable, *args, **kwargs):
        """An MLflow call that may fail without harm: a failure becomes one warning and tracking stops."""
        if self.client is None:
            return None
        try:
            return action(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - tracking never fails a run
            self._stop(what, exc)
            return None

    def _stop(self, what: str, exc: BaseException) -> None:
        note = (f"MLflow tracking stopped: {what} failed at {self.record.get('uri')} ({first_line(exc, 200)}); "
                f"the run goes on, every file of it in {self.run.path}")
        self.client = None
        print(f"warning: {note}", file=sys.stderr, flush=True)
        with contextlib.suppress(Exception):
            self.run.update_info(mlflow={**self.record, "warning": note})

    def open(self, spec) -> "Tracker":
        """Start the folder's MLflow run (a resumed run's again); nothing when it is not tracked."""
        parent = _parent(self.run.path) if self.sub_run else None
        if self.sub_run and parent is None:
            return self
        if not self.sub_run and spec.tracking.mlflow is None:
            return self
        uri = parent[1]["uri"] if parent else tracking_uri(spec)
        self.record = {"uri": uri}
        _http_defaults()
        try:
            mlflow_module()
            self.client = _client(uri)
        except Exception as exc:  # noqa: BLE001 - tracking never fails a run
            self._stop("connecting", exc)
            return self
        self.call("starting the MLflow run", self._start, spec, parent)
        if self.client is not None:
            _OPEN[self.run.path.resolve()] = self
        return self

    def _start(self, spec, parent: tuple[Path, dict] | None) -> None:
        previous = self.run.read_info().get("mlflow") or {}
        if previous.get("run_id") and previous.get("uri") == self.record["uri"] and not previous.get("warning"):
            self.record, self.fresh = previous, False  # a resumed run goes on in its MLflow run
            self.client.update_run(previous["run_id"], status="RUNNING")
            return
        name, tags = self.run.run_id, self._tags(spec)
        if parent is None:
            experiment_id = _experiment(self.client, spec)
        else:
            folder, record = parent
            experiment_id = record["experiment_id"]
            name = f"{record.get('name', folder.name)}/{self.run.path.relative_to(folder).as_posix()}"
            tags["mlflow.parentRunId"] = record["run_id"]
            self.record["parent_run_id"] = record["run_id"]
        tags["dlrun.run_id"] = name
        created = self.client.create_run(experiment_id, tags=tags, run_name=name)
        self.record.update(experiment_id=experiment_id, run_id=created.info.run_id, name=name)
        self.run.update_info(mlflow=self.record)
        self.log_params(flat_params(spec.model_dump(mode="json")))

    def _tags(self, spec) -> dict[str, str]:
        tags = {"dlrun.kind": self.kind, "dlrun.backend": spec.training.backend, "dlrun.version": __version__,
                "dlrun.folder": str(self.run.path.resolve())}
        if spec.description:
            tags["mlflow.note.content"] = spec.description
        return tags

    def log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.record["run_id"], params=[Param(k, v) for k, v in params.items()])

    def log_metrics(self, values: dict, step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(param_key(k), number, now, step) for k, v in values.items()
                   if (number := _number(v)) is not None]
        if metrics:
            self.client.log_batch(self.record["run_id"], metrics=metrics)

    def log_optimizer(self, model) -> None:
        """What MLflow's callback logs as a fit begins: the optimizer's settings, as `optimizer_*` parameters."""
        config = model.optimizer.get_config()
        self.log_params({param_key(f"optimizer_{k}"): _text(v) for k, v in config.items()})

    def close(self) -> None:
        """The held-out scores, the folder's files and its status, then the MLflow run ends."""
        _OPEN.pop(self.run.path.resolve(), None)
        if self.client is None:
            return
        folder, run_id = self.run.path, self.record["run_id"]
        info = artifacts.peek_info(folder)
        status = info.get("status", "failed")
        self.call("logging the scores", self.log_metrics, final_scores(folder, info))
        self.call("uploading the run's files", self._upload, folder, run_id)
        self.call("ending the MLflow run", self._end, run_id, status)
        self.client = None

    def _upload(self, folder: Path, run_id: str) -> None:
        for name in LOGGED_FILES:
            if (folder / name).is_file():
                self.client.log_artifact(run_id, str(folder / name))
        plots = folder / artifacts.PLOTS
        if plots.is_dir() and any(plots.iterdir()):
            self.client.log_artifacts(run_id, str(plots), artifacts.PLOTS)

    def _end(self, run_id: str, status: str) -> None:
        """Status and end; MLflow prints a server run's link for the run itself, not for each fold or trial."""
        self.client.set_tag(run_id, "dlrun.status", status)
        with _environment({"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"} if self.sub_run else {}):
            self.client.set_terminated(run_id, MLFLOW_STATUS.get(status, "FAILED"))


def final_scores(folder: Path, info: dict) -> dict[str, float]:
    """The numbers a finished run is compared by: the held-out part's scores (`test_accuracy`), a k-fold
    run's mean and std over the folds (`cv_accuracy_mean`), and the run's headline (a sweep's best)."""
    scores: dict[str, float] = {}
    metrics = artifacts.read_metrics(folder) or {}
    part = metrics.get("part")
    if isinstance(part, str) and isinstance(metrics.get(part), dict):
        scores.update(_numbers(metrics[part], f"{part}_", depth=2))
    summary = artifacts.read_summary(folder) or {}
    for name, stats in (summary.get("stats") or {}).items():
        if isinstance(stats, dict):
            scores.update(_numbers({"mean": stats.get("mean"), "std": stats.get("std")}, f"cv_{name}_", depth=1))
    headline = info.get("headline") or {}
    if isinstance(headline, dict) and headline.get("name") and _number(headline.get("value")) is not None:
        scores[str(headline["name"])] = _number(headline["value"])
    return scores


def flat_params(data: Any, prefix: str = "") -> dict[str, str]:
    """A resolved spec as MLflow parameters: dotted keys (a list item as `.N`, as --set takes it), values
    as text cut to MLflow's limit.

        >>> flat_params({"training": {"epochs": 2}, "model": {"layers": [{"Dense": {"units": 8}}]}, "loss": None})
        {'training.epochs': '2', 'model.layers.0.Dense.units': '8', 'loss': 'null'}
    """
    if isinstance(data, dict) and data:
        return {k: v for key, value in data.items() for k, v in flat_params(value, f"{prefix}{key}.").items()}
    if isinstance(data, list) and data:
        return {k: v for i, value in enumerate(data) for k, v in flat_params(value, f"{prefix}{i}.").items()}
    return {param_key(prefix[:-1]): _text(data)}


def param_key(key: str) -> str:
    """A name MLflow takes: `[N]` as `.N`, other characters than letters, digits, `_ - . ` and space as `_`."""
    key = re.sub(r"\[(\d+)\]", r".\1", str(key))
    return re.sub(r"[^\w.\- ]", "_", key)[:MAX_KEY] or "_"


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:MAX_VALUE]


def _number(value: Any) -> float | None:
    """A finite number (a NumPy or backend scalar too), else None."""
    if isinstance(value, (bool, str)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _numbers(values: dict, prefix: str, depth: int) -> dict[str, float]:
    """The finite numbers of a mapping, nested ones (up to `depth` levels) as prefix_outer_inner."""
    found = {}
    for key, value in values.items():
        if isinstance(value, dict) and depth > 1:
            found.update(_numbers(value, f"{prefix}{key}_", depth - 1))
        elif (number := _number(value)) is not None:
            found[param_key(f"{prefix}{key}")] = number
    return found


def _parent(folder: Path) -> tuple[Path, dict] | None:
    """The tracked run folder a fold, trial, final or best model sits in (one or two levels up), with its
    MLflow record; None when it is not tracked, or its tracking stopped."""
    for parent in (folder.parent, folder.parent.parent):
        record = artifacts.peek_info(parent).get("mlflow")
        if isinstance(record, dict) and record.get("run_id") and record.get("uri"):
            return None if record.get("warning") else (parent, record)
    return None


def _experiment(client, spec) -> str:
    """The id of the spec's experiment (`tracking.mlflow.experiment`, else its name), made when missing; in the
    default SQLite store, its files go beside the runs."""
    name = spec.tracking.mlflow.experiment or spec.name
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if spec.tracking.mlflow.uri is None:
        location = (Path(spec.output.runs_dir).resolve() / artifacts.TRACKING_ARTIFACTS).as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # noqa: BLE001 - another run made it meanwhile
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _http_defaults() -> None:
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        for key in values:
            if key in saved:
                os.environ[key] = saved[key]
            else:
                os.environ.pop(key, None)


def log_later(folder: Path, paths: list[Path], tags: dict[str, str] | None = None) -> None:
    """Files a finished run gains later (`dlrun audit`: audit.md, audit.json) into the MLflow run its
    run.json names, with `tags`; nothing when it was not tracked or MLflow is not installed, and a
    failure is one warning (the files are in the folder either way)."""
    import importlib.util

    record = artifacts.peek_info(folder).get("mlflow") or {}
    if not record.get("run_id") or not record.get("uri") or importlib.util.find_spec("mlflow") is None:
        return
    try:
        client = _client(record["uri"])
        for path in paths:
            client.log_artifact(record["run_id"], str(path))
        for key, value in (tags or {}).items():
            client.set_tag(record["run_id"], key, value)
    except Exception as exc:  # noqa: BLE001 - tracking never fails a command
        print(f"warning: the MLflow run at {record['uri']} did not take {', '.join(p.name for p in paths)} "
              f"({first_line(exc, 200)})", file=sys.stderr, flush=True)
