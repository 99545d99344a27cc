"""dlrun export on real, tiny runs: every format written, loaded back in its own runtime and checked
against `dlrun predict`; the Keras file used from a plain Python process that never imports dlrun."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dlrun.errors import UserError
from dlrun.inference.export import compare, export, model_run, parse_formats
from dlrun.inference.predict import predict
from dlrun.inference.raw_model import RawOutput, safe_name
from dlrun.runs import artifacts, records
from tests.inference.samples import RANGES, SHOP, ranges_frame, shop_frame
from tests.support import CONFIGS, child_env, write_dedented

ALL = "keras,savedmodel,litert,onnx"


@pytest.fixture(scope="module")
def shop(trained_run):
    return trained_run(SHOP, files={"shop.csv": shop_frame().to_csv(index=False)})


@pytest.fixture(scope="module")
def shop_export(shop):
    return export(shop.run, parse_formats(ALL, "none"))


def test_every_format_reproduces_predict_on_the_test_rows(shop_export):
    report = shop_export.report
    assert report["passed"] and report["rows"]["part"] == "test" and report["rows"]["n"] > 0
    assert list(report["formats"]) == ["keras", "savedmodel", "litert", "onnx"]
    for name, check in report["formats"].items():
        assert check["passed"], (name, check)
        assert check["outputs"]["label_probabilities"]["max_abs_difference"] <= 1e-5
        assert check["outputs"]["label_class"]["agreement"] == 1.0
        assert artifacts.export_path(shop_export.folder, name).exists()
    assert artifacts.read_export_report(shop_export.folder) == report


def test_the_manifest_describes_inputs_outputs_classes_and_every_file(shop_export):
    manifest = records.read_manifest(shop_export.folder)
    assert manifest["source_run"] == shop_export.run.run_id
    assert manifest["classes"] == {"label": ["kept", "returned"]}
    assert [o["name"] for o in manifest["outputs"]] == ["label_probabilities", "label_class"]
    keras_inputs = {i["name"]: i for i in manifest["formats"]["keras"]["inputs"]}
    assert list(keras_inputs) == ["weight", "price", "color"]
    assert keras_inputs["color"]["dtype"] == "string" and keras_inputs["weight"]["dtype"] == "float32"
    codes = {i["name"]: i for i in manifest["formats"]["onnx"]["inputs"]}["color"]
    # the training rows had colours missing: a "<missing>" category of its own, last
    assert codes["dtype"] == "int32" and codes["categories"] == ["blue", "green", "red", "<missing>"]
    for fmt in manifest["formats"].values():
        for entry in fmt["files"]:
            path = shop_export.folder / entry["path"]
            assert entry["bytes"] == path.stat().st_size
            assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["versions"]["onnxruntime"] and manifest["versions"]["ai-edge-litert"]


# A caller that has never heard of dlrun: Keras on the raw CSV, ONNX Runtime with category codes.
PLAIN = textwrap.dedent("""
    import json, sys
    import numpy as np, pandas as pd
    import keras, tensorflow as tf, onnxruntime

    folder, csv = sys.argv[1], sys.argv[2]
    manifest = json.load(open(f"{folder}/manifest.json"))
    frame = pd.read_csv(csv)

    def column(spec):
        values = frame[spec["column"]]
        if spec["dtype"] == "string":
            return values.astype(str).where(values.notna(), "").to_numpy(dtype=str)
        if spec["dtype"] == "int32":  # a gap is the "<missing>" category where training had one, else -1
            position = {c: i for i, c in enumerate(spec["categories"])}
            gap = position.get("<missing>", -1)
            return np.array([position.get(v, -1) if ok else gap for v, ok in zip(values.astype(str), values.notna())],
                            dtype=np.int32)
        return values.to_numpy(dtype=np.float32)

    model = keras.models.load_model(f"{folder}/model.keras")
    got = model({s["name"]: tf.constant(column(s)) for s in manifest["formats"]["keras"]["inputs"]})
    session = onnxruntime.InferenceSession(f"{folder}/model.onnx")
    feed = {s["name"]: column(s) for s in manifest["formats"]["onnx"]["inputs"]}
    onnx = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
    labels = manifest["classes"]["label"]
    print(json.dumps({"keras": [labels[i] for i in np.asarray(got["label_class"])],
                      "keras_p": np.asarray(got["label_probabilities"]).tolist(),
                      "onnx": [labels[i] for i in onnx["label_class"]],
                      "onnx_p": np.asarray(onnx["label_probabilities"]).tolist(),
                      "dlrun_imported": "dlrun" in sys.modules}))
