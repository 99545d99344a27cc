"""The JAX and TensorFlow backends end to end: train, kfold, resume, evaluate, predict, runs.

This test process runs Keras on TensorFlow and a process cannot switch backends, so every JAX run
is a fresh `python -m dlrun` (or `python -c` calling the library) process. To keep the module
short on a small machine, the independent processes of each wave start together and the tests wait
for the ones they read:

  wave 1  jax `library` run (python -c, checks that TensorFlow is never imported), the same spec
          through the `cli` (KERAS_HOME's keras.json says torch), a `killed` run of it that SIGKILLs
          itself after epoch 4's report (resume state of epoch 3), a `tensorflow` run of
          configs/iris.yaml with KERAS_BACKEND=torch, and jax k-fold with --jobs 1 and --jobs 2
  wave 2  `resume` of the killed run (`dlrun train --resume latest`), evaluate and predict of the
          library run on jax (its default), evaluate of the tensorflow run with --backend jax

The JAX processes share a persistent XLA compilation cache (a folder of this module's), which
spares the later ones the compile time; it changes no numbers (the cache is keyed by program and
flags). The library, cli and killed runs start together on an empty cache, so they compile alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import UserError
from dlrun.runs.rundir import RunDir
from tests.support import ANSI, CONFIGS, ROOT, write_dedented

pytestmark = pytest.mark.slow  # dlrun processes on both backends

TIMEOUT = 420

# iris with every part of training the resume state must carry: dropout (its seed generator),
# balanced class weights (sample weights on JAX), a step schedule and a best checkpoint
JAX_SPEC = """
name: jax-iris
seed: 11
data: {source: "sklearn:iris"}
model:
  layers:
    - Dense: {units: 16, activation: relu}
    - Dropout: {rate: 0.3}
    - Dense: {units: 3, activation: softmax}
optimizer: {name: adam, learning_rate: 0.01, schedule: {type: step, drop: 0.5, epochs_drop: 3}}
training: {epochs: 10, batch_size: 8, backend: jax, class_weight: balanced}
callbacks:
  model_checkpoint: {monitor: val_accuracy}
output: {plots: false}
"""

KFOLD_SPEC = """
name: jax-cv
seed: 4
data: {source: "sklearn:iris"}
split: {protocol: stratified_kfold, folds: 3, validation: 0.2}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dropout: {rate: 0.2}
    - Dense: {units: 3, activation: softmax}
optimizer: {name: adam, learning_rate: 0.02}
training: {epochs: 4, batch_size: 8, backend: jax}
callbacks:
  early_stopping: {monitor: val_loss, patience: 1}
output: {plots: false}
"""

# train through the library, with KERAS_BACKEND unset: the spec alone must choose jax
LIBRARY_TRAIN = """
import json, sys
from dlrun.protocols.holdout import train
from dlrun.spec import load_spec
result = train(load_spec(sys.argv[1], [f"output.runs_dir={sys.argv[2]}"]))
import keras
print(json.dumps({"run": str(result.run.path), "tensorflow_imported": "tensorflow" in sys.modules,
                  "keras_backend": keras.backend.backend(), "status": result.status}))
"""

# the same training, SIGKILLed by itself as soon as epoch 4 is reported (the resume state then
# holds epoch 3: it is written after the history callback); no timing race
KILLED_TRAIN = """
import os, signal, sys
from dlrun.protocols.holdout import train
from dlrun.spec import load_spec

def on_epoch(row):
    if row["epoch"] == 4:
        os.kill(os.getpid(), signal.SIGKILL)

