"""One interface over the kinds of a saved run's features, for `dlrun predict` and `dlrun export`: the
kind of the fitted preprocessor is told once, here, by `saved_inputs`, and each kind is one class (as
data/feature_data.py does for features in memory). Prediction and export ask the object how new rows
are read, what the exported model's raw inputs are, what a caller feeds them and how the fitted
preprocessing runs in the graph, never which kind it is.

    table         TableInputs   one named input per training column (a CSV's columns)
    array         ArrayInputs   the array as it is stored (an NPZ)
    images        ImageInputs   one decoded image, pixels 0-255 (image files)
    text          TextInputs    the raw text, string formats only (text files)

New rows of a table meet one rule of columns, `new_table_columns`, in `dlrun predict` and in
`dlrun evaluate --data`: every training column must be there; any other is ignored, with a note.

Example:
    >>> from types import SimpleNamespace
    >>> saved_inputs(SimpleNamespace(kind="text")).strings_only
    True
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from dlrun.data.class_folders import files_named
from dlrun.data.image_files import SUFFIXES, ImageFiles, checked_files
from dlrun.data.preprocess import MISSING_CATEGORY, FeaturePreprocessor
from dlrun.data.sources import read_table_file
from dlrun.data.table_stats import category_text
from dlrun.data.text_files import read_texts, text_files
from dlrun.errors import DataError
from dlrun.spec.catalog import suggest

UNSEEN_CODE = -1  # the category code of a value training never saw (its one-hot block is all zeros)
NAMED_COLUMNS = 12  # ignored columns a note names before it counts the rest


def new_table_columns(present: list[str], expected: list[str], where: str, used: list[str] = ()) -> list[str]:
    """The one rule for the columns of new rows (`dlrun predict`, `dlrun evaluate --data`): every column
    the model was trained on (`expected`) must be there, else a DataError names the missing ones; any
    other column (the target, an identifier) is ignored. Returns the note naming the ignored columns
    ([] when none); `used`: columns the caller reads besides the features (evaluate's targets).

        >>> new_table_columns(["a", "id", "b", "y"], ["a", "b"], "new.csv", used=["y"])
        ['new.csv: ignored column(s) the model was not trained on: id']
    """
    missing = [c for c in expected if c not in present]
    ignored = [c for c in present if c not in expected and c not in used]
    if missing:
        hint = suggest(missing[0], ignored)
        raise DataError(f"{where}: missing column(s) the model was trained on: {', '.join(missing)}{hint} "
                        f"(training columns: {', '.join(expected)})")
    if not ignored:
        return []
    named = ", ".join(ignored[:NAMED_COLUMNS]) + (f", … ({len(ignored)} in all)" if len(ignored) > NAMED_COLUMNS else "")
    return [f"{where}: ignored column(s) the model was not trained on: {named}"]


@dataclass
class RawInput:
    """One input of the exported model: the training column it stands for and what the caller passes."""

    name: str                       # the input's name in every format
    column: str | None              # the training column (None: the one array input of an NPZ/array source)
    kind: str                       # numeric | categorical | passthrough | array | image | text | window
    dtype: str                      # float32 | string | int32 (category codes)
    shape: list[int]                # per row: [] for a column, the sample's shape for an array
    categories: list[str] | None = None
    columns: list[str] | None = None  # a window (data.window): its columns, in order on the last axis

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


def _one_file(paths: list[Path]) -> Path:
    if len(paths) != 1:
        raise DataError(f"{len(paths)} data files given; this run predicts the rows of one table file")
    return paths[0]


def _numeric(keras, x, pre: FeaturePreprocessor, fill, center, spread):
    ops = keras.ops
    if pre.impute != "none":
        x = ops.where(ops.not_equal(x, x), np.asarray(fill, dtype=np.float32), x)  # NaN is the one x != x
    if pre.scale != "none":
        x = ops.divide(ops.subtract(x, np.asarray(center, dtype=np.float32)), np.asarray(spread, dtype=np.float32))
    return x


class ArrayInputs:
    """An array source (NPZ): one input, the array as it is stored."""

    strings_only = False      # True: the exported model takes strings, so formats without them are refused
    reads_with_keras = False  # True: new rows are read with TensorFlow/Keras (import it before reading)

    def __init__(self, pre: FeaturePreprocessor):
        self.pre = pre

    def sample_shape(self, features) -> list[int]:
        """The shape of one row of `features` as the exported model takes it ([]: the input fixes it)."""
        return list(np.asarray(features).shape[1:])

    def read_new(self, paths: list[Path], checked: Callable, array_key: str) -> tuple[object, list[str] | None]:
        """New rows' features for `dlrun predict`, and for file-per-row kinds the file of each row.
        `checked(frame, path)`: a table's training columns, checked against the schema; `array_key`:
        the NPZ array the features are."""
        data = _one_file(paths)
        if not data.is_file():
            raise DataError(f"{data}: data file not found")
        try:
            with np.load(data, allow_pickle=False) as archive:
                if array_key not in archive:
                    raise DataError(f"{data}: no array '{array_key}' (arrays: {', '.join(archive.keys())})")
                return archive[array_key], None
        except (ValueError, OSError) as exc:
            raise DataError(f"{data}: not a readable NPZ archive ({exc})") from None

    def raw_inputs(self, sample_shape: list[int], strings: bool) -> list[RawInput]:
        """The exported model's inputs (`strings`: the format takes string inputs)."""
        return [RawInput("features", None, "array", "float32", list(sample_shape))]

    def raw_feed(self, inputs: list[RawInput], features) -> dict[str, np.ndarray]:
        """The arrays a caller passes to `inputs` for these rows."""
        values = np.asarray(features.to_numpy() if isinstance(features, pd.DataFrame) else features)
        return {"features": values.reshape(len(values), *inputs[0].shape).astype(np.float32)}

    def graph_features(self, keras, tensors: dict, inputs: list[RawInput]):
        """The fitted preprocessing in the graph: the raw input tensors → the model's (flat) features."""
        pre = self.pre
        flat = keras.ops.reshape(keras.ops.cast(tensors["features"], "float32"), (-1, len(pre.center)))
        return _numeric(keras, flat, pre, pre.fill, pre.center, pre.spread)


class TableInputs(ArrayInputs):
    """A table (CSV, ...): one named input per training column; categories as strings or int32 codes."""

    def sample_shape(self, features) -> list[int]:
        return []

    def read_new(self, paths: list[Path], checked: Callable, array_key: str) -> tuple[object, list[str] | None]:
        data = _one_file(paths)
        frame = read_table_file(data)
        frame.columns = [str(c) for c in frame.columns]
        return checked(frame, data), None

    def raw_inputs(self, sample_shape: list[int], strings: bool) -> list[RawInput]:
        pre, taken, described = self.pre, set(), []
        for column in pre.columns:
            name = safe_name(column, taken)
            if column in pre.categories:
                described.append(RawInput(name, column, "categorical", "string" if strings else "int32", [],
                                          pre.category_names(column)))
            else:
                kind = "numeric" if column in pre.numeric else "passthrough"
                described.append(RawInput(name, column, kind, "float32", []))
        return described

    def raw_feed(self, inputs: list[RawInput], features) -> dict[str, np.ndarray]:
        """Numbers as float32 (missing: NaN), categories as strings named as `category_text` names them
        (missing: "") or as int32 codes (missing: the code of MISSING_CATEGORY where training had one;
        a value training never saw: -1)."""
        feed = {}
        for raw in inputs:
            column = features[raw.column]
            if raw.kind != "categorical":
                feed[raw.name] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float32)
                continue
            text = pd.Series(category_text(column), dtype=object).fillna("").to_numpy(dtype=object)
            if raw.dtype == "string":
                feed[raw.name] = text
            else:
                position = {value: i for i, value in enumerate(raw.categories)}
                if MISSING_CATEGORY in position:
                    position[""] = position[MISSING_CATEGORY]
                feed[raw.name] = np.array([position.get(v, UNSEEN_CODE) for v in text], dtype=np.int32)
        return feed

    def graph_features(self, keras, tensors: dict, inputs: list[RawInput]):
        pieces = [self._column(keras, tensors[raw.name], raw) for raw in inputs]
        return pieces[0] if len(pieces) == 1 else keras.layers.Concatenate(axis=1, name="columns")(pieces)

    def _column(self, keras, tensor, raw: RawInput):
        ops, pre = keras.ops, self.pre
        if raw.kind == "categorical":
            count = len(raw.categories)
            if raw.dtype == "string":  # a missing value comes as "": the MISSING_CATEGORY column, if training had one
                vocabulary = ["" if c == MISSING_CATEGORY else c for c in raw.categories]
                lookup = keras.layers.StringLookup(vocabulary=vocabulary, num_oov_indices=1,
                                                   output_mode="one_hot", name=f"{raw.name}_categories")
                return ops.cast(lookup(tensor)[:, 1:], "float32")  # position 0 is the unseen-category slot
            codes = ops.expand_dims(tensor, -1)
            return ops.cast(ops.equal(codes, np.arange(count, dtype=np.int32)[None, :]), "float32")
        values = ops.expand_dims(ops.cast(tensor, "float32"), -1)
        if raw.kind == "passthrough":
            return values
        i = pre.numeric.index(raw.column)
        return _numeric(keras, values, pre, pre.fill[i:i + 1], pre.center[i:i + 1], pre.spread[i:i + 1])


