"""int8 LiteRT files: TensorFlow Lite's converter with full-integer quantization of the trained network,
run in a child process of its own.

The calibration step runs the model in TensorFlow Lite's C++ calibrator, which on some models does not
raise but crashes the process (a masked Embedding in front of an LSTM, converted one row at a time:
a segmentation fault). In a child, such a crash becomes a failed check of this one format, with the
signal named, and the export's other formats and files are still written. Each int8 file pays one
TensorFlow start-up in the child (a few seconds).
"""

from __future__ import annotations

import multiprocessing
import re
import signal
import tempfile
from pathlib import Path

import numpy as np


def litert_converter(saved_model: Path, quantization: str):
    """TensorFlow Lite's converter for the SavedModel, built-in operators only (no flex ops: the
    standalone LiteRT runtime lacks them), optimized for any quantization but none."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter


def int8_in_child(saved_model: Path, calibration: dict[str, np.ndarray], networks: list[str],
                  convert=None) -> bytes:
    """The int8 file's bytes, converted in a spawned process (nothing forked from one holding TensorFlow)
    by `convert` (this module's converter unless a test passes another); a RuntimeError naming what went
    wrong when the child fails or crashes."""
    with tempfile.TemporaryDirectory(prefix=".int8-", dir=saved_model.parent) as scratch:
        out, error = Path(scratch) / "int8.bytes", Path(scratch) / "error.txt"
        child = multiprocessing.get_context("spawn").Process(
            target=convert or _convert, args=(str(saved_model), calibration, networks, str(out), str(error)),
            name="dlrun-int8")
        child.start()
        child.join()
        if child.exitcode == 0 and out.is_file():
            return out.read_bytes()
        if error.is_file():
            raise RuntimeError(error.read_text(encoding="utf-8"))
        if child.exitcode < 0:  # killed by a signal (joined: the status is set)
            raise RuntimeError(f"TensorFlow Lite's int8 calibration crashed ({signal.Signals(-child.exitcode).name}) "
                               f"on this model; --quantize dynamic quantizes its weights without calibrating")
        raise RuntimeError(f"the int8 conversion ended with exit status {child.exitcode}")


def _convert(saved_model: str, calibration: dict[str, np.ndarray], networks: list[str], out: str, error: str) -> None:
    """The child: convert, write the bytes to `out`, or a converter's error message to `error`."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    try:
        content = _int8_network(tf, litert_converter(Path(saved_model), "int8"), calibration, networks)
    except Exception as exc:  # noqa: BLE001 - the converter raises its own error types
        Path(error).write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8")
        return
    Path(out).write_bytes(content)


def _int8_network(tf, converter, calibration: dict[str, np.ndarray], networks: list[str]) -> bytes:
    """int8 for the trained network, calibrated on `calibration` (training rows); the preprocessing in
    front of it (imputation, scaling, one-hot), its output layers and predict's outputs behind it stay
    float. Quantized whole, raw columns of very different ranges (0-1 next to ±50,000) each get 256
    steps and a missing value (NaN) is quantized before it is filled; here the network's input is the
    preprocessed features, quantized once. The output layers in float keep the class of a row whose two
    likeliest classes are close. TensorFlow Lite's selective quantization (the quantization debugger's
    denylist of nodes) keeps those ops float."""
    rows = len(next(iter(calibration.values())))

    def representative():
        for i in range(rows):
            yield {name: values[i:i + 1] for name, values in calibration.items()}

    converter.representative_dataset = representative
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=representative)
    kept_float, quantized = _float_ops(debugger.calibrated_model, networks)
    if quantized:  # else no network was found by its scope: the whole graph in int8, as the check then judges
        debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=kept_float)
    return debugger.get_nondebug_quantized_model()


def _float_ops(content: bytes, networks: list[str]) -> tuple[list[str], int]:
    """(the output tensors of the ops of a converted model that stay float in an int8 file, how many ops
    are left to quantize): every op outside the nested models `networks`, and each network output's layer
    — from an op whose result leaves the network back through ops without weights to the first op with
    weights (a constant input of 2 or more dimensions: a Dense's kernel, a convolution's filters)."""
    from ai_edge_litert import schema_py_generated as schema

    graph = schema.Model.GetRootAs(content, 0).Subgraphs(0)
    ops = [graph.Operators(i) for i in range(graph.OperatorsLength())]
    ins = [[op.Inputs(k) for k in range(op.InputsLength()) if op.Inputs(k) >= 0] for op in ops]
    outs = [[op.Outputs(k) for k in range(op.OutputsLength())] for op in ops]
    names = [[graph.Tensors(t).Name().decode() for t in out] for out in outs]
    producer = {t: i for i, out in enumerate(outs) for t in out}
    inside = [bool(n) and _in_network(n[0], networks) for n in names]
    leaving = {graph.Outputs(k) for k in range(graph.OutputsLength())} | \
        {t for i, used in enumerate(ins) if not inside[i] for t in used}
    float_ops = {i for i in range(len(ops)) if not inside[i]}
    walk = [i for i in range(len(ops)) if inside[i] and set(outs[i]) & leaving]
    while walk:
        i = walk.pop()
        if i in float_ops:
            continue
        float_ops.add(i)
        if not any(t not in producer and graph.Tensors(t).ShapeLength() >= 2 for t in ins[i]):  # no weights
            walk += [producer[t] for t in ins[i] if t in producer and inside[producer[t]]]
    return [n for i in sorted(float_ops) for n in names[i]], len(ops) - len(float_ops)


def _in_network(tensor: str, networks: list[str]) -> bool:
    """Whether a converted tensor was made inside one of the nested models `networks`: a tensor is named by
    its scopes, `outer/network/layer/.../op` (fused ops' names joined by ';'), and TensorFlow may number a
    scope (`shop_1` for the model `shop`).

        >>> _in_network("shop_raw_1/shop_1/dense_1/MatMul;shop_raw_1/shop_1/dense_1/Relu", ["shop"])
        True
        >>> _in_network("shop_raw_1/columns_1/concat", ["shop"]), _in_network("shop_raw_1/Sub", ["Sub"])
        (False, False)
    """
    scopes = tensor.split(";")[0].split("/")[1:-1]
    return any(re.fullmatch(rf"{re.escape(name)}(_\d+)?", scope) for name in networks for scope in scopes)
