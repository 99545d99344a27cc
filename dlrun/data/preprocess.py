"""Feature preprocessing fitted on the training rows only, saved as JSON (never pickled).

`FeaturePreprocessor.fit(train_features, spec.data)` learns imputation values, scaling
statistics and one-hot categories from the training part; `transform` applies exactly
that to any rows (validation, test, new data), so evaluation and prediction see the
same transform as training.

A categorical column's cells name their categories by `category_text` (1, 1.0 and '1.0' are one
category). A column missing on some training rows gets a category of its own, MISSING_CATEGORY, as the
last of its one-hot block (data.missing_category: indicator, the default), or is refused (error). A
value training never had, or a gap in a column training was never missing, gets an all-zero block;
`category_surprises` counts them, and `category_notes` says so, for predict and evaluate.
"""

from __future__ import annotations

import fnmatch
import math
import warnings
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from dlrun.data.image_files import ImageFiles
from dlrun.data.table_columns import check_finite
from dlrun.data.table_stats import category_text, most_frequent, streamed_statistics, usable_scaling
from dlrun.data.table_stream import StreamedTable
from dlrun.errors import DataError
from dlrun.spec.catalog import suggest
from dlrun.spec.models import DataSpec


MISSING_CATEGORY = "<missing>"  # the category of a missing cell, in a column missing on some training rows
EXAMPLES = 3                    # values named in a note on categories training never saw


def _expand(patterns: list[str], columns: list[str]) -> list[str]:
    return [c for c in columns if any(fnmatch.fnmatchcase(c, p) for p in patterns)]