class ImageInputs(ArrayInputs):
    """Image files: one decoded image (pixels 0-255, already resized to the training size)."""

    reads_with_keras = True

    def sample_shape(self, features) -> list[int]:
        return []

    def read_new(self, paths: list[Path], checked: Callable, array_key: str) -> tuple[object, list[str] | None]:
        images = new_images(self.pre, paths)
        return images, list(images.paths)

    def raw_inputs(self, sample_shape: list[int], strings: bool) -> list[RawInput]:
        return [RawInput("image", None, "image", "float32", list(self.pre.sample_shape))]

    def raw_feed(self, inputs: list[RawInput], features) -> dict[str, np.ndarray]:
        from dlrun.data.image_stream import decoded

        return {"image": decoded(features, scaled=False).astype(np.float32)}

    def graph_features(self, keras, tensors: dict, inputs: list[RawInput]):
        """Per-channel scaling on the last axis."""
        pre, features = self.pre, tensors["image"]
        if pre.spread:
            features = keras.ops.divide(keras.ops.subtract(features, np.asarray(pre.center, dtype=np.float32)),
                                        np.asarray(pre.spread, dtype=np.float32))
        return features


class TextInputs(ArrayInputs):
    """Text files: the raw text, one string input (string formats only: export refuses the others first)."""

    strings_only = True
    reads_with_keras = True

    def sample_shape(self, features) -> list[int]:
        return []

    def read_new(self, paths: list[Path], checked: Callable, array_key: str) -> tuple[object, list[str] | None]:
        files = text_files(paths)
        return read_texts(files), [str(p) for p in files]

    def raw_inputs(self, sample_shape: list[int], strings: bool) -> list[RawInput]:
        return [RawInput("text", None, "text", "string", [])]

    def raw_feed(self, inputs: list[RawInput], features) -> dict[str, np.ndarray]:
        return {"text": np.asarray(features, dtype=object)}

    def graph_features(self, keras, tensors: dict, inputs: list[RawInput]):
        """The adapted TextVectorization, rebuilt from its vocabulary and idf weights."""
        from dlrun.data.text_vectorize import vectorizer

        pre = self.pre
        layer = vectorizer(pre.text, pre.text["vocabulary"], pre.text.get("idf"))
        return keras.ops.cast(layer(tensors["text"]), "float32")


_KINDS = {"table": TableInputs, "array": ArrayInputs, "images": ImageInputs, "text": TextInputs}


def saved_inputs(pre: FeaturePreprocessor) -> ArrayInputs:
    """The interface object for a saved run's features: the only place that tells the kinds apart."""
    return _KINDS.get(pre.kind, TableInputs)(pre)


def new_images(pre: FeaturePreprocessor, paths: list[Path]) -> ImageFiles:
    """Image files for an image run: folders are searched; each file is checked as training's were."""
    recipe = pre.image
    files = files_named(paths, SUFFIXES, "image files")
    if recipe["resize"]:
        return checked_files(files, recipe["size"], recipe["color_mode"])
    try:
        return checked_files(files, None, recipe["color_mode"])
    except DataError as exc:
        if "of different sizes" not in str(exc):
            raise
        height, width = recipe["size"]
        raise DataError(f"{str(exc).split(';')[0]}; the model takes {height}x{width} images (it was trained without "
                        f"data.image_size): resize them to {height}x{width} first") from None
