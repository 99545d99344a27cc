"""The fast input path: in-memory arrays fed as one stream of batches for all epochs.

On TensorFlow, a prefetched tf.data pipeline: the arrays become tensors once and one pipeline
serves every epoch (no per-epoch rebuilding), batches are gathered from a seeded index stream
reshuffled every epoch, and several steps run per call into TensorFlow (`steps_per_execution`),
which removes most of the per-batch Python overhead. On JAX (no tf.data), a generator of NumPy
batches with the same rule: each epoch's order depends only on (seed, epoch).

Either way a resumed run sees exactly the batches an uninterrupted run would, and `--jobs`
workers match a single process.
"""

from __future__ import annotations

import math

import numpy as np

from dlrun.data.image_files import ImageFiles
from dlrun.data.image_stream import decode_batches, ordered_images
from dlrun.data.table_stream import StreamedTable, streamed_dataset
from dlrun.data.tf_data import settled

MAX_STEPS_PER_EXECUTION = 64  # enough to amortise the Python round trip; keeps NaN checks timely


def execution_steps(training, n_rows: int) -> int:
    """Steps per call into the backend for a spec's training section: `steps_per_execution`, or 1
    without the fast input or under a MirroredStrategy (Keras's multi-step loop does not run on a
    distributed iterator)."""
    if not training.fast_input or not n_rows or training.distribute == "mirrored":
        return 1
    return steps_per_execution(n_rows, training.batch_size)


def steps_per_execution(n_rows: int, batch_size: int) -> int:
    """Steps run per call: the largest divisor of the steps per epoch up to MAX_STEPS_PER_EXECUTION
    (a whole epoch for small data). Keras runs executions in whole multiples of this number, so it
    must divide the epoch, or an epoch would run into the next one's batches."""
    steps = max(1, math.ceil(n_rows / batch_size))
    return max(d for d in range(1, min(steps, MAX_STEPS_PER_EXECUTION) + 1) if steps % d == 0)


def _as_structure(value):
    if isinstance(value, list):
        return tuple(value)
    return value


def array_dataset(x, y, batch_size: int):
    """An in-order, batched, prefetched tf.data pipeline over in-memory (x, y) (validation, evaluation)."""
    import tensorflow as tf

    if isinstance(x, ImageFiles):
        return ordered_images(x, y, batch_size)
    if isinstance(x, StreamedTable):
        return streamed_dataset(x, y, batch_size, False, 0, 1)
    x, y = _as_structure(x), _as_structure(y)
    return settled(tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(tf.data.AUTOTUNE))


def training_dataset(x, y, batch_size: int, shuffle: bool, seed: int, epochs: int, start_epoch: int = 0):
    """The batches of epochs start_epoch..epochs-1, back to back, as one finite pipeline.

    Each epoch's row order is a stateless shuffle of (seed, epoch): the same in every process
    and for every start epoch, so a resumed run sees exactly the batches an uninterrupted run
    would, and `--jobs` workers match a single process. The data is held once, as tensors;
    each batch is gathered from it by index. One iterator serves every epoch.
    """
    import tensorflow as tf

    if isinstance(x, StreamedTable):  # chunks read from the file in a seeded order, mixed a window at a time
        return streamed_dataset(x, y, batch_size, shuffle, seed, epochs, start_epoch)
    n_rows = rows_of(x)
    base = tf.constant(seed, dtype=tf.int64)

    def epoch_rows(epoch):
        rows = tf.range(n_rows, dtype=tf.int64)
        if shuffle:
            rows = tf.random.experimental.stateless_shuffle(rows, seed=tf.stack([base, epoch]))
        return tf.data.Dataset.from_tensor_slices(rows)

    if isinstance(x, ImageFiles):  # each file decoded as its row comes up, in the same seeded order
        row_batches = tf.data.Dataset.range(start_epoch, epochs).flat_map(
            lambda epoch: epoch_rows(epoch).batch(batch_size))
        return settled(decode_batches(x, y, row_batches).prefetch(tf.data.AUTOTUNE))
    x, y = _as_structure(x), _as_structure(y)
    tensors = tf.nest.map_structure(tf.convert_to_tensor, (x, y))
    batches = tf.data.Dataset.range(start_epoch, epochs).flat_map(lambda epoch: epoch_rows(epoch).batch(batch_size))
    gathered = batches.map(lambda rows: tf.nest.map_structure(lambda t: tf.gather(t, rows), tensors),
                           num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return settled(gathered.prefetch(tf.data.AUTOTUNE))


def epoch_order(n_rows: int, shuffle: bool, seed: int, epoch: int) -> np.ndarray:
    """The row order of one epoch on JAX: a permutation drawn from (seed, epoch) alone."""
    if not shuffle:
        return np.arange(n_rows)
    return np.random.default_rng([seed, epoch]).permutation(n_rows)


def row_weights(y, class_weight: dict[int, float]) -> np.ndarray:
    """Per-row loss weights from class weights by class code, read from y as Keras reads it for
    `class_weight` (sparse codes, one-hot rows, or a 0/1 column): rows of unlisted classes weigh 1."""
    codes = np.asarray(y)
    if codes.ndim > 1:
        codes = codes.argmax(axis=-1) if codes.shape[-1] != 1 else codes.reshape(-1)
    codes = np.round(codes).astype(np.int64)
    table = np.ones(int(max(codes.max(initial=0), max(class_weight, default=0))) + 1, dtype=np.float32)
    for code, weight in class_weight.items():
        table[int(code)] = weight
    return table[codes]


def numpy_batches(x, y, batch_size: int, shuffle: bool, seed: int, epochs: int, start_epoch: int = 0,
                  weights: np.ndarray | None = None):
    """The batches of epochs start_epoch..epochs-1 as NumPy arrays, back to back (the JAX twin of
    `training_dataset`); with `weights`, each batch is (x, y, sample weights)."""
    x, y = _as_structure(x), _as_structure(y)
    n_rows = rows_of(x)

    def take(value, rows):
        if isinstance(value, dict):
            return {k: v[rows] for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(v[rows] for v in value)
        return value[rows]

    for epoch in range(start_epoch, epochs):
        order = epoch_order(n_rows, shuffle, seed, epoch)
        for start in range(0, n_rows, batch_size):
            rows = order[start:start + batch_size]
            batch = (take(x, rows), take(y, rows))
            yield batch if weights is None else (*batch, weights[rows])


def rows_of(x) -> int:
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    if isinstance(x, (list, tuple)):
        return len(x[0])
    return len(np.asarray(x)) if not hasattr(x, "shape") else x.shape[0]
