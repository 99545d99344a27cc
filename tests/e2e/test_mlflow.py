"""MLflow tracking (`tracking.mlflow`, `--track URI`) against a real `mlflow server` on 127.0.0.1, read back
through MLflow's own client: a train run's parameters, per-epoch metrics, tags and files; k-fold folds and
sweep trials as child runs; the default SQLite store beside the runs; a store that does not answer (exit 2,
no run folder); a server that dies mid-run (a warning, the dlrun run completes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun import __version__
from dlrun.cli import app
from dlrun.runs import artifacts
from tests.support import TINY_IRIS, assert_refused, combined_output, write_dedented

TRACKED_IRIS = TINY_IRIS + "tracking: {mlflow: {}}\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """`mlflow server` in a process group of its own, its runs in a SQLite file (readable after it is gone)
    and its artifacts served through it, as a remote server's are."""

    def __init__(self, folder: Path, timeout: float = 180):
        folder.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.store = f"sqlite:///{folder / 'db.sqlite'}"
        self.log = folder / "server.log"
        command = [str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri", self.store,
                   "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", "1"]
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         cwd=folder)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"mlflow server exited:\n{self.log.read_text()}"
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise AssertionError(f"mlflow server did not answer in {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the server and its uvicorn worker
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    yield started
    started.stop()


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _only_run(runs: Path) -> Path:
    (folder,) = [p for p in runs.iterdir() if artifacts.is_run(p)]
    return folder


def _record(folder: Path) -> dict:
    return artifacts.read_info(folder)["mlflow"]


def _children(client, parent) -> list:
    found = client.search_runs([parent.info.experiment_id],
                               filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    return sorted(found, key=lambda run: run.info.run_name)


def _steps(client, run_id: str, metric: str = "loss") -> list[int]:
    return [m.step for m in sorted(client.get_metric_history(run_id, metric), key=lambda m: m.step)]


# ---- spec and refusals: no server needed ---------------------------------------------------------------

def test_the_params_are_the_resolved_spec_flattened_with_keys_mlflow_takes():
    from dlrun.train.tracking import MAX_VALUE, flat_params, param_key

    params = flat_params({"training": {"epochs": 2, "fine_tune": []}, "loss": None, "seed": 5,
                          "model": {"layers": [{"Dense": {"units": 8}}]}, "description": "x" * 7000,
                          "sweep": {"params": {"model.layers[0].Dense.units": {"int": [4, 16]}}}})
    assert params["training.epochs"] == "2" and params["training.fine_tune"] == "[]" and params["loss"] == "null"
    assert params["model.layers.0.Dense.units"] == "8"
    assert params["sweep.params.model.layers.0.Dense.units.int.1"] == "16"  # [0] as .0: MLflow refuses brackets
    assert len(params["description"]) == MAX_VALUE
    assert param_key("val_out(a)/loss") == "val_out_a__loss"


def test_a_spec_that_tracks_without_mlflow_installed_is_refused_naming_the_extra(write_spec, monkeypatch):
    spec = write_spec(TRACKED_IRIS)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow fails, find_spec finds nothing
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert_refused(result, combined_output(result), "tracking.mlflow", 'pip install "dlrun[mlflow]"')


def test_validate_of_a_tracked_spec_imports_no_mlflow(write_spec):
    spec = write_spec(TRACKED_IRIS)
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom dlrun.cli import app\n"
            f"result = CliRunner().invoke(app, ['validate', {str(spec)!r}])\n"
            "print(result.exit_code, [m for m in ('mlflow', 'tensorflow', 'keras') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout.strip() == "0 []", proc.stdout + proc.stderr


def test_smoke_runs_track_nothing(write_spec):
    from dlrun.protocols.smoke import smoke_overrides
    from dlrun.spec import load_spec

    spec = write_spec(TINY_IRIS + "tracking: {mlflow: {uri: 'http://127.0.0.1:9'}}\n")
    overrides = smoke_overrides(load_spec(spec), "train")
    assert "tracking.mlflow=null" in overrides
    assert load_spec(spec, overrides).spec.tracking.mlflow is None


SWEEP_IRIS = TINY_IRIS + """
output: {plots: false}
sweep:
  trials: 2
  seed: 1
  pruner: none
  plots: false
  params:
    optimizer.learning_rate: {loguniform: [0.001, 0.1]}
"""
KFOLD_IRIS = TINY_IRIS + "split: {protocol: kfold, folds: 2, validation: 0.0}\noutput: {plots: false}\n"
KFOLD_FINAL_IRIS = KFOLD_IRIS.replace("validation: 0.0}", "validation: 0.0, test: 0.2, final_model: true}")


@pytest.mark.parametrize("command, text", [("train", TINY_IRIS), ("kfold", KFOLD_IRIS), ("sweep", SWEEP_IRIS)])
def test_a_tracking_server_that_does_not_answer_is_exit_2_before_any_run_folder(command, text, write_spec, tmp_path):
    uri = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    runs = tmp_path / "runs"
    started = time.monotonic()
    result = CliRunner().invoke(app, [command, str(write_spec(text)), "--track", uri, "--runs-dir", str(runs)])
    assert_refused(result, combined_output(result), uri, "cannot be reached", "--track")
    assert not runs.exists() or not any(runs.iterdir())
    assert time.monotonic() - started < 60


# ---- against a real server ------------------------------------------------------------------------------

@pytest.mark.slow  # an mlflow server and a training
def test_a_train_run_is_an_mlflow_run_with_params_epoch_metrics_tags_and_files(server, write_spec, tmp_path):
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["train", str(write_spec(TINY_IRIS)), "--track", server.uri, "--runs-dir",
                                      str(runs)])
    assert result.exit_code == 0, combined_output(result)
    folder = _only_run(runs)
    record = _record(folder)
    assert record["uri"] == server.uri and "warning" not in record
    client = _client(server.uri)
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == folder.name
    assert client.get_experiment(run.info.experiment_id).name == "tiny-iris"  # default: the spec's name
    params = run.data.params
    assert params["training.epochs"] == "2" and params["training.batch_size"] == "16"
    assert params["model.layers.0.Dense.units"] == "8" and params["data.source"] == "sklearn:iris"
    assert params["tracking.mlflow.uri"] == server.uri and params["seed"] == "5"
    assert float(params["optimizer_learning_rate"]) == pytest.approx(0.001)  # MLflow's callback: the optimizer
    tags = run.data.tags
    assert (tags["dlrun.run_id"], tags["dlrun.kind"], tags["dlrun.backend"], tags["dlrun.version"]) == \
        (folder.name, "train", "tensorflow", __version__)
    assert tags["dlrun.status"] == "completed" and "mlflow.parentRunId" not in tags
    history = artifacts.read_history(folder)
    for metric in ("loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"):
        points = sorted(client.get_metric_history(run.info.run_id, metric), key=lambda m: m.step)
        assert [m.step for m in points] == [1, 2], metric  # one point per epoch, at history.csv's epoch
        assert [m.value for m in points] == pytest.approx([row[metric] for row in history], rel=1e-6), metric
    scores = json.loads((folder / artifacts.METRICS).read_text())["test"]
    assert run.data.metrics["test_accuracy"] == pytest.approx(scores["accuracy"])
    files = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"report.md", "metrics.json", "model.keras", "config.yaml", "history.csv", "plots"} <= files
    assert {item.path for item in client.list_artifacts(run.info.run_id, "plots")} >= {"plots/loss.png"}
    model = Path(client.download_artifacts(run.info.run_id, "model.keras", str(tmp_path / "download")))
    assert model.read_bytes() == (folder / artifacts.MODEL).read_bytes()
    # an audit of the finished run joins its MLflow run: the files and the worst status as a tag
    audited = CliRunner().invoke(app, ["audit", folder.name, "--runs-dir", str(runs)])
    assert audited.exit_code == 0, combined_output(audited)
    assert {"audit.md", "audit.json"} <= {item.path for item in client.list_artifacts(run.info.run_id)}
    assert client.get_run(run.info.run_id).data.tags["dlrun.audit"] in ("PASS", "WARN", "FAIL")


