"""The export formats: how each one is written from the raw-input Keras model, and how it is loaded
back in its own runtime (Keras, `tf.saved_model.load`, `ai_edge_litert`, `onnxruntime`) to be checked.

LiteRT is converted from a SavedModel with TensorFlow Lite's built-in operators only (no SELECT_TF_OPS
flex ops, which the standalone LiteRT runtime lacks); int8 quantizes the trained network only, calibrated
on training rows, and keeps the preprocessing in front of it, its output layer and the outputs behind it
in float. LiteRT and ONNX take categorical columns as int32 category codes: neither runtime has the
string lookup tables that `StringLookup` needs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlrun.errors import first_line
from dlrun.inference.litert_int8 import int8_in_child, litert_converter
from dlrun.spec.backends import installed

QUANTIZATIONS = ("none", "dynamic", "int8")


class ExportFailed(Exception):
    """A format could not be written or loaded back; the export reports it as a failed check."""


@dataclass(frozen=True)
class Format:
    name: str
    strings: bool                   # categorical inputs as strings (else int32 codes)
    quantizations: tuple[str, ...]  # what --quantize can give this format
    modules: tuple[str, ...]        # the Python modules its writer and runtime need
    runtime: str                    # what loads it back for the check

    def quantization(self, requested: str) -> str:
        return requested if requested in self.quantizations else "none"


FORMATS = {
    "keras": Format("keras", True, ("none",), ("tensorflow",), "keras.models.load_model (safe mode)"),
    "savedmodel": Format("savedmodel", True, ("none",), ("tensorflow",), "tf.saved_model.load"),
    "litert": Format("litert", False, QUANTIZATIONS, ("tensorflow", "ai_edge_litert"), "ai_edge_litert Interpreter"),
    "onnx": Format("onnx", False, ("none", "dynamic"), ("tensorflow", "tf2onnx", "onnx", "onnxruntime"),
                   "onnxruntime InferenceSession"),
}


def missing_runtimes(formats: list[Format]) -> list[str]:
    """The modules these formats need that are not installed, each once."""
    needed = dict.fromkeys(m for f in formats for m in f.modules)
    return [m for m in needed if not installed(m)]


# ---- writing ----------------------------------------------------------------------------------------
def write(fmt: Format, model, path: Path, quantization: str, calibration: dict[str, np.ndarray] | None) -> None:
    """Write `model` as `fmt` to `path` (a file, or a folder for SavedModel), replacing a previous export
    only once the new one is complete."""
    path = Path(path)
    try:
        _write(fmt, model, path, quantization, calibration)
    except Exception as exc:  # a converter's own failure (an op with no equivalent in the format, ...)
        raise ExportFailed(f"could not be written: {type(exc).__name__}: {first_line(exc)}") from exc


def _write(fmt: Format, model, path: Path, quantization: str, calibration) -> None:
    with tempfile.TemporaryDirectory(prefix=".export-", dir=path.parent) as scratch:
        staged = Path(scratch) / path.name
        if fmt.name == "keras":
            model.save(staged)
        elif fmt.name == "savedmodel":
            model.export(str(staged), format="tf_saved_model", verbose=False)
        elif fmt.name == "litert":
            staged.write_bytes(_litert_bytes(model, Path(scratch) / "saved_model", quantization, calibration))
        else:
            _write_onnx(model, staged, quantization, Path(scratch))
        if path.is_dir():
            shutil.rmtree(path)
        os.replace(staged, path)


def _litert_bytes(model, scratch: Path, quantization: str, calibration: dict[str, np.ndarray] | None) -> bytes:
    """The LiteRT file. A recurrent layer (LSTM, GRU) over a batch of any size needs TensorList ops,
    which plain LiteRT has no kernels for; such a model is converted for one row at a time instead
    (its input's batch fixed at 1; `_litert` feeds it row by row)."""
    try:
        return _litert_convert(model, scratch, quantization, calibration, None)
    except Exception as exc:  # noqa: BLE001 - the converter raises its own error types
        if "TensorList" not in str(exc):
            raise
        return _litert_convert(model, scratch.with_name("one_row"), quantization, calibration, 1)


def _litert_convert(model, scratch: Path, quantization: str, calibration: dict[str, np.ndarray] | None,
                    batch: int | None) -> bytes:
    import tensorflow as tf

    signature = None if batch is None else \
        [{name: tf.TensorSpec((batch, *t.shape[1:]), t.dtype, name=name) for name, t in model.input.items()}]
    model.export(str(scratch), format="tf_saved_model", verbose=False, input_signature=signature)
    if quantization == "int8":
        import keras

        networks = [layer.name for layer in model.layers if isinstance(layer, keras.Model)]  # the trained model
        return int8_in_child(scratch, calibration, networks)
    return litert_converter(scratch, quantization).convert()


def _write_onnx(model, path: Path, quantization: str, scratch: Path) -> None:
    import tensorflow as tf

    # the signature from the model's own inputs: Keras's ONNX export otherwise wants a model already called
    signature = [{name: tf.TensorSpec(tensor.shape, tensor.dtype, name=name) for name, tensor in model.input.items()}]
    plain = path if quantization == "none" else scratch / "float.onnx"
    model.export(str(plain), format="onnx", verbose=False, input_signature=signature)
    if quantization != "none":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(plain), str(path), weight_type=QuantType.QInt8)


# ---- loading back -----------------------------------------------------------------------------------
Predictor = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def predictor(fmt: Format, path: Path) -> Predictor:
    """Load the written artifact in its own runtime; the function maps named inputs to named outputs."""
    try:
        run = _LOADERS[fmt.name](Path(path))
    except Exception as exc:  # the written file is broken: its check fails
        raise ExportFailed(f"{fmt.runtime} cannot load it: {type(exc).__name__}: {first_line(exc)}") from exc

    def checked(feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return run(feed)
        except Exception as exc:
            raise ExportFailed(f"{fmt.runtime} cannot run it: {type(exc).__name__}: {first_line(exc)}") from exc

    return checked


def _as_tf(feed: dict[str, np.ndarray]) -> dict:
    import tensorflow as tf

    return {name: tf.constant([str(v) for v in values], tf.string) if values.dtype == object else tf.constant(values)
            for name, values in feed.items()}


def _numpy(outputs: dict) -> dict[str, np.ndarray]:
    return {name: np.asarray(value) for name, value in outputs.items()}


def _keras(path: Path) -> Predictor:
    import keras

    model = keras.models.load_model(path, compile=False, safe_mode=True)
    return lambda feed: _numpy(model(_as_tf(feed), training=False))


def _savedmodel(path: Path) -> Predictor:
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    return lambda feed: _numpy(serve(**_as_tf(feed)))


def _litert(path: Path) -> Predictor:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    if all(d["shape_signature"][0] != 1 for d in runner.get_input_details().values()):
        return lambda feed: _numpy(runner(**feed))

    def row_by_row(feed):  # converted for one row at a time (a recurrent layer: see _litert_bytes)
        rows = [_numpy(runner(**{name: values[i:i + 1] for name, values in feed.items()}))
                for i in range(len(next(iter(feed.values()))))]
        return {name: np.concatenate([row[name] for row in rows]) for name in rows[0]} if rows else {}

    return row_by_row


def _onnx(path: Path) -> Predictor:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return lambda feed: dict(zip(names, session.run(None, feed)))


_LOADERS = {"keras": _keras, "savedmodel": _savedmodel, "litert": _litert, "onnx": _onnx}
