"""A run's model with its fitted preprocessing in front and `dlrun predict`'s outputs behind: one Keras
model that takes the raw columns a user has (one named input per training column) and runs without dlrun.

The fitted constants of `preprocessing.json` become constants of the graph (nothing is refitted):
imputation is `where(x != x, fill, x)`, scaling `(x - centre) / spread`, and a categorical column
becomes its one-hot block, by `StringLookup` over the training categories (string inputs) or, for
runtimes without strings, by comparing an int32 category code with the category positions. Built only
from Keras layers and `keras.ops`, so the saved model loads in safe mode with no custom code. The inputs,
what a caller feeds them and the per-kind preprocessing in the graph come from dlrun/data/saved_inputs.py.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from dlrun.data.saved_inputs import RawInput, safe_name
from dlrun.report.multilabel_metrics import THRESHOLD

__all__ = ["RawInput", "RawOutput", "build_raw_model", "raw_outputs", "safe_name"]


@dataclass
class RawOutput:
    """One output of the exported model: what `dlrun predict` gives for one target."""

    name: str
    target: str
    kind: str                       # probabilities | class | predicted (multilabel 0/1) | value
    dtype: str
    labels: list[str] | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def raw_outputs(saved) -> list[RawOutput]:
    """What the exported model returns, target by target, in the order of the run's outputs."""
    taken: set[str] = set()
    described = []
    for head in saved.heads:
        encoder = saved.targets[head.target]
        stem = safe_name(encoder.name, taken)
        labels = [encoder.label(i) for i in range(encoder.n_classes)] if encoder.task != "regression" else None
        if encoder.task == "regression":
            described.append(RawOutput(f"{stem}_value", encoder.name, "value", "float32"))
        elif encoder.task == "multilabel":
            described += [RawOutput(f"{stem}_probabilities", encoder.name, "probabilities", "float32", labels),
                          RawOutput(f"{stem}_predicted", encoder.name, "predicted", "int32", labels)]
        else:
            described += [RawOutput(f"{stem}_probabilities", encoder.name, "probabilities", "float32", labels),
                          RawOutput(f"{stem}_class", encoder.name, "class", "int32", labels)]
    return described


def build_raw_model(saved, trained, inputs: list[RawInput], outputs: list[RawOutput]):
    """The Keras model: raw inputs → fitted preprocessing → the trained model → predict's outputs."""
    from dlrun.model.backend import import_keras

    keras = import_keras()
    pre = saved.preprocessor
    tensors = {raw.name: keras.Input(shape=tuple(raw.shape), dtype=raw.dtype, name=raw.name) for raw in inputs}
    features = saved.inputs().graph_features(keras, tensors, inputs)
    shape = pre.sample_shape if saved.spec.data.window is None else saved.infos["features"].shape  # (lookback, width)
    features = keras.ops.reshape(features, (-1, *shape))
    # inference mode fixed in the graph: augmentation layers (RandomFlip, ...) and dropout are off whoever calls it
    raw_out = trained(_model_inputs(keras, features, saved), training=False)
    if isinstance(raw_out, dict):
        raw_out = [raw_out[name] for name in trained.output_names]
    elif not isinstance(raw_out, (list, tuple)):
        raw_out = [raw_out]
    results = {}
    for head, value in zip(saved.heads, raw_out):
        encoder = saved.targets[head.target]
        mine = [o for o in outputs if o.target == encoder.name]
        results.update(_head_outputs(keras, value, encoder.task, mine))
    return keras.Model(inputs=tensors, outputs=results, name=f"{_model_stem(saved)}_raw")


def _model_stem(saved) -> str:
    return safe_name(saved.spec.name or "dlrun", set())


def _model_inputs(keras, features, saved):
    """As `dlrun.data.inputs.model_inputs`, on the graph: one tensor, or one per graph input."""
    ops, model_spec, pre = keras.ops, saved.spec.model, saved.preprocessor
    if not model_spec.is_graph:
        dtype = saved.infos["features"].dtype
        return features if dtype == "float32" else ops.cast(features, dtype)
    flat = ops.reshape(features, (-1, math.prod(pre.sample_shape)))
    out = {}
    for name, spec in model_spec.inputs.items():
        info = saved.infos[name]
        part = flat if spec.columns is None else ops.take(flat, np.asarray(pre.output_columns_for(spec.columns),
                                                                          dtype=np.int32), axis=1)
        part = ops.reshape(part, (-1, *info.shape))
        out[name] = part if info.dtype == "float32" else ops.cast(part, info.dtype)
    return out


def _head_outputs(keras, value, task: str, outputs: list[RawOutput]) -> dict:
    """Probabilities normalised as `dlrun.report.metrics.probabilities` does, and the class or the 0/1 set."""
    ops = keras.ops
    by_kind = {o.kind: o.name for o in outputs}
    if task == "regression":
        return {by_kind["value"]: ops.cast(value, "float32")}
    value = ops.cast(value, "float32")
    if task == "multilabel":
        return {by_kind["probabilities"]: value,
                by_kind["predicted"]: ops.cast(ops.greater_equal(value, THRESHOLD), "int32")}
    if task == "binary" and value.shape[-1] == 1:
        proba = ops.concatenate([ops.subtract(1.0, value), value], axis=1)
    else:
        proba = ops.divide(value, ops.maximum(ops.sum(value, axis=1, keepdims=True), 1e-12))
    # top_k rather than argmax: Keras's argmax adds a sign-of-zero fix that LiteRT has no built-in op for;
    # top_k also returns the first of equal values, as NumPy's argmax does
    first = ops.top_k(proba, k=1, sorted=True)[1]
    return {by_kind["probabilities"]: proba, by_kind["class"]: ops.cast(ops.reshape(first, (-1,)), "int32")}

