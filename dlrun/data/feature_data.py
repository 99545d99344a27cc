"""One interface over every kind of feature data: the kind is told once, here, by `feature_data`,
and each kind is one class. Training, prediction, the leakage audit, evaluation and export ask the
object, never which kind it is.

    pandas table        TableFeatures     in memory, hashed per row by its values
    array (numbers)     ArrayFeatures     in memory; also a dict of arrays (graph inputs)
    array (texts)       TextFeatures      in memory, strings
    image files         ImageFeatures     paths, decoded batch by batch
    streamed table      StreamedFeatures  chunks read from the file as they are needed

Example:
    >>> import numpy as np
    >>> data = feature_data(np.zeros((4, 2), dtype="float32"))
    >>> data.rows, data.streams
    (4, False)
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from dlrun.data.image_files import ImageFiles
from dlrun.data.table_stream import StreamedTable
from dlrun.data.windows import GatheredWindows, SeriesWindows

EVAL_BATCH = 1024  # evaluation batches do not change results, only speed
IMAGE_BATCH = 64   # images: a batch of decoded pictures is large


def as_structure(value):
    """Several arrays (a multi-output y) as a tuple, the structure tf.data and Keras take; windows as
    an object that indexes like the array of their gathered inputs (NumPy batches on JAX)."""
    if isinstance(value, SeriesWindows):
        return GatheredWindows(value)
    return tuple(value) if isinstance(value, list) else value


def _hash_flat(values) -> np.ndarray:
    flat = np.asarray(values).reshape(len(values), -1)
    return pd.util.hash_pandas_object(pd.DataFrame(flat, copy=False), index=False).to_numpy()


class ArrayFeatures:
    """Numbers in memory: an array of samples, or a dict / tuple of them (a graph model's inputs)."""

    streams = False        # True: only ever read as a stream of batches (the fast input path is forced)
    sampled_for_export = False  # True: too large to hold; an export is checked on a sample read whole

    def __init__(self, x):
        self.x = x

    @property
    def rows(self) -> int:
        x = self.x
        if isinstance(x, dict):
            return len(next(iter(x.values())))
        if isinstance(x, (list, tuple)):
            return len(x[0])
        return len(np.asarray(x)) if not hasattr(x, "shape") else x.shape[0]

    def eval_batch(self, usual: int, training_batch: int) -> int:
        """The batch to validate in: `usual`, or smaller where a batch of this kind is large."""
        return usual

    def take(self, rows: np.ndarray):
        """The features of `rows` (a table keeps its row labels)."""
        return self.x[rows]

    def held(self):
        """The features as an in-memory object (a streamed part is read whole)."""
        return self.x

    def linear_matrix(self, rows: np.ndarray, max_columns: int) -> np.ndarray | None:
        """The preprocessed features of `rows` as one float matrix for a linear model, or None where
        a linear model does not apply (texts, token ids and other integer codes, image files,
        streamed tables, more than `max_columns` values per sample)."""
        x = self.x
        if not isinstance(x, np.ndarray) or x.dtype.kind != "f" or math.prod(x.shape[1:]) > max_columns:
            return None
        return np.asarray(x[rows], dtype=np.float64).reshape(len(rows), -1)

    def listed_files(self) -> list | None:
        """The files the rows are, for reports that name them (image folders)."""
        return None

    def saved_file_list(self) -> dict:
        """What splits.json keeps of the rows besides their numbers (an image folder: each file's path)."""
        return {}

    def row_keys(self) -> np.ndarray:
        """One key per row for the leakage audit: equal feature values give equal keys."""
        return _hash_flat(self.x)

    def missing_counts(self) -> dict[str, int]:
        arr = np.asarray(self.x)
        return {"features": int(np.isnan(arr).sum())} if arr.dtype.kind == "f" and np.isnan(arr).any() else {}

    def fingerprint(self, digest) -> None:
        """Feed the contents into a hashlib digest (the data fingerprint)."""
        digest.update(f"{self.x.shape}{self.x.dtype}".encode())
        digest.update(memoryview(np.ascontiguousarray(self.x)).cast("B"))  # no copy when contiguous

    def ordered_batches(self, y, batch_size: int):
        """An in-order, batched tf.data pipeline of (x, y) (validation, prediction)."""
        import tensorflow as tf

        from dlrun.data.tf_data import settled

        x, y = as_structure(self.x), as_structure(y)
        data = (x,) if y is None else (x, y)
        return settled(tf.data.Dataset.from_tensor_slices(data).batch(batch_size).prefetch(tf.data.AUTOTUNE))

    def training_batches(self, y, batch_size: int, shuffle: bool, seed: int, epochs: int, start_epoch: int = 0):
        """The batches of epochs start_epoch..epochs-1, back to back, as one tf.data pipeline: each
        epoch's order a stateless shuffle of (seed, epoch), each batch gathered from tensors held once."""
        import tensorflow as tf

        from dlrun.data.tf_data import epoch_row_batches, settled

        x, y = as_structure(self.x), as_structure(y)
        tensors = tf.nest.map_structure(tf.convert_to_tensor, (x, y))
        batches = epoch_row_batches(self.rows, batch_size, shuffle, seed, epochs, start_epoch)
        gathered = batches.map(lambda rows: tf.nest.map_structure(lambda t: tf.gather(t, rows), tensors),
                               num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return settled(gathered.prefetch(tf.data.AUTOTUNE))

    def predict(self, model):
        # one batch: the compiled predict step, kept by Keras across calls (k-fold folds reuse one model),
        # without predict's per-call set-up; not under a MirroredStrategy, whose replicas' outputs it repeats
        if self.rows <= EVAL_BATCH and getattr(model, "_distribute_strategy", None) is None:
            return model.predict_on_batch(self.x)
        return model.predict(self.x, verbose=0, batch_size=EVAL_BATCH)

    # The preprocessing and split steps, which a kind whose rows are not samples of one table (windows
    # over a series) answers its own way.
    windows = None         # the SeriesWindows behind windowed features

    def whole(self):
        """The features as one object Keras takes whole (windows: every window gathered)."""
        return self.x

    def fit_table(self):
        """What the feature preprocessing is fitted on, for these (training) rows."""
        return self.x

    def transformed(self, pre, where: str):
        """Every row through the fitted preprocessing."""
        return pre.transform(self.x, where=where)

    def sample_shape(self, pre) -> tuple:
        """The shape of one sample the model takes."""
        return tuple(pre.sample_shape)

    def split_holdout(self, split, seed: int, labels, source_test):
        """Train / validation / test rows for `dlrun train` (data/split.py holdout_split)."""
        from dlrun.data.split import holdout_split

        return holdout_split(self.rows, split, seed, labels, source_test)

    def split_record(self, splits) -> dict:
        """What splits.json keeps besides the row numbers (windows: each part's time range)."""
        return {}

    def before(self, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
        """The `earlier` rows a part may hold when `later` rows are held out after it (windows: those
        whose steps all come before the later ones', data/windows.py)."""
        return earlier

    def separated(self, splits):
        """`splits` with each earlier part kept clear of the later ones (windows: gaps before them)."""
        return splits


class TableFeatures(ArrayFeatures):
    """A pandas table in memory (raw columns, before preprocessing)."""

    def take(self, rows: np.ndarray):
        return self.x.iloc[rows]

    def row_keys(self) -> np.ndarray:
        return pd.util.hash_pandas_object(self.x, index=False).to_numpy()

    def missing_counts(self) -> dict[str, int]:
        return {c: int(n) for c, n in self.x.isna().sum().items() if n}

    def fingerprint(self, digest) -> None:
        digest.update(",".join(map(str, self.x.columns)).encode())
        digest.update(pd.util.hash_pandas_object(self.x, index=False).values.tobytes())


class TextFeatures(ArrayFeatures):
    """Texts in memory: an array of strings (object dtype)."""

    def linear_matrix(self, rows: np.ndarray, max_columns: int) -> None:
        return None

    def missing_counts(self) -> dict[str, int]:
        return {}

    def fingerprint(self, digest) -> None:
        for text in self.x:
            digest.update(str(text).encode("utf-8") + b"\0")


class ImageFeatures(ArrayFeatures):
    """Image files: paths, each decoded as its row comes up (data/image_stream.py)."""

    def linear_matrix(self, rows: np.ndarray, max_columns: int) -> None:
        return None

    streams = True

    @property
    def rows(self) -> int:
        return len(self.x)

    def eval_batch(self, usual: int, training_batch: int) -> int:
        return min(usual, max(IMAGE_BATCH, training_batch))  # decoded pictures are large: validate in small batches

    def listed_files(self) -> list | None:
        return self.x

    def saved_file_list(self) -> dict:
        return {"files": self.x.relative_paths()}

    def row_keys(self) -> np.ndarray:
        return self.x.row_keys()

    def missing_counts(self) -> dict[str, int]:
        return {}  # every file was decoded once when the folder was read

    def fingerprint(self, digest) -> None:
        digest.update(self.x.fingerprint_text().encode())

    def ordered_batches(self, y, batch_size: int):
        from dlrun.data.image_stream import ordered_images

        return ordered_images(self.x, y, batch_size)

    def training_batches(self, y, batch_size: int, shuffle: bool, seed: int, epochs: int, start_epoch: int = 0):
        import tensorflow as tf

        from dlrun.data.image_stream import decode_batches
        from dlrun.data.tf_data import epoch_row_batches, settled

        row_batches = epoch_row_batches(self.rows, batch_size, shuffle, seed, epochs, start_epoch)
        return settled(decode_batches(self.x, y, row_batches).prefetch(tf.data.AUTOTUNE))

    def predict(self, model):
        return model.predict(self.ordered_batches(None, IMAGE_BATCH), verbose=0)


class StreamedFeatures(ArrayFeatures):
    """A table read chunk by chunk from its file (data/table_stream.py); never held whole."""

    def linear_matrix(self, rows: np.ndarray, max_columns: int) -> None:
        return None

    streams = True
    sampled_for_export = True

    @property
    def rows(self) -> int:
        return len(self.x)

    def held(self):
        return self.x.read()

    def row_keys(self) -> np.ndarray:
        return self.x.keys  # hashed by the pass that opened it

    def missing_counts(self) -> dict[str, int]:
        return self.x.missing_counts()

    def fingerprint(self, digest) -> None:
        digest.update(",".join(self.x.columns).encode())
        digest.update(self.x.keys.tobytes())

    def ordered_batches(self, y, batch_size: int):
        from dlrun.data.table_stream import streamed_dataset

        return streamed_dataset(self.x, y, batch_size, False, 0, 1)

    def training_batches(self, y, batch_size: int, shuffle: bool, seed: int, epochs: int, start_epoch: int = 0):
        from dlrun.data.table_stream import streamed_dataset  # chunks in a seeded order, mixed a window at a time

        return streamed_dataset(self.x, y, batch_size, shuffle, seed, epochs, start_epoch)

    def predict(self, model):
        return model.predict(self.ordered_batches(None, EVAL_BATCH), verbose=0)


class WindowFeatures(ArrayFeatures):
    """Windows over a time-ordered table (data/windows.py): steps held once, each batch gathered."""

    streams = True   # fed as batches gathered from the steps, never as one array of every window

    @property
    def windows(self):
        return self.x

    @property
    def rows(self) -> int:
        return len(self.x)

    def take(self, rows: np.ndarray):
        return self.x[rows]

    def row_keys(self) -> np.ndarray:
        """(series, last step) per window: windows are positions in time, never copies of each other."""
        return self.x.series * (len(self.x.times) + 1) + self.x.ends

    def missing_counts(self) -> dict[str, int]:
        return TableFeatures(self.x.steps.iloc[self.x.covered()]).missing_counts()

    def fingerprint(self, digest) -> None:
        TableFeatures(self.x.steps).fingerprint(digest)
        digest.update(self.x.ends.tobytes())

    def linear_matrix(self, rows: np.ndarray, max_columns: int) -> np.ndarray | None:
        if self.x.lookback * self.x.width > max_columns:
            return None
        return self.x.gather(rows).reshape(len(rows), -1).astype(np.float64)

    def whole(self):
        return self.x.gather()

    def fit_table(self):
        return self.x.steps.iloc[self.x.covered()]

    def transformed(self, pre, where: str):
        return replace(self.x, steps=np.ascontiguousarray(pre.transform(self.x.steps, where=where), dtype=np.float32))

    def sample_shape(self, pre) -> tuple:
        return (self.x.lookback, *pre.sample_shape)

    def split_holdout(self, split, seed: int, labels, source_test):
        from dlrun.data.split import Splits
        from dlrun.data.windows import split_in_time

        return Splits(*split_in_time(self.x, split.test, split.validation))

    def before(self, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
        from dlrun.data.windows import before

        return before(self.x, earlier, later)

    def separated(self, splits):
        from dlrun.data.split import Splits

        validation = self.before(splits.validation, splits.test)
        return Splits(self.before(splits.train, np.concatenate([validation, splits.test])), validation, splits.test)

    def split_record(self, splits) -> dict:
        parts = {part: self.x[getattr(splits, part)].time_range() for part in ("train", "validation", "test")}
        return {"time_ranges": {part: span for part, span in parts.items() if span},
                "window": {"lookback": self.x.lookback, "horizon": self.x.horizon, "sampling_rate": self.x.rate}}

    def ordered_batches(self, y, batch_size: int):
        import tensorflow as tf

        from dlrun.data.windows import window_batches

        return window_batches(self.x, as_structure(y), tf.data.Dataset.range(self.rows).batch(batch_size))

    def training_batches(self, y, batch_size: int, shuffle: bool, seed: int, epochs: int, start_epoch: int = 0):
        from dlrun.data.tf_data import epoch_row_batches
        from dlrun.data.windows import window_batches

        rows = epoch_row_batches(self.rows, batch_size, shuffle, seed, epochs, start_epoch)
        return window_batches(self.x, as_structure(y), rows)

    def predict(self, model):
        return model.predict(self.ordered_batches(None, EVAL_BATCH), verbose=0)


def feature_data(x) -> ArrayFeatures:
    """The interface object for features `x`: the only place that tells the kinds apart."""
    if isinstance(x, SeriesWindows):
        return WindowFeatures(x)
    if isinstance(x, ImageFiles):
        return ImageFeatures(x)
    if isinstance(x, StreamedTable):
        return StreamedFeatures(x)
    if isinstance(x, pd.DataFrame):
        return TableFeatures(x)
    if isinstance(x, np.ndarray) and x.dtype == object:
        return TextFeatures(x)
    return ArrayFeatures(x)