""")


def test_a_plain_process_without_dlrun_predicts_what_dlrun_predict_does(shop, shop_export, tmp_path):
    rows = shop_frame(n=20, seed=9).drop(columns=["label"])
    rows.loc[0, "color"] = "purple"        # a colour training never saw
    rows.loc[1, "weight"] = np.nan         # a gap the model fills with the training median
    rows.loc[2, "color"] = None
    path = tmp_path / "new.csv"
    rows.to_csv(path, index=False)
    expected = predict(shop.run, path)
    proc = subprocess.run([sys.executable, "-c", PLAIN, str(shop_export.folder), str(path)], capture_output=True,
                          text=True, cwd=tmp_path, env=child_env(), timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["dlrun_imported"] is False
    assert got["keras"] == expected["label_predicted"].tolist()
    assert got["onnx"] == expected["label_predicted"].tolist()
    assert np.allclose(got["keras_p"], expected[["label_p_kept", "label_p_returned"]].to_numpy(), atol=1e-5)
    assert np.allclose(got["onnx_p"], expected[["label_p_kept", "label_p_returned"]].to_numpy(), atol=1e-5)


def test_int8_litert_of_the_digits_cnn_agrees_with_predict(trained_run):
    digits = trained_run(CONFIGS / "digits_cnn.yaml", "training.epochs=6")
    result = export(digits.run, parse_formats("litert", "int8"), "int8")
    check = result.report["formats"]["litert"]
    assert check["quantization"] == "int8" and check["passed"], check
    assert check["outputs"]["target_class"]["agreement"] >= 0.99
    from ai_edge_litert.interpreter import Interpreter

    tensors = Interpreter(model_path=str(artifacts.export_path(result.folder, "litert"))).get_tensor_details()
    dtypes = {tuple(t["shape"]): t["dtype"] for t in tensors}
    # the convolutions' filters and the hidden Dense's kernel are int8; the output layer's (10 x 64) stays float
    assert [dtypes[s] for s in [(16, 3, 3, 1), (32, 3, 3, 16), (64, 512), (10, 64)]] == \
        [np.int8, np.int8, np.int8, np.float32]


def test_int8_litert_of_a_table_keeps_the_preprocessing_in_float_and_stays_close_to_predict(trained_run):
    # raw columns of 0-1, 0-1,000 (with gaps) and ±50,000 and a categorical one, a 3-epoch MLP: quantized
    # whole, each raw column got 256 steps and NaN was quantized before it was filled (84% agreement here)
    ranges = trained_run(RANGES, files={"ranges.csv": ranges_frame().to_csv(index=False)})
    result = export(ranges.run, parse_formats("litert", "int8"), "int8")
    report = artifacts.read_export_report(result.folder)
    check = report["formats"]["litert"]
    assert report["passed"] and check["passed"] and check["quantization"] == "int8", check
    assert check["outputs"]["label_class"]["agreement"] >= report["tolerance"]["quantized_agreement"] == 0.99
    assert check["outputs"]["label_probabilities"]["max_abs_difference"] <= 0.05
    from ai_edge_litert.interpreter import Interpreter

    tensors = Interpreter(model_path=str(artifacts.export_path(result.folder, "litert"))).get_tensor_details()
    dtypes = {tuple(t["shape"]): t["dtype"] for t in tensors if len(t["shape"]) == 2 and t["shape"][0] > 1}
    # the hidden layers' kernels (units x inputs) are int8, the output layer's float; no input is quantized
    assert dtypes == {(32, 8): np.int8, (16, 32): np.int8, (3, 16): np.float32}
    assert {t["dtype"] for t in tensors if t["name"].startswith("serving_default_")} == {np.float32, np.int32}


def test_an_int8_conversion_that_crashes_its_process_is_a_failed_check_naming_the_signal(tmp_path):
    from dlrun.inference.litert_int8 import int8_in_child
    from tests.inference.samples import crashing_int8_conversion

    calibration = {"x": np.zeros((4, 3), np.float32)}
    with pytest.raises(RuntimeError, match=r"crashed \(SIGSEGV\).*--quantize dynamic"):
        int8_in_child(tmp_path / "saved_model", calibration, ["net"], convert=crashing_int8_conversion)
    with pytest.raises(RuntimeError, match="SavedModel|saved_model"):  # a converter error: its own message
        int8_in_child(tmp_path / "saved_model", calibration, ["net"])
    assert [p.name for p in tmp_path.iterdir()] == []  # the child's scratch folder is gone


@pytest.mark.slow
def test_int8_of_an_lstm_after_a_masked_embedding_never_takes_the_export_down(trained_run):
    # TensorFlow Lite's calibrator died of SIGSEGV on this model (TensorFlow 2.21), taking dlrun with it
    from dlrun.inference.export import ExportCheckFailed

    reviews = trained_run(CONFIGS / "reviews_lstm.yaml", "training.epochs=1")
    try:
        export(reviews.run, parse_formats("keras,litert", "int8"), "int8")
    except ExportCheckFailed as failed:  # exit 1 from the command, the report written
        assert "litert: could not be written" in str(failed) and "keras" not in str(failed).split("rows: ")[1]
    report = artifacts.read_export_report(artifacts.export_folder(reviews.run.path))
    assert report["formats"]["keras"]["passed"]
    litert = report["formats"]["litert"]
    assert litert["passed"] or "crashed (SIGSEGV)" in litert["verdict"], litert


def test_a_multi_output_graph_model_exports_each_target(trained_run):
    reviews = trained_run(CONFIGS / "reviews_two_inputs.yaml", "training.epochs=2")
    result = export(reviews.run, parse_formats("keras,onnx", "none"))
    for check in result.report["formats"].values():
        assert check["passed"], check
        assert set(check["outputs"]) == {"positive_probabilities", "positive_class", "stars_value"}
        assert "relative_error" in check["outputs"]["stars_value"]
    inputs = {i["name"]: i for i in result.manifest["formats"]["keras"]["inputs"]}
    assert inputs["channel"]["kind"] == "categorical" and inputs["tok_0"]["kind"] == "passthrough"


def test_an_array_source_exports_one_input_of_the_stored_shape(trained_run, tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(tmp_path / "digits.npz", images=digits.images[:300], labels=digits.target[:300])
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""
        name: tiny-npz
        seed: 2
        data: {source: "npz:digits.npz", features: [images], target: labels, scale: minmax, reshape: [8, 8, 1]}
        model:
          layers:
            - Conv2D: {filters: 4, kernel_size: 3, activation: relu}
            - Flatten: {}
            - Dense: {units: 10, activation: softmax}
        training: {epochs: 2, batch_size: 32}
    """))
    run = trained_run(spec)
    result = export(run.run, parse_formats("keras,litert", "none"), out=tmp_path / "out")
    assert result.folder == tmp_path / "out" and result.report["passed"], result.report
    assert result.manifest["formats"]["litert"]["inputs"] == [
        {"name": "features", "kind": "array", "dtype": "float32", "shape": [8, 8]}]