@dataclass
class FeaturePreprocessor:
    """Fitted feature transform. Tables keep per-column state; arrays keep per-position state."""

    kind: str                                   # "table" | "array"
    columns: list[str]                          # input columns (table) in training order
    numeric: list[str]                          # table columns imputed and scaled
    categories: dict[str, list[str]]            # categorical column -> categories seen in training
    passthrough: list[str]
    impute: str
    scale: str
    fill: list[float] = field(default_factory=list)     # per numeric column / array position
    center: list[float] = field(default_factory=list)
    spread: list[float] = field(default_factory=list)
    sample_shape: list[int] = field(default_factory=list)  # shape of one sample after transform
    output_origin: list[str] = field(default_factory=list)  # for each output column, its input column
    missing_seen: dict[str, int] = field(default_factory=dict)
    image: dict = field(default_factory=dict)   # images: the decoding recipe (size, color_mode, resize)
    text: dict = field(default_factory=dict)    # text: TextVectorization's settings, vocabulary and idf weights
    missing_category: str = "indicator"         # a missing categorical cell: indicator (or zeros) | error

    # ---- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(cls, features: pd.DataFrame | np.ndarray | ImageFiles, spec: DataSpec) -> "FeaturePreprocessor":
        if isinstance(features, ImageFiles):
            return cls._fit_images(features, spec)
        if isinstance(features, StreamedTable):
            return cls._fit_streamed(features, spec)
        if spec.scheme == "text":
            return cls._fit_text(np.asarray(features), spec)
        if isinstance(features, pd.DataFrame):
            return cls._fit_table(features, spec)
        return cls._fit_array(np.asarray(features), spec)

    @classmethod
    def _fit_table(cls, frame: pd.DataFrame, spec: DataSpec) -> "FeaturePreprocessor":
        columns, numeric, categorical, passthrough = _roles([str(c) for c in frame.columns], spec)
        values = frame[numeric].to_numpy(dtype=np.float64) if numeric else np.zeros((len(frame), 0))
        fill, center, spread = _statistics(values, spec.impute, spec.scale)
        categories = {}
        for column in categorical:
            categories[column] = sorted({v for v in category_text(frame[column]) if v is not None})
        missing = {c: int(n) for c, n in frame.isna().sum().items() if n}
        return cls._of_table(columns, numeric, categories, passthrough, spec, (fill, center, spread), missing)

    @classmethod
    def _fit_streamed(cls, table: StreamedTable, spec: DataSpec) -> "FeaturePreprocessor":
        """The table transform, its statistics from one pass over a streamed table's training rows."""
        columns, numeric, categorical, passthrough = _roles(table.columns, spec)
        stats = streamed_statistics(table, numeric, categorical, spec.impute, spec.scale)
        return cls._of_table(columns, numeric, stats["categories"], passthrough, spec,
                             (stats["fill"], stats["center"], stats["spread"]), stats["missing"])

    @classmethod
    def _of_table(cls, columns, numeric, categories, passthrough, spec, statistics, missing) -> "FeaturePreprocessor":
        categories = _with_missing(categories, missing, spec.missing_category)
        origin: list[str] = []
        for column in columns:
            origin.extend([column] * (len(categories[column]) if column in categories else 1))
        return cls("table", columns, numeric, categories, passthrough, spec.impute, spec.scale,
                   *statistics, _sample_shape(len(origin), spec.reshape), origin, missing,
                   missing_category=spec.missing_category)

    @classmethod
    def _fit_array(cls, array: np.ndarray, spec: DataSpec) -> "FeaturePreprocessor":
        flat = array.reshape(len(array), -1)
        if flat.dtype.kind != "f":
            flat = flat.astype(np.float32)  # statistics below accumulate in float64 without a float64 copy
        fill, center, spread = _statistics(flat, spec.impute, spec.scale)
        natural = list(array.shape[1:])
        shape = _sample_shape(flat.shape[1], spec.reshape) if spec.reshape else natural
        missing = int(np.isnan(flat).sum()) if spec.impute != "none" or spec.scale != "none" else 0
        return cls("array", [], [], {}, [], spec.impute, spec.scale, fill, center, spread, shape,
                   [], {"features": missing} if missing else {})

    @classmethod
    def _fit_images(cls, files: ImageFiles, spec: DataSpec) -> "FeaturePreprocessor":
        """Per-channel statistics from one streamed pass over the training files (scale: standard),
        or a fixed 1/255 (minmax), or none."""
        channels = files.channels
        if spec.scale == "standard":
            from dlrun.data.image_stream import channel_statistics

            center, spread = channel_statistics(files)
        elif spec.scale == "minmax":
            center, spread = [0.0] * channels, [255.0] * channels
        else:
            center, spread = [], []
        recipe = {"size": list(files.size), "color_mode": files.color_mode, "resize": files.resize}
        return cls("images", [], [], {}, [], "none", spec.scale, [], center, spread, [*files.size, channels], [], {},
                   recipe)

    @classmethod
    def _fit_text(cls, texts: np.ndarray, spec: DataSpec) -> "FeaturePreprocessor":
        """TextVectorization adapted on the training texts only."""
        from dlrun.data.text_vectorize import adapt

        recipe = adapt(texts, spec.vectorize, spec.num_words, spec.maxlen)
        width = recipe["sequence_length"] if recipe["vectorize"] == "sequence" else len(recipe["vocabulary"])
        return cls("text", [], [], {}, [], "none", "none", sample_shape=[width], text=recipe)

    # ---- applying ------------------------------------------------------------------------
    def transform(self, features: pd.DataFrame | np.ndarray | ImageFiles, where: str = "data"):
        """Transformed float32 samples of shape (rows, *sample_shape); for images, the files with the
        fitted scaling attached (they are decoded batch by batch when a model reads them)."""
        if self.kind == "images":
            if not isinstance(features, ImageFiles):
                raise DataError(f"{where}: the model was trained on image files; pass a folder or image files")
            if list(features.size) != self.image["size"] and not self.image["resize"]:
                raise DataError(f"{where}: the images are {features.size[0]}x{features.size[1]} but the model was "
                                f"trained on {self.image['size'][0]}x{self.image['size'][1]} images")
            return replace(features, size=list(self.image["size"]), color_mode=self.image["color_mode"],
                           resize=self.image["resize"]).scaled(self.center, self.spread)
        if isinstance(features, StreamedTable):  # transformed chunk by chunk as the model reads it
            if self.kind != "table":
                raise DataError(f"{where}: the model was trained on {self.kind} data, not a table")
            return features.transformed(self)
        if self.kind == "text":
            from dlrun.data.text_vectorize import vectorized

            return vectorized(np.asarray(features, dtype=object), self.text)
        if self.kind == "array":
            if isinstance(features, pd.DataFrame):
                features = features.to_numpy()
            flat = np.asarray(features).reshape(len(features), -1)
            if flat.shape[1] != len(self.center):
                raise DataError(f"{where}: each sample has {flat.shape[1]} values, the model was trained on {len(self.center)}")
            check_finite(flat, where, None)
            out = self._numeric(flat.astype(np.float32, copy=False))  # arrays are transformed in float32
        else:
            out = self._table(features, where)
        return out.astype(np.float32).reshape(len(out), *self.sample_shape)

    def _numeric(self, values: np.ndarray) -> np.ndarray:
        if not values.shape[1]:
            return values
        dtype = values.dtype
        if self.impute != "none":
            nan = np.isnan(values)
            if nan.any():
                values = np.where(nan, np.asarray(self.fill, dtype=dtype), values)
        if self.scale != "none":
            values = values - np.asarray(self.center, dtype=dtype)  # one new array, then scaled in place
            values /= np.asarray(self.spread, dtype=dtype)
        return values

    def _table(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"{where}: expected a table with columns {', '.join(self.columns)}")
        present = [str(c) for c in frame.columns]
        absent = [c for c in self.columns if c not in present]
        if absent:
            hint = suggest(absent[0], [c for c in present if c not in self.columns])
            raise DataError(f"{where}: column '{absent[0]}' used in training is missing{hint}"
                            + (f" ({len(absent)} missing: {', '.join(absent)})" if len(absent) > 1 else ""))
        numeric_values = {}
        if self.numeric:
            block = frame[self.numeric].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
            check_finite(block, where, self.numeric)
            bad = np.isnan(block) & frame[self.numeric].notna().to_numpy()
            if bad.any():
                row, col = map(int, np.argwhere(bad)[0])
                raise DataError(f"{where}: column '{self.numeric[col]}' holds text on data row {row + 1} "
                                f"({frame[self.numeric[col]].iloc[row]!r}) where a number is expected")
            block = self._numeric(block)
            numeric_values = {c: block[:, i] for i, c in enumerate(self.numeric)}
        parts = []
        for column in self.columns:
            if column in numeric_values:
                parts.append(numeric_values[column][:, None])
            elif column in self.categories:
                parts.append(self._one_hot(column, frame[column], where))
            else:
                values = pd.to_numeric(frame[column], errors="coerce")
                bad = values.isna() & frame[column].notna()
                if bad.any():
                    row = int(np.flatnonzero(bad.to_numpy())[0])
                    raise DataError(f"{where}: passthrough column '{column}' holds text on data row {row + 1} "
                                    f"({frame[column].iloc[row]!r}); passthrough columns must hold numbers")
                parts.append(values.to_numpy(dtype=np.float64)[:, None])
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0))

    def _one_hot(self, column: str, values: pd.Series, where: str) -> np.ndarray:
        """A categorical column's one-hot block: a missing cell is MISSING_CATEGORY where training had
        one, refused with data.missing_category: error, else all zeros, as a value training never saw."""
        seen = category_text(values)
        names = self.category_names(column)
        gaps = pd.isna(seen)
        if gaps.any() and self.missing_category == "error":
            row = int(np.flatnonzero(gaps)[0])
            raise DataError(f"{where}: categorical column '{column}' is missing on data row {row + 1}, and this "
                            f"model was trained with data.missing_category: error; fill the gap first")
        if gaps.any() and MISSING_CATEGORY in names:
            seen = np.where(gaps, MISSING_CATEGORY, seen)
        return (seen[:, None] == np.asarray(names, dtype=object)[None, :]).astype(np.float64)

    def category_names(self, column: str) -> list[str]:
        """The categories of a column as `category_text` names values (a run saved before it, with '1.0'
        for the code 1, still matches)."""
        return category_text(pd.Series(self.categories[column], dtype=object)).tolist()

    def category_surprises(self, features) -> dict[str, dict]:
        """Per categorical column of raw rows (a table, or a streamed table read chunk by chunk): how many
        rows hold a value no training row had ("unseen", with up to EXAMPLES "examples") or miss a value
        where training never did ("missing"); both get an all-zero one-hot block. Columns with neither are
        left out; other kinds of data give {}."""
        if self.kind != "table" or not self.categories:
            return {}
        frames = (frame for _, frame in features.frames()) if isinstance(features, StreamedTable) else [features]
        found: dict[str, dict] = {}
        for frame in frames:
            if not isinstance(frame, pd.DataFrame):
                return {}
            for column in self.categories:
                if column in frame.columns:
                    _count_surprises(frame[column], self.category_names(column), found.setdefault(
                        column, {"unseen": 0, "examples": [], "missing": 0}))
        return {c: got for c, got in found.items() if got["unseen"] or got["missing"]}

    def output_columns_for(self, patterns: list[str]) -> list[int]:
        """Positions of the transformed columns that come from input columns matching `patterns`."""
        chosen = set(_expand(patterns, self.columns))
        return [i for i, origin in enumerate(self.output_origin) if origin in chosen]

    # ---- JSON ----------------------------------------------------------------------------
    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "FeaturePreprocessor":
        return cls(**data)


