"""Transfer learning: a saved keras.applications backbone loaded as a frozen base and fine-tuned in
phases, `trainable: false` on layers and graph nodes, warm starts from an earlier run (`init_from`,
`--init-from`) with their shape check and lineage, and a kill in a fine-tuning phase resumed exactly."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlrun.errors import UserError
from dlrun.protocols.holdout import resume_train, train
from dlrun.runs.overview import run_overview
from dlrun.runs.rundir import RunDir
from dlrun.spec import load_spec
from tests.support import ROOT, child_env, config_tool, killed_after_epochs, write_dedented

make_shapes = config_tool("make_shapes")

BACKBONE = """
name: tiny-backbone
seed: 4
data: {source: "images:shapes", image_size: [32, 32], scale: none}
model:
  layers:
    - Application: {name: MobileNetV2, weights: WEIGHTS, trainable: false, args: {alpha: 0.35}}
    - Dense: {units: 3, activation: softmax}
optimizer: {name: adam, learning_rate: 0.01}
training:
  epochs: 1
  batch_size: 8
  fine_tune:
    - {epochs: 1, unfreeze: {top: 3}, learning_rate: 0.001}
output: {plots: false}
"""

IRIS = """
name: warm-iris
seed: 6
data: {source: "sklearn:iris"}
model:
  layers:
    - Dense: {units: 16, activation: relu}
    - Dense: {units: 3, activation: softmax}
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: EPOCHS, batch_size: 16}
output: {plots: false}
"""


def _base_model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None)


@pytest.fixture(scope="module")
def saved_base(tmp_path_factory):
    """A small randomly initialised MobileNetV2 saved as .weights.h5 and as .keras, beside a shapes folder."""
    folder = tmp_path_factory.mktemp("backbone")
    make_shapes.write_shapes(folder / "shapes", per_class=8, size=32, classes=3, seed=2)
    base = _base_model()
    base.save_weights(folder / "base.weights.h5")
    base.save(folder / "base.keras")
    return folder


def _by_name(model) -> dict[str, list[np.ndarray]]:
    import keras

    out = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.update({f"{layer.name}/{k}": v for k, v in _by_name(layer).items()})
        elif layer.weights:
            out[layer.name] = [np.asarray(w) for w in layer.get_weights()]
    return out


@pytest.mark.slow
def test_a_saved_application_is_a_frozen_base_then_its_top_layers_are_fine_tuned(saved_base, runs_dir):
    import keras

    spec = write_dedented(saved_base / "spec.yaml", BACKBONE.replace("WEIGHTS", "base.weights.h5"))
    result = train(load_spec(spec, [f"output.runs_dir={runs_dir}"]))
    run = result.run.path
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [row["phase"] for row in rows] == ["1", "2"]
    assert float(rows[1]["learning_rate"]) == pytest.approx(0.001)
    phases = json.loads((run / "metrics.json").read_text())["phases"]
    assert [p["phase"] for p in phases] == [1, 2]
    assert phases[1]["trainable_parameters"] > phases[0]["trainable_parameters"]
    assert "## Training phases" in (run / "report.md").read_text()

    base = {f"mobilenetv2/{k}": v for k, v in _by_name(keras.models.load_model(saved_base / "base.keras")).items()}
    final = _by_name(keras.models.load_model(run / "model.keras", compile=False))
    assert "mobilenetv2_preprocess" in final  # the application's own preprocessing, inside the model
    kernel, bias = final["mobilenetv2_preprocess"]
    np.testing.assert_allclose(np.diag(kernel), 1 / 127.5, rtol=1e-5)  # MobileNetV2: pixels to [-1, 1]
    np.testing.assert_allclose(bias, -1.0, rtol=1e-5)
    for name, values in base.items():
        if name.endswith(("Conv_1", "block_16_project")):
            assert any(not np.array_equal(a, b) for a, b in zip(values, final[name])), f"{name} was not fine-tuned"
        else:  # frozen in both phases; BatchNormalization kept its moving statistics (inference mode)
            for a, b in zip(values, final[name]):
                np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.slow
def test_a_keras_file_backbone_loads_with_its_weights(saved_base, runs_dir):
    import keras

    spec = write_dedented(saved_base / "keras_spec.yaml", BACKBONE.replace("WEIGHTS", "base.keras"))
    result = train(load_spec(spec, [f"output.runs_dir={runs_dir}", "training.fine_tune=[]"]))
    base = _by_name(keras.models.load_model(saved_base / "base.keras"))
    final = _by_name(keras.models.load_model(result.run.path / "model.keras", compile=False))
    for name, values in base.items():
        for a, b in zip(values, final[f"mobilenetv2/{name}"]):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_imagenet_weights_missing_from_the_cache_is_exit_2_naming_the_file(saved_base, tmp_path):
    spec = write_dedented(saved_base / "imagenet.yaml", BACKBONE.replace("WEIGHTS", "imagenet"))
    env = {**child_env(), "KERAS_HOME": str(tmp_path / "keras"), "https_proxy": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9"}  # a download fails at once, network or not
    proc = subprocess.run([sys.executable, "-m", "dlrun", "validate", str(spec), "--build"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = proc.stdout + proc.stderr
    assert "Traceback" not in message
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5" in message or \
        "mobilenet_v2_weights" in message
    assert str(tmp_path / "keras" / "models") in message.replace("\n", "")


def test_spec_checks_of_a_backbone(write_spec):
    from dlrun.errors import SpecError

    def problems(text: str) -> str:
        with pytest.raises(SpecError) as caught:
            load_spec(write_spec(text))
        return str(caught.value)

    none = BACKBONE.replace("WEIGHTS", "none")
    text = problems(none.replace("MobileNetV2", "MobileNetV9"))
    assert "model.layers[0].Application.name" in text and "did you mean 'MobileNetV2'" in text
    text = problems(none.replace("alpha: 0.35", "alpha: 0.35, pooling: max"))
    assert "model.layers[0].Application.args.pooling" in text and "has a field of its own" in text
    assert "Application.weights" in problems(none.replace("weights: none", "weights: base.h5"))
    assert "set data.scale: none" in problems(none.replace("scale: none", "scale: standard"))


def test_trainable_false_keeps_a_layer_and_a_graph_node_as_built(trained_run):
    sequential = IRIS.replace("{units: 16, activation: relu}", "{units: 16, activation: relu, trainable: false}")
    graph = """
    name: frozen-node
    seed: 6
    data: {source: "sklearn:iris"}
    model:
      inputs: {x: {}}
      nodes:
        - {name: hidden, inputs: x, Dense: {units: 8, activation: relu, trainable: false}}
        - {name: out, inputs: hidden, Dense: {units: 3, activation: softmax}}
      outputs: [{node: out}]
    training: {epochs: EPOCHS, batch_size: 16}
    output: {plots: false}
    """
    import keras

    for text, frozen, trained in ((sequential, "dense", "dense_1"), (graph, "hidden", "out")):
        one, three = (keras.models.load_model(trained_run(text.replace("EPOCHS", str(n))).run.path / "model.keras",
                                              compile=False) for n in (1, 3))
        for a, b in zip(one.get_layer(frozen).get_weights(), three.get_layer(frozen).get_weights()):
            np.testing.assert_array_equal(a, b)
        assert not np.array_equal(one.get_layer(trained).get_weights()[0], three.get_layer(trained).get_weights()[0])


def _iris_spec(folder: Path, epochs: int) -> Path:
    return write_dedented(folder / f"iris_{epochs}.yaml", IRIS.replace("EPOCHS", str(epochs)))


def _first_loss(run: Path) -> float:
    return float(next(csv.DictReader((run / "history.csv").open()))["loss"])


def test_a_warm_start_begins_where_its_parent_ended_and_records_the_lineage(tmp_path, runs_dir):
    parent = train(load_spec(_iris_spec(tmp_path, 30), [f"output.runs_dir={runs_dir}"])).run
    one = _iris_spec(tmp_path, 1)
    scratch = train(load_spec(one, [f"output.runs_dir={runs_dir}"])).run
    warm = train(load_spec(one, [f"output.runs_dir={runs_dir}", f"init_from.run={parent.run_id}"])).run
    assert _first_loss(warm.path) < _first_loss(scratch.path) - 0.2
    info = json.loads((warm.path / "run.json").read_text())
    assert info["parent"]["run"] == parent.run_id and info["parent"]["preprocessing"] == "reuse"
    assert info["init_from"]["loaded"] == ["dense", "dense_1"] and info["init_from"]["skipped"] == []
    saved = json.loads((warm.path / "preprocessing.json").read_text())
    assert saved["features"] == json.loads((parent.path / "preprocessing.json").read_text())["features"]
    grandchild = train(load_spec(one, [f"output.runs_dir={runs_dir}", f"init_from.run={warm.path}"])).run
    assert run_overview(grandchild)["lineage"] == [warm.run_id, parent.run_id]


def test_a_shape_mismatch_lists_every_layer_exits_2_and_writes_no_run(tmp_path, runs_dir):
    parent = train(load_spec(_iris_spec(tmp_path, 2), [f"output.runs_dir={runs_dir}"])).run
    wider = write_dedented(tmp_path / "wider.yaml", IRIS.replace("EPOCHS", "1").replace("units: 16", "units: 12"))
    proc = subprocess.run([sys.executable, "-m", "dlrun", "train", str(wider), "--runs-dir", str(runs_dir),
                           "--init-from", parent.run_id], cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = " ".join((proc.stdout + proc.stderr).split())
    assert "Traceback" not in message
    assert "2 layer(s) have other weight shapes" in message
    assert "dense: 4×16, 16 in the parent, 4×12, 12 here" in message
    assert "dense_1: 16×3, 3 in the parent, 12×3, 3 here" in message
    assert "skip_mismatch" in message
    assert [p.name for p in runs_dir.iterdir()] == [parent.path.name]  # nothing written for the refused run
    # a changed head starts as built when asked; the layers that fit are loaded
    deeper = write_dedented(tmp_path / "deeper.yaml", IRIS.replace("EPOCHS", "1").replace(
        "- Dense: {units: 3, activation: softmax}", "- Dense: {units: 3, activation: softmax, name: new_head}"))
    result = train(load_spec(deeper, [f"output.runs_dir={runs_dir}", f"init_from.run={parent.run_id}"]))
    assert json.loads((result.run.path / "run.json").read_text())["init_from"]["new"] == ["new_head"]
    skipped = train(load_spec(wider, [f"output.runs_dir={runs_dir}", f"init_from.run={parent.run_id}",
                                      "init_from.skip_mismatch=true", "model.layers[1].Dense.name=dense_1",
                                      "model.layers[0].Dense.units=16", "model.layers[0].Dense.name=dense"]))
    assert json.loads((skipped.run.path / "run.json").read_text())["init_from"]["loaded"] == ["dense", "dense_1"]
    with pytest.raises(UserError, match="no run 'nope'"):
        train(load_spec(wider, [f"output.runs_dir={runs_dir}", "init_from.run=nope"]))


def test_more_data_without_restarting_reuses_or_refits_the_preprocessing(tmp_path, runs_dir):
    """The documented command: `dlrun train more.yaml --init-from RUN` on a file with more rows."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    rows = [",".join(f"{v:.2f}" for v in x) + f",{y}" for x, y in zip(iris.data, iris.target)]
    order = np.random.default_rng(0).permutation(len(rows))
    (tmp_path / "first.csv").write_text("a,b,c,d,species\n" + "\n".join(rows[i] for i in order[:90]) + "\n")
    (tmp_path / "all.csv").write_text("a,b,c,d,species\n" + "\n".join(rows[i] for i in order) + "\n")
    spec = IRIS.replace('"sklearn:iris"', '"csv:FILE", target: species').replace("EPOCHS", "5")
    first = write_dedented(tmp_path / "first.yaml", spec.replace("FILE", "first.csv"))
    more = write_dedented(tmp_path / "more.yaml", spec.replace("FILE", "all.csv"))
    parent = train(load_spec(first, [f"output.runs_dir={runs_dir}"])).run
    features = json.loads((parent.path / "preprocessing.json").read_text())["features"]
    reused = train(load_spec(more, [f"output.runs_dir={runs_dir}", f"init_from.run={parent.run_id}"])).run
    refit = train(load_spec(more, [f"output.runs_dir={runs_dir}", f"init_from.run={parent.run_id}",
                                   "init_from.preprocessing=refit"])).run
    assert json.loads((reused.path / "preprocessing.json").read_text())["features"] == features
    assert json.loads((refit.path / "preprocessing.json").read_text())["features"] != features
    assert json.loads((refit.path / "run.json").read_text())["parent"]["preprocessing"] == "refit"