@pytest.mark.slow
def test_fine_tuning_phases_log_their_epochs_on_one_continuous_step(server, write_spec, tmp_path):
    from dlrun.protocols.holdout import train
    from dlrun.spec import load_spec

    spec = write_spec(TINY_IRIS.replace("training: {epochs: 2, batch_size: 16}", "training: {epochs: 2, batch_size: 16, "
                                        "fine_tune: [{epochs: 2, learning_rate: 0.0001}]}"))
    result = train(load_spec(spec, [f"output.runs_dir={tmp_path / 'runs'}", f"tracking.mlflow.uri={server.uri}"]))
    record = _record(result.run.path)
    client = _client(server.uri)
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED" and "warning" not in record
    assert _steps(client, record["run_id"]) == [1, 2, 3, 4]
    phases = sorted(client.get_metric_history(record["run_id"], "phase"), key=lambda m: m.step)
    assert [m.value for m in phases] == [1, 1, 2, 2]
    rates = sorted(client.get_metric_history(record["run_id"], "learning_rate"), key=lambda m: m.step)
    assert rates[-1].value == pytest.approx(0.0001)


INTERRUPTER = '''
import os
import signal
from pathlib import Path

import keras


class InterruptOnce(keras.callbacks.Callback):
    """Ctrl-C at the end of the first epoch, the first time only (a marker file remembers)."""

    def on_epoch_end(self, epoch, logs=None):
        marker = Path(os.environ["DLRUN_TEST_INTERRUPTED_ONCE"])
        if epoch == 0 and not marker.exists():
            marker.write_text("interrupted")
            os.kill(os.getpid(), signal.SIGINT)
'''


