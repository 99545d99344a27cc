"""The fast input path: features fed as one stream of batches for all epochs.

On TensorFlow, the features' own tf.data pipeline (data/feature_data.py: arrays become tensors once
and batches are gathered from a seeded index stream; files and streamed tables are read as their
rows come up), with several steps per call into TensorFlow (`steps_per_execution`), which removes
most of the per-batch Python overhead. On JAX, a generator of NumPy batches with the same rule:
each epoch's order depends only on (seed, epoch).

Either way a resumed run sees exactly the batches an uninterrupted run would, and `--jobs`
workers match a single process.
"""

from __future__ import annotations

import math

import numpy as np

from dlrun.data.feature_data import as_structure, feature_data

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
    x, y = as_structure(x), as_structure(y)
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
    return feature_data(x).rows