def category_notes(surprises: dict[str, dict]) -> list[str]:
    """One line per categorical column of `FeaturePreprocessor.category_surprises`: what the model could
    not place, how often, a few examples.

        >>> category_notes({"color": {"unseen": 2, "examples": ["teal"], "missing": 0}})
        ["categorical column 'color': a value no training row had on 2 rows (e.g. 'teal') — given no category (all zeros)"]
    """
    notes = []
    for column, got in surprises.items():
        said = []
        if got["unseen"]:
            examples = ", ".join(repr(v) for v in got["examples"])
            said.append(f"a value no training row had on {_rows(got['unseen'])} (e.g. {examples})")
        if got["missing"]:
            said.append(f"no value on {_rows(got['missing'])}, which no training row lacked")
        notes.append(f"categorical column '{column}': {'; '.join(said)} — given no category (all zeros)")
    return notes


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


def _count_surprises(values: pd.Series, names: list[str], got: dict) -> None:
    """Add one frame's unseen values and uncategorised gaps of a column to `got`."""
    seen = pd.Series(category_text(values), dtype=object)
    gaps = seen.isna()
    unseen = ~gaps & ~seen.isin(names)
    got["unseen"] += int(unseen.sum())
    if MISSING_CATEGORY not in names:
        got["missing"] += int(gaps.sum())
    for value in seen[unseen].unique()[:EXAMPLES]:
        if len(got["examples"]) < EXAMPLES and value not in got["examples"]:
            got["examples"].append(value)