PHASED = """
name: phased
seed: 3
data: {source: "sklearn:digits"}
model:
  layers:
    - Dense: {units: 32, activation: relu, trainable: false}
    - Dropout: {rate: 0.2}
    - BatchNormalization: {}
    - Dense: {units: 10, activation: softmax}
optimizer: {name: adam, learning_rate: 0.003}
training:
  epochs: 3
  batch_size: 32
  fine_tune:
    - {epochs: 4, unfreeze: all, learning_rate: 0.0005}
callbacks:
  early_stopping: {monitor: val_loss, patience: 10}
  model_checkpoint: {monitor: val_accuracy}
output: {plots: false}
"""


@pytest.mark.slow
@pytest.mark.parametrize("killed_at", [3, 5], ids=["at-the-phase-boundary", "mid-phase-2"])
def test_a_kill_in_a_fine_tuning_phase_resumes_to_the_same_history(tmp_path, trained_run, killed_at):
    spec = write_dedented(tmp_path / "phased.yaml", PHASED)
    uninterrupted = trained_run(spec).run.path
    runs = tmp_path / "runs"
    run = killed_after_epochs(spec, runs, epochs=killed_at)
    resume_train(RunDir(run))
    assert (run / "history.csv").read_bytes() == (uninterrupted / "history.csv").read_bytes()
    assert [r["phase"] for r in csv.DictReader((run / "history.csv").open())] == ["1"] * 3 + ["2"] * 4


def test_kfold_runs_each_fold_in_phases_from_a_parent(tmp_path, runs_dir):
    from dlrun.protocols.kfold import kfold

    parent = train(load_spec(_iris_spec(tmp_path, 2), [f"output.runs_dir={runs_dir}"])).run
    spec = write_dedented(tmp_path / "kfold.yaml", IRIS.replace("EPOCHS", "1") + "split: {protocol: kfold, folds: 2}\n")
    result = kfold(load_spec(spec, [f"output.runs_dir={runs_dir}", f"init_from.run={parent.run_id}",
                                    "training.fine_tune=[{epochs: 1, unfreeze: all, learning_rate: 0.001}]"]))
    for history in sorted(result.run.path.glob("folds/*/history.csv")):
        assert [r["phase"] for r in csv.DictReader(history.open())] == ["1", "2"]
    assert json.loads((result.run.path / "run.json").read_text())["parent"]["run"] == parent.run_id
    assert os.path.isdir(result.run.path)