@pytest.mark.slow
def test_an_interrupted_run_is_killed_in_mlflow_and_its_resume_goes_on_in_the_same_mlflow_run(
        server, write_spec, tmp_path, monkeypatch):
    from dlrun.errors import Interrupted
    from dlrun.protocols.holdout import resume_train, train
    from dlrun.runs.rundir import RunDir
    from dlrun.spec import load_spec

    monkeypatch.setenv("DLRUN_TEST_INTERRUPTED_ONCE", str(tmp_path / "interrupted"))
    write_dedented(tmp_path / "mlflow_test_interrupter.py", INTERRUPTER)
    spec = write_spec(TINY_IRIS.replace("epochs: 2", "epochs: 3") + "imports: [mlflow_test_interrupter]\n"
                      "callbacks: {custom: [{InterruptOnce: {}}]}\n")
    runs = tmp_path / "runs"
    with pytest.raises(Interrupted):
        train(load_spec(spec, [f"output.runs_dir={runs}", f"tracking.mlflow.uri={server.uri}"]))
    folder = _only_run(runs)
    record = _record(folder)
    client = _client(server.uri)
    assert client.get_run(record["run_id"]).info.status == "KILLED"
    assert _steps(client, record["run_id"]) == [1]
    resume_train(RunDir(folder))
    assert _record(folder)["run_id"] == record["run_id"]  # the same MLflow run, not a new one
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["dlrun.status"] == "completed"
    assert _steps(client, record["run_id"]) == [1, 2, 3]


@pytest.mark.slow  # two worker processes
def test_kfold_folds_run_in_other_processes_are_child_runs_of_the_kfold_run(server, write_spec, tmp_path):
    from dlrun.executors.choice import Executor
    from dlrun.protocols.kfold import kfold
    from dlrun.spec import load_spec

    loaded = load_spec(write_spec(KFOLD_FINAL_IRIS), [f"output.runs_dir={tmp_path / 'runs'}",
                                               f"tracking.mlflow.uri={server.uri}"])
    result = kfold(loaded, executor=Executor(jobs=2))
    client = _client(server.uri)
    parent = client.get_run(_record(result.run.path)["run_id"])
    assert parent.info.status == "FINISHED" and parent.data.tags["dlrun.kind"] == "kfold"
    assert parent.data.metrics["cv_accuracy_mean"] == pytest.approx(result.summary["stats"]["accuracy"]["mean"])
    assert {"summary.json", "report.md", "config.yaml"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}
    final, *children = _children(client, parent)  # by name: .../final, .../folds/01, .../folds/02
    assert [c.info.run_name for c in children] == [f"{result.run.run_id}/folds/01", f"{result.run.run_id}/folds/02"]
    assert final.info.run_name == f"{result.run.run_id}/final" and final.data.tags["dlrun.kind"] == "final"
    assert final.info.status == "FINISHED" and "model.keras" in {a.path for a in client.list_artifacts(final.info.run_id)}
    for child, folder in zip(children, artifacts.fold_folders(result.run.path), strict=True):
        assert child.info.status == "FINISHED" and child.data.tags["dlrun.kind"] == "fold"
        assert child.info.experiment_id == parent.info.experiment_id
        assert _record(folder)["run_id"] == child.info.run_id
        assert _steps(client, child.info.run_id) == [1, 2]
        assert "metrics.json" in {a.path for a in client.list_artifacts(child.info.run_id)}