def _with_missing(categories: dict[str, list[str]], missing: dict[str, int], how: str) -> dict[str, list[str]]:
    """A categorical column missing on some training rows: MISSING_CATEGORY as its last category, or
    (data.missing_category: error) a DataError naming the columns."""
    gaps = {c: int(missing[c]) for c in categories if missing.get(c)}
    if gaps and how == "error":
        named = ", ".join(f"'{c}' on {n} row{'s' if n != 1 else ''}" for c, n in gaps.items())
        raise DataError(f"data.categorical: the training rows miss a value of {named}, and data.missing_category "
                        f"is error — fill the gaps in the file, or set data.missing_category: indicator to give "
                        f"a missing value a category of its own")
    return {c: [*cats, MISSING_CATEGORY] if c in gaps and MISSING_CATEGORY not in cats else cats
            for c, cats in categories.items()}


def _roles(columns: list[str], spec: DataSpec) -> tuple[list[str], list[str], list[str], list[str]]:
    """(columns, numeric, categorical, passthrough) of a table's feature columns."""
    categorical = _expand(spec.categorical, columns)
    passthrough = [c for c in _expand(spec.passthrough, columns) if c not in categorical]
    numeric = [c for c in columns if c not in categorical and c not in passthrough]
    return columns, numeric, categorical, passthrough


def _sample_shape(n_features: int, reshape: list[int] | None) -> list[int]:
    if not reshape:
        return [n_features]
    if math.prod(reshape) != n_features:
        raise DataError(f"data.reshape {list(reshape)} holds {math.prod(reshape)} values per sample, "
                        f"but each sample has {n_features} features")
    return list(reshape)


def _statistics(values: np.ndarray, impute: str, scale: str) -> tuple[list, list, list]:
    """Imputation fill values and scaling centre/spread per column, from training rows only."""
    n_cols = values.shape[1]
    if not n_cols:
        return [], [], []
    nan = np.isnan(values)
    any_nan = bool(nan.any())
    if impute == "mean":
        fill = np.nanmean(np.where(nan.all(axis=0), 0.0, values), axis=0) if any_nan else values.mean(axis=0, dtype=np.float64)
    elif impute == "median":
        fill = np.nanmedian(np.where(nan.all(axis=0), 0.0, values), axis=0) if any_nan else np.median(values, axis=0)
    elif impute == "most_frequent":
        fill = np.array([most_frequent(values[:, i]) for i in range(n_cols)])
    else:
        fill = np.zeros(n_cols)
    # with impute: none the missing cells stay missing, so they must not count in the statistics
    filled = np.where(nan, fill, values) if impute != "none" and any_nan else values
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: statistics fall back below
        if scale == "standard" and not np.isnan(filled).any():
            center = filled.mean(axis=0, dtype=np.float64)
            spread = filled.std(axis=0, dtype=np.float64)
        elif scale == "standard":
            center, spread = np.nanmean(filled, axis=0, dtype=np.float64), np.nanstd(filled, axis=0, dtype=np.float64)
        elif scale == "minmax":
            low, high = np.nanmin(filled, axis=0).astype(np.float64), np.nanmax(filled, axis=0).astype(np.float64)
            center, spread = low, high - low
        else:
            center, spread = np.zeros(n_cols), np.ones(n_cols)
    center, spread = usable_scaling(center, spread)
    return fill.tolist(), center.tolist(), spread.tolist()
