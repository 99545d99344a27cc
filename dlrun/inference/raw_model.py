"""A run's model with its fitted preprocessing in front and `dlrun predict`'s outputs behind: one Keras
model that takes the raw columns a user has (one named input per training column) and runs without dlrun.

The fitted constants of `preprocessing.json` become constants of the graph (nothing is refitted):
imputation is `where(x != x, fill, x)`, scaling `(x - centre) / spread`, and a categorical column
becomes its one-hot block, by `StringLookup` over the training categories (string inputs) or, for
runtimes without strings, by comparing an int32 category code with the category positions. Built only
from Keras layers and `keras.ops`, so the saved model loads in safe mode with no custom code.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from dlrun.data.preprocess import FeaturePreprocessor
from dlrun.report.multilabel_metrics import THRESHOLD

UNSEEN_CODE = -1  # the category code of a value training never saw (its one-hot block is all zeros)


@dataclass
class RawInput:
    """One input of the exported model: the training column it stands for and what the caller passes."""

    name: str                       # the input's name in every format
    column: str | None              # the training column (None: the one array input of an NPZ/array source)
    kind: str                       # numeric | categorical | passthrough | array | image | text
    dtype: str                      # float32 | string | int32 (category codes)
    shape: list[int]                # per row: [] for a column, the sample's shape for an array
    categories: list[str] | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


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


def safe_name(text: str, taken: set[str]) -> str:
    """A name every runtime accepts ([A-Za-z0-9_], not starting with a digit), unique among `taken`.

        >>> safe_name("sepal length (cm)", set()), safe_name("2nd", set()), safe_name("a", {"a"})
        ('sepal_length_cm', 'c_2nd', 'a_2')
    """
    name = re.sub(r"[^A-Za-z0-9_]+", "_", str(text)).strip("_") or "column"
    if name[0].isdigit():
        name = f"c_{name}"
    unique, n = name, 1
    while unique in taken:
        n += 1
        unique = f"{name}_{n}"
    taken.add(unique)
    return unique


def raw_inputs(pre: FeaturePreprocessor, sample_shape: list[int], strings: bool) -> list[RawInput]:
    """The exported model's inputs: one per training column (tables), the array as it is stored, or one
    decoded image (pixels 0-255, already resized to the training size)."""
    if pre.kind == "images":
        return [RawInput("image", None, "image", "float32", list(pre.sample_shape))]
    if pre.kind == "text":  # string formats only (export refuses the others first)
        return [RawInput("text", None, "text", "string", [])]
    if pre.kind == "array":
        return [RawInput("features", None, "array", "float32", list(sample_shape))]
    taken: set[str] = set()
    described = []
    for column in pre.columns:
        name = safe_name(column, taken)
        if column in pre.categories:
            described.append(RawInput(name, column, "categorical", "string" if strings else "int32", [],
                                      list(pre.categories[column])))
        else:
            kind = "numeric" if column in pre.numeric else "passthrough"
            described.append(RawInput(name, column, kind, "float32", []))
    return described


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


def raw_feed(inputs: list[RawInput], features: pd.DataFrame | np.ndarray) -> dict[str, np.ndarray]:
    """The arrays a caller passes for these rows: numbers as float32 (missing: NaN), categories as
    strings (missing: "") or as int32 codes (a value training never saw: -1)."""
    if inputs[0].kind == "text":
        return {"text": np.asarray(features, dtype=object)}
    if inputs[0].kind == "image":
        from dlrun.data.image_stream import decoded

        return {"image": decoded(features, scaled=False).astype(np.float32)}
    if inputs[0].kind == "array":
        values = np.asarray(features.to_numpy() if isinstance(features, pd.DataFrame) else features)
        return {"features": values.reshape(len(values), *inputs[0].shape).astype(np.float32)}
    feed = {}
    for raw in inputs:
        column = features[raw.column]
        if raw.kind != "categorical":
            feed[raw.name] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float32)
            continue
        text = column.astype(str).where(column.notna(), "")
        if raw.dtype == "string":
            feed[raw.name] = text.to_numpy(dtype=object)
        else:
            position = {value: i for i, value in enumerate(raw.categories)}
            feed[raw.name] = np.array([position.get(v, UNSEEN_CODE) for v in text], dtype=np.int32)
    return feed


def build_raw_model(saved, trained, inputs: list[RawInput], outputs: list[RawOutput]):
    """The Keras model: raw inputs → fitted preprocessing → the trained model → predict's outputs."""
    from dlrun.model.backend import import_keras

    keras = import_keras()
    pre = saved.preprocessor
    tensors = {raw.name: keras.Input(shape=tuple(raw.shape), dtype=raw.dtype, name=raw.name) for raw in inputs}
    if pre.kind == "text":  # the adapted TextVectorization, rebuilt from its vocabulary and idf weights
        from dlrun.data.text_vectorize import vectorizer

        layer = vectorizer(pre.text, pre.text["vocabulary"], pre.text.get("idf"))
        features = keras.ops.cast(layer(tensors["text"]), "float32")
    elif pre.kind == "images":  # per-channel scaling on the last axis
        features = tensors["image"]
        if pre.spread:
            features = keras.ops.divide(keras.ops.subtract(features, np.asarray(pre.center, dtype=np.float32)),
                                        np.asarray(pre.spread, dtype=np.float32))
    elif pre.kind == "array":
        flat = keras.ops.reshape(keras.ops.cast(tensors["features"], "float32"), (-1, len(pre.center)))
        features = _numeric(keras, flat, pre, pre.fill, pre.center, pre.spread)
    else:
        pieces = [_column(keras, tensors[raw.name], raw, pre) for raw in inputs]
        features = pieces[0] if len(pieces) == 1 else keras.layers.Concatenate(axis=1, name="columns")(pieces)
    features = keras.ops.reshape(features, (-1, *pre.sample_shape))
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


def _numeric(keras, x, pre: FeaturePreprocessor, fill, center, spread):
    ops = keras.ops
    if pre.impute != "none":
        x = ops.where(ops.not_equal(x, x), np.asarray(fill, dtype=np.float32), x)  # NaN is the one x != x
    if pre.scale != "none":
        x = ops.divide(ops.subtract(x, np.asarray(center, dtype=np.float32)), np.asarray(spread, dtype=np.float32))
    return x


def _column(keras, tensor, raw: RawInput, pre: FeaturePreprocessor):
    ops = keras.ops
    if raw.kind == "categorical":
        count = len(raw.categories)
        if raw.dtype == "string":
            lookup = keras.layers.StringLookup(vocabulary=list(raw.categories), num_oov_indices=1,
                                               output_mode="one_hot", name=f"{raw.name}_categories")
            return ops.cast(lookup(tensor)[:, 1:], "float32")  # position 0 is the unseen-category slot
        codes = ops.expand_dims(tensor, -1)
        return ops.cast(ops.equal(codes, np.arange(count, dtype=np.int32)[None, :]), "float32")
    values = ops.expand_dims(ops.cast(tensor, "float32"), -1)
    if raw.kind == "passthrough":
        return values
    i = pre.numeric.index(raw.column)
    return _numeric(keras, values, pre, pre.fill[i:i + 1], pre.center[i:i + 1], pre.spread[i:i + 1])


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