train(load_spec(sys.argv[1], [f"output.runs_dir={sys.argv[2]}"]), on_epoch=on_epoch)
"""


# a machine with Keras and JAX but no TensorFlow (a GPU image, say): importing TensorFlow fails
NO_TENSORFLOW_TRAIN = """
import sys
sys.modules["tensorflow"] = None
from dlrun.cli import main
sys.argv = ["dlrun", "train", sys.argv[1], "--runs-dir", sys.argv[2], "--set", "training.epochs=2"]
main()
"""


class Proc:
    """A started process; `done()` waits for it once and keeps (returncode, stdout, stderr)."""

    def __init__(self, args: list[str], env: dict):
        self.args = args
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
        self.result = None

    def done(self):
        if self.result is None:
            try:
                stdout, stderr = self.popen.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                stdout, stderr = self.popen.communicate()
                pytest.fail(f"{self.args} did not finish in {TIMEOUT}s:\n{stdout}\n{stderr}")
            self.result = subprocess.CompletedProcess(self.args, self.popen.returncode, stdout, stderr)
        return self.result

    def ok(self):
        """done(), asserting exit 0 and no traceback."""
        result = self.done()
        assert result.returncode == 0, f"{self.args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
        return result


def _env(cache: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", COLUMNS="400", JAX_COMPILATION_CACHE_DIR=str(cache),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _dlrun(*args, env: dict) -> Proc:
    return Proc([sys.executable, "-m", "dlrun", *map(str, args)], env)


def _python(code: str, *args, env: dict) -> Proc:
    return Proc([sys.executable, "-c", code, *map(str, args)], env)


def _flat(text: str) -> str:
    """Console text with colours removed and every run of whitespace one space (rich wraps lines)."""
    return " ".join(ANSI.sub("", text).split())


def _only_run(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def _info(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def _weights(run: Path) -> list[np.ndarray]:
    import keras

    return keras.models.load_model(run / "model.keras", compile=False).get_weights()


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("backends")
    write_dedented(root / "jax.yaml", JAX_SPEC)
    write_dedented(root / "kfold.yaml", KFOLD_SPEC)
    write_dedented(root / "keras_home" / "keras.json", '{"backend": "torch", "floatx": "float32"}')
    (root / "xla_cache").mkdir()
    return root


@pytest.fixture(scope="module")
def wave1(place) -> dict[str, Proc]:
    env = _env(place / "xla_cache")
    procs = {
        "library": _python(LIBRARY_TRAIN, place / "jax.yaml", place / "library", env=env),
        "cli": _dlrun("train", place / "jax.yaml", "--runs-dir", place / "cli",
                      env={**env, "KERAS_HOME": str(place / "keras_home")}),
        "killed": _python(KILLED_TRAIN, place / "jax.yaml", place / "resumed", env=env),
        "tensorflow": _dlrun("train", CONFIGS / "iris.yaml", "--set", "training.epochs=2", "--set",
                             "output.plots=false", "--runs-dir", place / "tf", env={**env, "KERAS_BACKEND": "torch"}),
        "kfold1": _dlrun("kfold", place / "kfold.yaml", "--jobs", "1", "--runs-dir", place / "kfold1", env=env),
        "kfold2": _dlrun("kfold", place / "kfold.yaml", "--jobs", "2", "--runs-dir", place / "kfold2", env=env),
        "no_tensorflow": _python(NO_TENSORFLOW_TRAIN, place / "jax.yaml", place / "no_tf", env=env),
    }
    yield procs
    for proc in procs.values():
        if proc.popen.poll() is None:  # a test failed early: leave nothing running
            proc.popen.kill()
            proc.popen.communicate()


@pytest.fixture(scope="module")
def library_run(wave1) -> Path:
    report = json.loads(wave1["library"].ok().stdout.strip().splitlines()[-1])
    assert report["status"] == "completed"
    return Path(report["run"])


@pytest.fixture(scope="module")
def tf_run(wave1, place) -> Path:
    wave1["tensorflow"].ok()
    return _only_run(place / "tf")


@pytest.fixture(scope="module")
def prediction_rows(place) -> Path:
    from sklearn.datasets import load_iris

    path = place / "iris_rows.csv"
    load_iris(as_frame=True).frame.drop(columns=["target"]).iloc[::7].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def wave2(wave1, place, library_run, tf_run, prediction_rows) -> dict[str, Proc]:
    env = _env(place / "xla_cache")
    killed = wave1["killed"].done()
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    procs = {
        "resume": _dlrun("train", "--resume", "latest", "--runs-dir", place / "resumed", env=env),
        "evaluate": _dlrun("evaluate", library_run.name, "--runs-dir", library_run.parent, "--json", env=env),
        "predict": _dlrun("predict", library_run.name, prediction_rows, "--runs-dir", library_run.parent,
                          "--output", place / "predicted_jax.csv", env=env),
        "evaluate_tf_run": _dlrun("evaluate", tf_run.name, "--runs-dir", tf_run.parent, "--backend", "jax", "--json",
                                  env=env),
    }
    yield procs
    for proc in procs.values():
        if proc.popen.poll() is None:
            proc.popen.kill()
            proc.popen.communicate()


def _invoke(*args) -> str:
    """A light or TensorFlow-side dlrun command in this (TensorFlow) process; its output."""
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "300"})
    assert result.exit_code == 0, f"{args}: {result.output}\n{result.exception!r}"
    return result.output


# --- train --------------------------------------------------------------------------------------


def test_a_jax_run_needs_no_tensorflow_installed(wave1, place):
    wave1["no_tensorflow"].ok()
    info = _info(_only_run(place / "no_tf"))
    assert info["status"] == "completed" and info["runtime"]["backend"] == "jax"
    assert info["epochs_run"] == 2


def test_keras_backend_torch_in_the_environment_is_overridden_with_a_note(wave1, tf_run):
    result = wave1["tensorflow"].ok()
    assert ("KERAS_BACKEND=torch in the environment is overridden: this run uses tensorflow (training.backend)"
            in _flat(result.stdout))
    info = _info(tf_run)
    assert info["status"] == "completed"
    assert info["backend"] == info["runtime"]["backend"] == "tensorflow"
    assert info["runtime"]["backend_version"] == version("tensorflow")
    assert len((tf_run / "history.csv").read_text().splitlines()) == 1 + 2


def test_a_jax_run_imports_no_tensorflow_and_records_its_backend(wave1, library_run):
    report = json.loads(wave1["library"].ok().stdout.strip().splitlines()[-1])
    assert report["keras_backend"] == "jax"
    assert report["tensorflow_imported"] is False
    info = _info(library_run)
    assert info["backend"] == "jax"
    runtime = info["runtime"]
    assert (runtime["backend"], runtime["backend_version"], runtime["keras_version"]) == \
        ("jax", version("jax"), version("keras"))
    assert runtime["device"] == "cpu"
    history = pd.read_csv(library_run / "history.csv")
    assert history["epoch"].tolist() == list(range(1, 11))
    assert np.isfinite(history[["loss", "val_loss", "accuracy"]].to_numpy()).all()
    # the step schedule is in force on JAX too: lr0 · 0.5^floor((1 + epoch) / 3), epoch counted from 0
    np.testing.assert_allclose(history["learning_rate"], [0.01 * 0.5 ** ((1 + e) // 3) for e in range(10)],
                               rtol=1e-6)


def test_the_same_jax_spec_trains_to_the_same_bytes_twice(wave1, library_run, place):
    wave1["cli"].ok()
    cli_run = _only_run(place / "cli")
    assert (cli_run / "history.csv").read_bytes() == (library_run / "history.csv").read_bytes()
    assert json.loads((cli_run / "metrics.json").read_text())["test"] == \
        json.loads((library_run / "metrics.json").read_text())["test"]
    for mine, theirs in zip(_weights(cli_run), _weights(library_run), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert _info(cli_run)["backend"] == "jax"


def test_keras_json_naming_another_backend_is_overridden_with_a_note(wave1, place):
    stdout = _flat(wave1["cli"].ok().stdout)
    keras_json = place / "keras_home" / "keras.json"
    assert f"{keras_json} says backend torch; overridden: this run uses jax (training.backend)" in stdout
    assert "KERAS_BACKEND=" not in stdout  # it was not set: only keras.json is reported


# --- k-fold -------------------------------------------------------------------------------------


def test_jax_kfold_with_two_jobs_matches_one_job_fold_by_fold(wave1, place):
    wave1["kfold1"].ok()
    wave1["kfold2"].ok()
    one, two = _only_run(place / "kfold1"), _only_run(place / "kfold2")
    histories = sorted(p.relative_to(one) for p in one.glob("folds/*/history.csv"))
    assert [str(p) for p in histories] == [f"folds/{i:02d}/history.csv" for i in (1, 2, 3)]
    assert histories == sorted(p.relative_to(two) for p in two.glob("folds/*/history.csv"))
    epochs = []
    for history in histories:
        assert (one / history).read_bytes() == (two / history).read_bytes(), history
        epochs.append(len((one / history).read_text().splitlines()) - 1)
    assert all(1 <= n <= 4 for n in epochs)
    folds = [json.loads((run / "summary.json").read_text())["folds"] for run in (one, two)]
    assert len(folds[0]) == 3 and folds[0] == folds[1]
    for run in (one, two):
        info = _info(run)
        assert info["status"] == "completed" and info["backend"] == "jax"


# --- resume -------------------------------------------------------------------------------------


def test_a_killed_jax_run_resumes_to_the_same_history_and_weights(wave2, library_run, place):
    run = _only_run(place / "resumed")
    wave2["resume"].ok()
    info = _info(run)
    assert info["status"] == "completed"
    assert info["resumed_from_epoch"] == 3  # the state of the last epoch before the kill
    assert info["backend"] == "jax"
    assert (run / "history.csv").read_bytes() == (library_run / "history.csv").read_bytes()
    for mine, theirs in zip(_weights(run), _weights(library_run), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert json.loads((run / "metrics.json").read_text())["test"] == \
        json.loads((library_run / "metrics.json").read_text())["test"]


# --- evaluate and predict across backends ---------------------------------------------------------


def test_a_jax_run_evaluates_the_same_on_jax_and_on_tensorflow(wave2, library_run):
    on_jax = json.loads(wave2["evaluate"].ok().stdout)
    trained = json.loads((library_run / "metrics.json").read_text())["test"]
    assert on_jax["backend"] == "jax"
    on_tf = json.loads(_invoke("evaluate", library_run.name, "--runs-dir", library_run.parent, "--json",
                               "--backend", "tensorflow"))
    assert on_tf["backend"] == "tensorflow"
    assert on_jax["test"]["n"] == on_tf["test"]["n"] == trained["n"]
    assert abs(on_jax["test"]["accuracy"] - trained["accuracy"]) <= 1e-6
    assert abs(on_jax["test"]["accuracy"] - on_tf["test"]["accuracy"]) <= 1e-6
    assert on_jax["test"]["log_loss"] == pytest.approx(on_tf["test"]["log_loss"], abs=1e-5)
    folders = {Path(doc["folder"]).name for doc in (on_jax, on_tf)}
    assert len(folders) == 2 and all((library_run / "evaluations" / f).is_dir() for f in folders)


def test_a_jax_run_predicts_the_same_probabilities_on_tensorflow(wave2, library_run, place, prediction_rows):
    wave2["predict"].ok()
    on_jax = pd.read_csv(place / "predicted_jax.csv")
    _invoke("predict", library_run.name, prediction_rows, "--runs-dir", library_run.parent, "--backend",
            "tensorflow", "--output", place / "predicted_tf.csv")
    on_tf = pd.read_csv(place / "predicted_tf.csv")
    columns = ["target_p_setosa", "target_p_versicolor", "target_p_virginica"]
    assert list(on_jax.columns) == list(on_tf.columns) == ["target_predicted", *columns]
    assert len(on_jax) == len(pd.read_csv(prediction_rows)) == 22
    np.testing.assert_allclose(on_jax[columns].to_numpy(), on_tf[columns].to_numpy(), atol=1e-5)
    np.testing.assert_allclose(on_jax[columns].sum(axis=1), 1.0, atol=1e-5)
    assert (on_jax["target_predicted"] == on_tf["target_predicted"]).all()
    assert on_jax["target_predicted"].nunique() > 1  # a trained model, not a constant


def test_a_tensorflow_run_evaluates_on_jax(wave2, tf_run):
    document = json.loads(wave2["evaluate_tf_run"].ok().stdout)
    assert document["backend"] == "jax"
    trained = json.loads((tf_run / "metrics.json").read_text())["test"]
    assert document["test"]["n"] == trained["n"]
    assert abs(document["test"]["accuracy"] - trained["accuracy"]) <= 1e-6
    assert document["test"]["log_loss"] == pytest.approx(trained["log_loss"], abs=1e-5)


def test_scoring_a_jax_run_without_jax_names_the_backend_option(library_run, monkeypatch):
    from dlrun.inference.saved_run import load_saved_run

    saved = load_saved_run(RunDir(library_run))
    monkeypatch.setitem(sys.modules, "jax", None)  # jax looks uninstalled
    with pytest.raises(UserError, match="--backend") as caught:
        saved.use_backend()
    assert "dlrun[jax]" in str(caught.value)
    assert saved.use_backend("tensorflow") == "tensorflow"  # a model runs on either


# --- runs, show, compare ---------------------------------------------------------------------------


def test_runs_show_and_compare_name_each_runs_backend(library_run, tf_run, tmp_path, monkeypatch):
    from dlrun import cli

    monkeypatch.setattr(cli.out, "width", 250)  # the console's width was fixed when it was made
    runs = tmp_path / "runs"
    for run in (library_run, tf_run):
        shutil.copytree(run, runs / run.name)
    table = ANSI.sub("", _invoke("runs", "--runs-dir", runs))
    header = next(line for line in table.splitlines() if " id " in line or "│ id" in line)
    assert "backend" in header
    rows = {run.name: next(line for line in table.splitlines() if run.name in line) for run in (library_run, tf_run)}
    assert re.search(r"│\s*jax\s*│", rows[library_run.name]), rows
    assert re.search(r"│\s*tensorflow\s*│", rows[tf_run.name]), rows
    card = _flat(_invoke("show", library_run.name, "--runs-dir", runs))
    assert f"backend jax {version('jax')}" in card
    comparison = ANSI.sub("", _invoke("compare", library_run.name, tf_run.name, "--runs-dir", runs))
    line = next(line for line in comparison.splitlines() if re.search(r"\bbackend\b", line))
    assert re.search(r"jax\s*│\s*tensorflow", line), line
