"""Image files to float32 batches with tf.data: read, decode, resize and scale each file in parallel,
batch and prefetch, so a folder of any size trains and predicts without being held in memory.

Decoding follows Keras's `image_dataset_from_directory`: `decode_image` to the colour mode's
channels (first frame of a GIF), then a bilinear resize to data.image_size when it is set. TensorFlow
is imported only when a stream is built.
"""

from __future__ import annotations

import numpy as np

from dlrun.data.image_files import ImageFiles


def _decoder(files: ImageFiles, scaled: bool = True):
    import tensorflow as tf

    shape = [*files.size, files.channels]
    center = tf.constant(files.center or [0.0] * files.channels, tf.float32)
    spread = tf.constant(files.spread or [1.0] * files.channels, tf.float32)

    def decode(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=files.channels, expand_animations=False)
        image = tf.cast(image, tf.float32)
        image = tf.image.resize(image, files.size, method="bilinear") if files.resize else tf.ensure_shape(image, shape)
        return (image - center) / spread if scaled and files.spread else image

    return decode


def image_batches(files: ImageFiles, y, rows, batch_size: int, scaled: bool = True):
    """Batches of (images, y) — or of images alone when y is None — for a tf.data stream of row numbers
    (one epoch's: batches never span two epochs)."""
    import tensorflow as tf

    paths = tf.constant(files.paths)
    decode = _decoder(files, scaled)
    if y is None:
        samples = rows.map(lambda r: decode(tf.gather(paths, r)), num_parallel_calls=tf.data.AUTOTUNE,
                           deterministic=True)
    else:
        targets = tf.nest.map_structure(tf.convert_to_tensor, tuple(y) if isinstance(y, list) else y)
        samples = rows.map(lambda r: (decode(tf.gather(paths, r)), tf.nest.map_structure(lambda t: tf.gather(t, r),
                                                                                         targets)),
                           num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return samples.batch(batch_size)


def ordered_images(files: ImageFiles, y=None, batch_size: int = 256, scaled: bool = True):
    """Every file in order (validation, evaluation, prediction)."""
    import tensorflow as tf

    return image_batches(files, y, tf.data.Dataset.range(len(files)), batch_size, scaled).prefetch(tf.data.AUTOTUNE)


def channel_statistics(files: ImageFiles, batch_size: int = 128) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation over every pixel of `files`, in one streamed pass."""
    total = np.zeros(files.channels)
    squares = np.zeros(files.channels)
    count = 0
    for batch in ordered_images(files, None, batch_size, scaled=False).as_numpy_iterator():
        pixels = batch.reshape(-1, files.channels).astype(np.float64)
        total += pixels.sum(axis=0)
        squares += np.square(pixels).sum(axis=0)
        count += len(pixels)
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean ** 2, 0.0))
    return mean.tolist(), np.where(std > 1e-6, std, 1.0).tolist()


def decoded(files: ImageFiles, scaled: bool = False) -> np.ndarray:
    """A few files as one array (the report's picture grid); not for whole datasets."""
    batches = list(ordered_images(files, None, max(len(files), 1), scaled).as_numpy_iterator())
    return batches[0] if batches else np.zeros((0, *files.size, files.channels), np.float32)
