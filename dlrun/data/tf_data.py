"""What every tf.data pipeline dlrun hands to Keras shares. TensorFlow is imported by the caller.

tf.data's autotuning runs a model thread that re-plans the pipeline on a period that doubles up to
10 s; an iterator's teardown waits for it. Keras drops its iterators when `fit` returns, so a run
paid up to 10 s there for nothing (seen as fit_seconds 21.7 against 11.4 for the same epochs, about
half the runs). With autotuning off, AUTOTUNE parallelism is the machine's core count and prefetch
keeps its own buffer rule; the epochs run as fast (2.0-2.2 s per epoch of the image benchmark in
both), and the teardown is immediate.
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