def test_a_kfold_run_exports_its_final_model_or_says_why_not(tmp_path):
    from dlrun.protocols.kfold import kfold
    from dlrun.spec import load_spec

    runs = {}
    for final in ("true", "false"):
        spec = write_dedented(tmp_path / final / "spec.yaml", KFOLD_SPEC.replace("FINAL", final))
        runs[final] = kfold(load_spec(spec, [f"output.runs_dir={tmp_path / final / 'runs'}"])).run
    assert model_run(runs["true"]).path == artifacts.final_folder(runs["true"].path)
    with pytest.raises(UserError, match="no final model to export"):
        model_run(runs["false"])


KFOLD_SPEC = """
    name: tiny-folds
    seed: 4
    data: {source: "sklearn:iris"}
    split: {protocol: kfold, folds: 3, test: 0.2, final_model: FINAL}
    model:
      layers:
        - Dense: {units: 4, activation: relu}
        - Dense: {units: 3, activation: softmax}
    training: {epochs: 1, batch_size: 16}
"""


@pytest.mark.parametrize("formats, quantize, message", [
    ("kers", "none", "unknown format 'kers' — did you mean 'keras'"),
    ("keras,savedmodel", "int8", "--quantize int8 applies to litert"),
    ("onnx", "int4", "--quantize must be one of none, dynamic, int8"),
    (" , ", "none", "name at least one format"),
])
def test_bad_formats_and_quantizations_are_usage_errors(formats, quantize, message):
    with pytest.raises(UserError, match=message):
        parse_formats(formats, quantize)


