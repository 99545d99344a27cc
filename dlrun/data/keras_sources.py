"""`keras:NAME` sources, read from the Keras dataset cache ($KERAS_HOME or ~/.keras, then datasets/).

A cached file is read directly, in the format Keras itself stores; only when it is absent
do we ask `keras.datasets` to download it. When neither works, the message says which
file to put where. The source's own train/test division is kept (`Dataset.source_test`).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from dlrun.data.dataset import Dataset
from dlrun.errors import DataError
from dlrun.spec.models import DataSpec

# name -> the file (or folder) Keras keeps in its cache for it
CACHE_FILES = {
    "mnist": "mnist.npz",
    "fashion_mnist": "fashion-mnist",
    "cifar10": "cifar-10-batches-py",
    "imdb": "imdb.npz",
    "reuters": "reuters.npz",
    "boston_housing": "boston_housing.npz",
}
FASHION_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


def keras_cache_dir() -> Path:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


KERAS_SHUFFLE_SEED = 113  # keras.datasets.imdb/reuters shuffle with this seed
START_CHAR, OOV_CHAR, INDEX_FROM = 1, 2, 3


def _keras_word_ids(sequences) -> list[list[int]]:
    """Raw word ranks as keras.datasets returns them: a start mark, then ranks shifted by 3."""
    return [[START_CHAR] + [int(w) + INDEX_FROM for w in seq] for seq in sequences]


def _read_npz(path: Path, sequences: bool) -> tuple:
    """Read a cached Keras .npz; for imdb and reuters, produce exactly what keras.datasets would."""
    # imdb and reuters store ragged word-rank lists as object arrays; Keras's own loader reads
    # them the same way. The plain-array sets are read with pickling off.
    with np.load(path, allow_pickle=sequences) as archive:
        if not sequences:
            return (archive["x_train"], archive["y_train"]), (archive["x_test"], archive["y_test"])
        rng = np.random.RandomState(KERAS_SHUFFLE_SEED)
        if "x" in archive and "x_train" not in archive:  # reuters: one array, shuffled, then split 80/20
            x, y = archive["x"], archive["y"]
            order = np.arange(len(x))
            rng.shuffle(order)
            x, y = _keras_word_ids(x[order]), y[order]
            cut = int(len(x) * 0.8)
            return (x[:cut], y[:cut]), (x[cut:], y[cut:])
        parts = []
        for xs, ys in ((archive["x_train"], archive["y_train"]), (archive["x_test"], archive["y_test"])):
            order = np.arange(len(xs))
            rng.shuffle(order)
            parts.append((_keras_word_ids(xs[order]), ys[order]))
        return tuple(parts)


def _read_idx_gz(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), np.uint8, offset=offset)


def _read_fashion(folder: Path) -> tuple:
    labels_train, images_train, labels_test, images_test = (folder / f for f in FASHION_FILES)
    y_train = _read_idx_gz(labels_train, 8)
    x_train = _read_idx_gz(images_train, 16).reshape(len(y_train), 28, 28)
    y_test = _read_idx_gz(labels_test, 8)
    x_test = _read_idx_gz(images_test, 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)


def _download(name: str, spec: DataSpec) -> tuple:
    import keras

    module = getattr(keras.datasets, name)
    if name in ("imdb", "reuters"):
        return module.load_data(num_words=spec.num_words)
    return module.load_data()


def _vectorize(sequences: np.ndarray, spec: DataSpec) -> np.ndarray:
    """Word-index lists -> multi-hot rows or zero-padded sequences."""
    num_words = spec.num_words or 10000
    if spec.vectorize == "multi_hot":
        out = np.zeros((len(sequences), num_words), dtype=np.float32)
        for row, seq in enumerate(sequences):
            idx = np.asarray(seq, dtype=np.int64)
            out[row, np.where(idx < num_words, idx, OOV_CHAR)] = 1.0
        return out
    out = np.zeros((len(sequences), spec.maxlen), dtype=np.int32)
    for row, seq in enumerate(sequences):
        idx = np.asarray(seq, dtype=np.int64)
        idx = np.where(idx < num_words, idx, OOV_CHAR)[-spec.maxlen:]
        out[row, spec.maxlen - len(idx):] = idx
    return out


def load_keras_dataset(spec: DataSpec) -> Dataset:
    name = spec.location
    cached = keras_cache_dir() / CACHE_FILES[name]
    try:
        if name == "fashion_mnist" and cached.is_dir():
            parts = _read_fashion(cached)
        elif name not in ("fashion_mnist", "cifar10") and cached.is_file():
            parts = _read_npz(cached, sequences=name in ("imdb", "reuters"))
        else:
            parts = _download(name, spec)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - offline, corrupt cache, proxy: all the same to the user
        raise DataError(
            f"data.source keras:{name}: the dataset is not in the Keras cache and could not be downloaded "
            f"({type(exc).__name__}: {str(exc)[:200]}). Put '{CACHE_FILES[name]}' in {keras_cache_dir()} "
            f"(or point KERAS_HOME at a folder whose datasets/ holds it), then run again.") from None
    (x_train, y_train), (x_test, y_test) = parts
    if name in ("imdb", "reuters"):
        x = np.empty(len(x_train) + len(x_test), dtype=object)
        x[:] = [list(seq) for seq in x_train] + [list(seq) for seq in x_test]
    else:
        x = np.concatenate([x_train, x_test])
    y = np.concatenate([np.asarray(y_train), np.asarray(y_test)])
    if name in ("imdb", "reuters"):
        x = _vectorize(x, spec)
    y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 and y.shape[1] == 1 else y
    source_test = np.arange(len(x_train), len(x), dtype=np.int64)
    return Dataset(x, {"label" if name != "boston_housing" else "price": y}, f"keras:{name}", source_test=source_test)
