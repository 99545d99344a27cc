"""`source: images:FOLDER` on small folders of PNG and JPEG files the tests write: the file list and its
checks, training streamed from disk with statistics of the training files only, k-fold, evaluate,
predict, export and resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dlrun.data.image_files import ImageFiles
from dlrun.data.sources import load_dataset
from dlrun.errors import DataError, SpecError
from dlrun.spec import load_spec
from dlrun.spec.models import DataSpec
from tests.support import config_tool, killed_after_epochs, only_problem, write_dedented

make_shapes = config_tool("make_shapes")

SHAPES = """
name: tiny-shapes
seed: 9
data: {source: "images:shapes", scale: standard}
model:
  layers:
    - RandomFlip: {mode: horizontal}
    - Conv2D: {filters: 4, kernel_size: 3, activation: relu}
    - GlobalAveragePooling2D: {}
    - Dense: {units: 3, activation: softmax}
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: EPOCHS, batch_size: 8}
"""


def write_folder(folder, per_class: int = 16, size: int = 16):
    """Circles and squares as PNG, triangles as JPEG."""
    make_shapes.write_shapes(folder, per_class=per_class, size=size, classes=3, seed=1)
    for png in sorted((folder / "triangle").glob("*.png")):
        Image.open(png).convert("RGB").save(png.with_suffix(".jpg"), quality=90)
        png.unlink()
    return folder


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory):
    place = tmp_path_factory.mktemp("images")
    write_folder(place / "shapes")
    return place


@pytest.fixture(scope="module")
def shapes_run(shapes_dir, trained_run):
    spec = write_dedented(shapes_dir / "spec.yaml", SHAPES.replace("EPOCHS", "2"))
    return trained_run(spec).run


def test_the_folder_is_a_list_of_files_labelled_by_their_class_folder(shapes_dir):
    dataset = load_dataset(DataSpec(source="images:shapes"), shapes_dir)
    files = dataset.features
    assert isinstance(files, ImageFiles) and len(files) == 48 and files.shape == (48, 16, 16, 3)
    assert sorted(set(dataset.targets["label"])) == ["circle", "square", "triangle"]
    assert sum(p.endswith(".jpg") for p in files.paths) == 16
    assert dataset.name == "images:shapes" and dataset.file_list()["files"][0] == "circle/circle_0000.png"


def test_training_streams_files_and_scales_with_training_statistics_only(shapes_run, shapes_dir):
    splits = json.loads((shapes_run.path / "splits.json").read_text())
    assert len(splits["files"]) == 48 and splits["files"][0].startswith("circle/")
    pre = json.loads((shapes_run.path / "preprocessing.json").read_text())["features"]
    assert pre["kind"] == "images" and pre["sample_shape"] == [16, 16, 3]
    train = [shapes_dir / "shapes" / splits["files"][i] for i in splits["train"]]
    import tensorflow as tf  # JPEG decoders differ in the last bit: decode as training does

    pixels = np.concatenate([tf.io.decode_image(p.read_bytes(), channels=3).numpy().astype(np.float64).reshape(-1, 3)
                             for p in train])
    everything = np.concatenate([tf.io.decode_image(p.read_bytes(), channels=3).numpy().reshape(-1, 3)
                                 for p in sorted((shapes_dir / "shapes").rglob("*.*g"))])
    assert not np.allclose(pixels.mean(axis=0), everything.mean(axis=0), atol=1e-3)
    assert np.allclose(pre["center"], pixels.mean(axis=0), atol=1e-3)  # the training files' mean, nothing else
    assert np.allclose(pre["spread"], pixels.std(axis=0), atol=1e-3)
    metrics = json.loads((shapes_run.path / "metrics.json").read_text())
    assert metrics["test"]["labels"] == ["circle", "square", "triangle"]
    if metrics["test"]["accuracy"] < 1.0:
        assert (shapes_run.path / "plots" / "misclassified.png").is_file()


def test_evaluate_a_new_folder_and_predict_files_and_folders(shapes_run, tmp_path):
    from dlrun.inference.evaluate import evaluate
    from dlrun.inference.predict import predict

    new = write_folder(tmp_path / "new", per_class=4)
    result = evaluate(shapes_run, data=new)
    assert result.document["data"]["n"] == 12
    one = new / "square" / "square_0000.png"
    table = predict(shapes_run, [new / "circle", one])
    assert list(table.columns)[:2] == ["file", "label_predicted"] and len(table) == 5
    assert table["file"].iloc[-1] == str(one)
    assert np.allclose(table[["label_p_circle", "label_p_square", "label_p_triangle"]].sum(axis=1), 1.0)


def test_predicting_images_of_another_size_says_which_size_the_model_takes(shapes_run, tmp_path):
    from dlrun.inference.predict import predict

    make_shapes.write_shapes(tmp_path / "big", per_class=1, size=20, classes=1)
    with pytest.raises(DataError, match="are 20x20 but the model was trained on 16x16"):
        predict(shapes_run, [tmp_path / "big"])
    make_shapes.write_shapes(tmp_path / "small", per_class=1, size=12, classes=1)
    with pytest.raises(DataError, match="the model takes 16x16 images"):
        predict(shapes_run, [tmp_path / "big", tmp_path / "small"])


def test_kfold_over_the_file_list(shapes_dir):
    from dlrun.protocols.kfold import kfold

    spec = write_dedented(shapes_dir / "kfold.yaml", SHAPES.replace("EPOCHS", "1"))
    result = kfold(load_spec(spec, [f"output.runs_dir={shapes_dir / 'folds'}", "split.protocol=stratified_kfold",
                                    "split.folds=3"]))
    assert result.run.read_info()["status"] == "completed"
    splits = json.loads((result.run.path / "splits.json").read_text())
    assert len(splits["folds"]) == 3 and len(splits["files"]) == 48


def test_an_image_run_exports_and_each_format_matches_predict(shapes_run):
    from dlrun.inference.export import export, parse_formats

    result = export(shapes_run, parse_formats("keras,litert", "none"))
    assert result.report["passed"], result.report
    assert result.manifest["formats"]["keras"]["inputs"] == [
        {"name": "image", "kind": "image", "dtype": "float32", "shape": [16, 16, 3]}]


def _broken(folder, name: str, payload: bytes):
    write_folder(folder, per_class=3)
    (folder / "circle" / name).write_bytes(payload)


@pytest.mark.parametrize("make, message", [
    (lambda d: _broken(d, "bad.png", b"\x89PNG\r\n\x1a\n1234"), "bad.png: not an image TensorFlow can decode"),
    (lambda d: _broken(d, "half.png", _half_png()), "half.png: not an image TensorFlow can decode"),
    (lambda d: _broken(d, "tiff.png", _encoded("TIFF")), "tiff.png: not an image TensorFlow can decode"),
    (lambda d: write_folder(d, per_class=3) and (d / "empty").mkdir(), "the class folder 'empty' holds no images"),
    (lambda d: make_shapes.write_shapes(d, per_class=3, size=8, classes=1), "only one class ('circle')"),
    (lambda d: write_folder(d, per_class=3) and make_shapes.write_shapes(d / "circle" / "big", per_class=1, size=20,
                                                                          classes=1),
     "images of different sizes need data.image_size"),
])
def test_bad_folders_are_named(tmp_path, make, message):
    folder = tmp_path / "shapes"
    folder.mkdir()
    make(folder)
    with pytest.raises(DataError) as excinfo:
        load_dataset(DataSpec(source="images:shapes"), tmp_path)
    assert message in str(excinfo.value)


def _encoded(image_format: str) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(buffer, image_format)
    return buffer.getvalue()


def _half_png() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]  # truncated half way


def test_mixed_sizes_are_resized_when_image_size_is_set(tmp_path):
    write_folder(tmp_path / "shapes", per_class=3)
    make_shapes.write_shapes(tmp_path / "shapes" / "circle" / "big", per_class=1, size=20, classes=1)
    dataset = load_dataset(DataSpec(source="images:shapes", image_size=[12, 10], color_mode="grayscale"), tmp_path)
    assert dataset.features.shape == (10, 12, 10, 1)


def test_evaluating_a_run_whose_folder_changed_names_the_change(shapes_run, tmp_path):
    import shutil

    from dlrun.inference.evaluate import evaluate
    from dlrun.runs.rundir import RunDir

    shutil.copytree(shapes_run.path.parent, tmp_path / "runs")
    run = RunDir(tmp_path / "runs" / shapes_run.path.name)
    folder = tmp_path / "shapes"
    shutil.copytree(shapes_run.read_info()["data_dir"] + "/shapes", folder)
    (folder / "circle" / "circle_0003.png").unlink()
    info = run.read_info()
    run.update_info(data_dir=str(tmp_path))
    with pytest.raises(DataError, match=r"the folder changed since run .* \(1 file\(s\) gone, e.g. circle/circle_0003.png"):
        evaluate(run)
    assert info["status"] == "completed"


@pytest.mark.parametrize("setting, path, message", [
    (["training.backend=jax"], "data.source", "TensorFlow backend"),
    (["split.protocol=group_kfold", "split.group=label"], "split.group", "has no columns to group rows by"),
])
def test_settings_an_image_folder_cannot_take_are_refused_at_their_line(shapes_dir, setting, path, message):
    spec = write_dedented(shapes_dir / "refused.yaml", SHAPES.replace("EPOCHS", "1"))
    with pytest.raises(SpecError) as excinfo:
        load_spec(spec, setting)
    problem = only_problem(excinfo)
    assert problem.path == path and message in problem.message


@pytest.mark.slow
def test_a_killed_image_run_resumes_to_the_same_history(shapes_dir, trained_run, tmp_path):
    from dlrun.protocols.holdout import resume_train
    from dlrun.runs.rundir import RunDir

    spec = write_dedented(shapes_dir / "resume.yaml", SHAPES.replace("EPOCHS", "8"))
    uninterrupted = trained_run(spec).run.path
    run = killed_after_epochs(spec, tmp_path / "runs")
    resume_train(RunDir(run))
    assert (run / "history.csv").read_bytes() == (uninterrupted / "history.csv").read_bytes()


def test_a_small_folder_keeps_its_decoded_pixels_and_batches_equal_decoding_the_files(shapes_dir, monkeypatch):
    import pickle
    from dataclasses import replace

    from dlrun.data import image_files
    from dlrun.data.image_stream import ordered_images

    files = load_dataset(DataSpec(source="images:shapes"), shapes_dir).features
    assert files.pixels is not None and files.pixels.shape == (48, 16, 16, 3) and files.pixels.dtype == np.uint8
    subset = files.scaled([100.0, 90.0, 80.0], [50.0, 40.0, 30.0])[np.array([5, 40, 2, 17])]
    assert subset.pixels is files.pixels and list(subset.pixel_rows) == [5, 40, 2, 17]  # no copy of the pixels
    from_files = replace(subset, pixels=None, pixel_rows=None)
    for scaled in (True, False):
        kept = np.concatenate(list(ordered_images(subset, None, 3, scaled).as_numpy_iterator()))
        decoded = np.concatenate(list(ordered_images(from_files, None, 3, scaled).as_numpy_iterator()))
        assert kept.dtype == decoded.dtype == np.float32 and np.array_equal(kept, decoded)
    assert pickle.loads(pickle.dumps(subset)).pixels is None  # a worker decodes its files itself

    # the batches gather from a tensor over the kept array's own memory, not from a copy of it
    from dlrun.data.image_stream import _kept_tensor

    spare = np.empty(files.pixels.size + 2 * image_files.TENSOR_ALIGNMENT, np.uint8)
    start = -spare.ctypes.data % image_files.TENSOR_ALIGNMENT + 1  # one byte off the boundary: TensorFlow would
    unaligned = spare[start:start + files.pixels.size].reshape(files.pixels.shape)  # abort on sharing it
    unaligned[...] = files.pixels
    assert np.array_equal(_kept_tensor(unaligned).numpy(), files.pixels)  # converted (a copy) instead
    tensor = _kept_tensor(files.pixels)
    assert files.pixels.ctypes.data % image_files.TENSOR_ALIGNMENT == 0
    files.pixels[0, 0, 0, 0] ^= 1
    assert int(tensor[0, 0, 0, 0]) == int(files.pixels[0, 0, 0, 0])
    files.pixels[0, 0, 0, 0] ^= 1

    monkeypatch.setattr(image_files, "KEPT_PIXELS_BYTES", 48 * 16 * 16 * 3 - 1)  # one byte short: files only
    assert load_dataset(DataSpec(source="images:shapes"), shapes_dir).features.pixels is None