def test_a_missing_runtime_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.raises(UserError, match=r'needs onnxruntime, which is not installed: pip install "dlrun\[export\]"'):
        parse_formats("keras,onnx", "none")
    assert parse_formats("keras", "none")[0].name == "keras"
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # a JAX-only machine
    with pytest.raises(UserError, match="writes every format on the TensorFlow backend, which is not installed"):
        parse_formats("keras", "none")


def test_compare_fails_a_float_format_beyond_the_tolerance_and_gates_quantized_ones_on_agreement():
    outputs = [RawOutput("y_probabilities", "y", "probabilities", "float32", ["a", "b"]),
               RawOutput("y_class", "y", "class", "int32", ["a", "b"])]
    reference = {"y": {"probabilities": np.array([[0.9, 0.1], [0.2, 0.8]]), "class": np.array([0, 1])}}
    close = {"y_probabilities": np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32), "y_class": np.array([0, 1])}
    assert compare(outputs, reference, close, quantized=False)["passed"]
    off = {"y_probabilities": np.array([[0.8, 0.2], [0.2, 0.8]]), "y_class": np.array([0, 1])}
    result = compare(outputs, reference, off, quantized=False)
    assert not result["passed"] and "differs by up to 0.1" in result["verdict"]
    assert compare(outputs, reference, off, quantized=True)["passed"]
    flipped = {**off, "y_class": np.array([1, 1])}
    result = compare(outputs, reference, flipped, quantized=True)
    assert not result["passed"] and "agrees on 50.00% of rows" in result["verdict"]
    assert not compare(outputs, reference, {"y_class": np.array([0, 1])}, quantized=False)["passed"]
    value = [RawOutput("v_value", "v", "value", "float32")]
    big = {"v": {"value": np.array([[130.0], [-2.0]])}}  # float32 holds 130 only in steps of 1.5e-5
    assert compare(value, big, {"v_value": np.array([[130.00002], [-2.0]], np.float32)}, quantized=False)["passed"]
    assert not compare(value, big, {"v_value": np.array([[130.01], [-2.0]])}, quantized=False)["passed"]


def test_an_output_folder_that_is_a_file_is_refused(shop, tmp_path):
    (tmp_path / "taken").write_text("mine")
    with pytest.raises(UserError, match="is a file; name a folder"):
        export(shop.run, parse_formats("keras", "none"), out=tmp_path / "taken")
    assert (tmp_path / "taken").read_text() == "mine"


def test_input_names_every_runtime_accepts():
    taken: set[str] = set()
    assert [safe_name(c, taken) for c in ("sepal length (cm)", "a-b", "a_b", "9lives", "")] == \
        ["sepal_length_cm", "a_b", "a_b_2", "c_9lives", "column"]


def test_a_regression_with_a_scaled_target_exports_in_the_targets_units(trained_run, tmp_path):
    # price around 500: the model's fixed head layer undoes the scaling, so every format predicts
    # in the target's own units, as dlrun predict does
    import io

    import pandas as pd

    from tests.inference.samples import REGRESSION, houses_csv

    frame = pd.read_csv(io.StringIO(houses_csv()))
    frame["price"] = 500 + 10 * frame["price"]
    run = trained_run(REGRESSION, files={"houses.csv": frame.to_csv(index=False)}).run
    assert json.loads((run.path / "preprocessing.json").read_text())["target_scales"]["price"]["method"] == "standard"
    result = export(run, parse_formats("keras,savedmodel,litert,onnx", "none"))
    for name, check in result.report["formats"].items():
        assert check["passed"], (name, check)
        assert "price_value" in check["outputs"]
    frame.drop(columns="price").to_csv(tmp_path / "new.csv", index=False)
    predicted = predict(run, tmp_path / "new.csv")
    assert 450 < float(predicted["price_predicted"].mean()) < 550
