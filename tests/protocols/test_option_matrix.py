"""Every callback under every protocol on both backends (issue 24): one cell per combination, each a
real 1-epoch training of a Dense(4) model on 60 iris rows (a CSV with a group column), checked to
have trained every fold or trial and to have written what its callback writes into that fold's or
trial's own folder.

JAX cells run in one JAX process shared by the module (this process runs Keras on TensorFlow; a
process cannot switch backends). The Ray cells share one local Ray (2 CPUs) that the module starts
once, and pass its address to the executor.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from dlrun.runs.artifacts import checkpoints_folder
from tests.support import (ROOT, BackendProcess, child_env, finish_process, run_protocol, trained_folders,
                           write_iris_rows)

CALLBACKS = {
    "early_stopping": "early_stopping: {monitor: val_loss, patience: 1}",
    "model_checkpoint": "model_checkpoint: {monitor: val_loss}",
    "reduce_lr_on_plateau": "reduce_lr_on_plateau: {monitor: val_loss, patience: 1}",
    "tensorboard": "tensorboard: true",
    "terminate_on_nan": "terminate_on_nan: true",
}
# Every k-fold split keeps an inner validation part (split.validation), so val_loss is monitored
# under every protocol; trained folders: folds x repeats, or trials (x folds).
FOLDS = "folds: 2, validation: 0.2"
PROTOCOLS = {  # name: (command, split, sweep.evaluate or None, trained folders)
    "holdout": ("train", "{test: 0.2, validation: 0.2}", None, 1),
    "kfold": ("kfold", f"{{protocol: kfold, {FOLDS}}}", None, 2),
    "stratified_kfold": ("kfold", f"{{protocol: stratified_kfold, {FOLDS}}}", None, 2),
    "repeated_kfold": ("kfold", f"{{protocol: repeated_kfold, repeats: 2, {FOLDS}}}", None, 4),
    "group_kfold": ("kfold", f"{{protocol: group_kfold, group: site, {FOLDS}}}", None, 2),
    "time_series": ("kfold", f"{{protocol: time_series, {FOLDS}}}", None, 2),
    "sweep_holdout": ("sweep", "{test: 0.2, validation: 0.2}", "holdout", 2),
    "sweep_kfold": ("sweep", f"{{protocol: stratified_kfold, {FOLDS}}}", "kfold", 4),
}
# A Ray call costs ~8 s even on the shared Ray (a new driver connection: fresh workers importing the
# backend, and Tune for a sweep), so 5 callbacks x 2 protocols x 2 backends would take ~160 s: each
# Ray cell runs all five callbacks in one spec instead (any one of them failing fails the cell).
RAY = {"ray_kfold": "stratified_kfold", "ray_sweep": "sweep_holdout"}

CELLS = [pytest.param(backend, protocol, callback, marks=[pytest.mark.slow] if backend == "jax" else [],
                      id=f"{backend}-{protocol}-{callback}")
         for backend in ("tensorflow", "jax") for protocol in PROTOCOLS for callback in CALLBACKS] + \
        [pytest.param(backend, protocol, "all", marks=pytest.mark.slow, id=f"{backend}-{protocol}-all")
         for backend in ("tensorflow", "jax") for protocol in RAY]


def spec_text(backend: str, protocol: str, callback: str) -> str:
    _, split, evaluate, _ = PROTOCOLS[RAY.get(protocol, protocol)]
    callbacks = ", ".join(CALLBACKS.values()) if callback == "all" else CALLBACKS[callback]
    # keep: all, as keep: best deletes the other trials' model files, checkpoints included; the
    # objective is the default, val_loss (a k-fold trial: each fold's value at its best epoch)
    sweep = "" if evaluate is None else (f"sweep: {{trials: 2, seed: 1, pruner: none, plots: false, keep: all, "
                                         f"evaluate: {evaluate}, "
                                         f"params: {{optimizer.learning_rate: {{loguniform: [0.001, 0.1]}}}}}}\n")
    return f"""name: matrix
seed: 3
data: {{source: "csv:rows.csv", target: species, features: [f1, f2, f3, f4]}}
split: {split}
model:
  layers:
    - Dense: {{units: 4, activation: relu}}
    - Dense: {{units: 3, activation: softmax}}
optimizer: {{name: adam, learning_rate: 0.01}}
training: {{epochs: 1, batch_size: 16, backend: {backend}}}
callbacks: {{{callbacks}}}
output: {{plots: false, save_model: false}}
{sweep}"""


@pytest.fixture(scope="module")
def jax_process():
    process = BackendProcess()
    yield process
    process.close()


@pytest.fixture(scope="module")
def ray_address():
    """The address of a local Ray (2 CPUs) for the module's Ray cells, stopped (ray.shutdown in the
    process that started it) when they are done."""
    pytest.importorskip("ray")
    code = ("import os, sys\nos.environ.setdefault('RAY_AUTH_MODE', 'disabled')\nimport ray\n"
            "ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level='ERROR')\n"
            "print(ray.get_runtime_context().gcs_address, flush=True)\nsys.stdin.read()\nray.shutdown()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=child_env(), text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    address = holder.stdout.readline().strip()
    try:
        assert address, "the local Ray did not start"
        yield address
    finally:
        finish_process(holder, 60)  # closes its stdin: ray.shutdown()


@pytest.mark.parametrize("backend, protocol, callback", CELLS)
def test_every_fold_and_trial_trains_and_keeps_what_its_callback_writes(backend, protocol, callback, tmp_path,
                                                                        request):
    write_iris_rows(tmp_path / "rows.csv")
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text(backend, protocol, callback), encoding="utf-8")
    command, _, _, trained = PROTOCOLS[RAY.get(protocol, protocol)]
    address = request.getfixturevalue("ray_address") if protocol in RAY else None
    if backend == "jax":
        request.getfixturevalue("jax_process").run(command, spec, tmp_path / "runs", address)
    else:
        run_protocol(command, str(spec), str(tmp_path / "runs"), address)
    folders = trained_folders(tmp_path / "runs")
    assert len(folders) == trained, folders
    for folder in folders:
        if callback in ("model_checkpoint", "all"):
            assert (checkpoints_folder(folder) / "best.keras").is_file(), f"{folder}: no checkpoints/best.keras"
        if callback in ("tensorboard", "all"):
            assert any((folder / "tensorboard").rglob("*")), f"{folder}: no tensorboard/ logs"
