"""What every tf.data pipeline dlrun hands to Keras shares. TensorFlow is imported inside.

Autotuning is off: its model thread re-plans the pipeline on a period that grows to 10 s, and an
iterator's teardown waits for it, so the end of every `fit` could stall for that long. With it off,
AUTOTUNE parallelism is the machine's core count and prefetch keeps its own buffer rule.
"""

from __future__ import annotations


def settled(dataset, python_source: bool = False):
    """`dataset` with tf.data's autotuning model thread off. `python_source` (a pipeline over a Python
    generator): no prefetch injected either, so no tf.data thread calls into Python (data/read_ahead.py
    says why)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    if python_source:
        options.experimental_optimization.inject_prefetch = False
    return dataset.with_options(options)


def epoch_row_batches(n_rows: int, batch_size: int, shuffle: bool, seed: int, epochs: int, start_epoch: int = 0):
    """Batches of row numbers for epochs start_epoch..epochs-1, back to back. Each epoch's order is a
    stateless shuffle of (seed, epoch): the same in every process and for every start epoch, so a
    resumed run sees exactly the batches an uninterrupted run would, and `--jobs` workers match a
    single process."""
    import tensorflow as tf

    base = tf.constant(seed, dtype=tf.int64)

    def epoch_rows(epoch):
        rows = tf.range(n_rows, dtype=tf.int64)
        if shuffle:
            rows = tf.random.experimental.stateless_shuffle(rows, seed=tf.stack([base, epoch]))
        return tf.data.Dataset.from_tensor_slices(rows).batch(batch_size)

    return tf.data.Dataset.range(start_epoch, epochs).flat_map(epoch_rows)