@pytest.mark.slow
def test_sweep_trials_are_child_runs_of_the_sweep_run(server, write_spec, tmp_path):
    from dlrun.protocols.sweep import sweep_or_resume

    result = sweep_or_resume(write_spec(SWEEP_IRIS), [f"output.runs_dir={tmp_path / 'runs'}",
                                                      f"tracking.mlflow.uri={server.uri}"])
    client = _client(server.uri)
    parent = client.get_run(_record(result.run.path)["run_id"])
    assert parent.info.status == "FINISHED" and parent.data.tags["dlrun.kind"] == "sweep"
    assert "sweep.trials" in parent.data.params
    assert {"trials.csv", "best.json", "report.md"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}
    children = _children(client, parent)
    assert [c.info.run_name for c in children] == [f"{result.run.run_id}/trials/000", f"{result.run.run_id}/trials/001"]
    for child, folder in zip(children, artifacts.trial_folders(result.run.path), strict=True):
        assert child.info.status == "FINISHED" and child.data.tags["dlrun.kind"] == "trial"
        rate = artifacts.read_info(folder)["params"]["optimizer.learning_rate"]
        assert float(child.data.params["optimizer.learning_rate"]) == pytest.approx(rate)  # the trial's value
        assert _steps(client, child.info.run_id) == [1, 2]


@pytest.mark.slow
def test_tracking_mlflow_without_a_uri_is_a_sqlite_store_beside_the_runs(write_spec, tmp_path, monkeypatch):
    from dlrun.protocols.holdout import train
    from dlrun.spec import load_spec

    monkeypatch.chdir(tmp_path)  # runs_dir "runs", relative to the working directory as always
    spec = write_spec(TINY_IRIS + "tracking: {mlflow: {experiment: iris-local}}\n")
    result = train(load_spec(spec))
    store = tmp_path / "runs" / artifacts.TRACKING_STORE
    assert store.is_file() and _record(result.run.path)["uri"] == f"sqlite:///{store}"
    client = _client("sqlite:///runs/mlflow.db")  # as README's `mlflow ui --backend-store-uri` reads it
    experiment = client.get_experiment_by_name("iris-local")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["dlrun.run_id"] == result.run.run_id
    assert run.data.params["training.epochs"] == "2" and _steps(client, run.info.run_id) == [1, 2]
    assert {"model.keras", "report.md"} <= {a.path for a in client.list_artifacts(run.info.run_id)}
    assert (tmp_path / "runs" / artifacts.TRACKING_ARTIFACTS).is_dir()  # the files beside the runs, not ./mlruns
    assert not (tmp_path / "mlruns").exists()


STOPPER = '''
import os
import signal
import socket
import time

import keras


class StopTrackingServer(keras.callbacks.Callback):
    """Kills the test's mlflow server at the end of the first epoch, before MLflow's callback logs it."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch:
            return
        os.killpg(int(os.environ["DLRUN_TEST_MLFLOW_PGID"]), signal.SIGKILL)
        port = int(os.environ["DLRUN_TEST_MLFLOW_PORT"])
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                return
            time.sleep(0.05)
'''


@pytest.mark.slow  # a server of its own, killed during the run
def test_a_server_that_dies_mid_run_is_a_warning_and_the_run_completes(write_spec, tmp_path, monkeypatch):
    doomed = MlflowServer(tmp_path / "doomed-server")
    try:
        monkeypatch.setenv("DLRUN_TEST_MLFLOW_PGID", str(doomed.proc.pid))
        monkeypatch.setenv("DLRUN_TEST_MLFLOW_PORT", str(doomed.port))
        write_dedented(tmp_path / "mlflow_test_stopper.py", STOPPER)
        spec = write_spec(TINY_IRIS.replace("epochs: 2", "epochs: 3") + "imports: [mlflow_test_stopper]\n"
                          "callbacks: {custom: [{StopTrackingServer: {}}]}\n")
        runs = tmp_path / "runs"
        result = CliRunner().invoke(app, ["train", str(spec), "--track", doomed.uri, "--runs-dir", str(runs)])
        output = combined_output(result)
        assert result.exit_code == 0, output
        assert "warning: MLflow tracking stopped: logging epoch 1 failed" in " ".join(output.split())
        folder = _only_run(runs)
        info = artifacts.read_info(folder)
        assert info["status"] == "completed" and len(artifacts.read_history(folder)) == 3
        assert artifacts.has_model(folder) and (folder / artifacts.REPORT).is_file()
        assert "MLflow tracking stopped" in info["mlflow"]["warning"]
        client = _client(doomed.store)  # the dead server's own store: what reached it
        run = client.get_run(info["mlflow"]["run_id"])
        assert run.info.status == "RUNNING" and run.data.params["training.epochs"] == "3"
        assert _steps(client, run.info.run_id) == []
    finally:
        doomed.stop()
