"""Image files to float32 batches with tf.data: read, decode, resize and scale each file in parallel,
batch and prefetch, so a folder of any size trains and predicts without being held in memory. A
small folder (data/image_files.py KEPT_PIXELS_BYTES) keeps its pictures as decoded when it was
checked, and its batches are gathered from them: the same pixels, without decoding every epoch.

Decoding follows Keras's `image_dataset_from_directory`: `decode_image` to the colour mode's
channels (first frame of a GIF), then a bilinear resize to data.image_size when it is set. TensorFlow
is imported only when a stream is built.
"""

from __future__ import annotations

import numpy as np

from dlrun.data.image_files import TENSOR_ALIGNMENT, ImageFiles, read_image
from dlrun.data.tf_data import settled


_kept: list = []  # (pixels array, its tensor): the folder's kept pictures become one tensor, shared by pipelines


def _kept_tensor(pixels: np.ndarray):
    """The kept pictures as one tensor. An aligned array (image_files allocates it so) becomes a tensor over
    the same memory through DLPack; a conversion would copy it, and TensorFlow's conversion holds about
    twice the array's size on the way (52 MiB for 2,000 64x64 pictures of 24.6 MB)."""
    import tensorflow as tf

    if not _kept or _kept[0][0] is not pixels:
        shared = pixels.flags.c_contiguous and pixels.flags.writeable and pixels.ctypes.data % TENSOR_ALIGNMENT == 0
        _kept[:] = [(pixels, tf.experimental.dlpack.from_dlpack(pixels.__dlpack__()) if shared
                     else tf.convert_to_tensor(pixels))]
    return _kept[0][1]


def _scaling(files: ImageFiles, scaled: bool):
    """(center, spread) tensors to scale decoded pixels by, or (None, None) for pixels as decoded."""
    import tensorflow as tf

    if not (scaled and files.spread):
        return None, None
    return (tf.constant(files.center or [0.0] * files.channels, tf.float32),
            tf.constant(files.spread, tf.float32))


def _decoder(files: ImageFiles, scaled: bool = True):
    import tensorflow as tf

    shape = [*files.size, files.channels]
    center, spread = _scaling(files, scaled)

    def decode(path):
        image = tf.cast(read_image(path, files.channels), tf.float32)
        image = tf.image.resize(image, files.size, method="bilinear") if files.resize else tf.ensure_shape(image, shape)
        return image if spread is None else (image - center) / spread

    return decode


def decode_batches(files: ImageFiles, y, row_batches, scaled: bool = True):
    """(images, y) — or images alone when y is None — for a tf.data stream of batches of row numbers.
    One parallel map decodes whole batches (the files of a batch concurrently), so an epoch boundary
    starts no new pipeline."""
    import tensorflow as tf

    if files.pixels is not None:  # decoded once when the folder was checked: gather, then scale as below
        kept, rows_of = _kept_tensor(files.pixels), tf.constant(files.pixel_rows)
        center, spread = _scaling(files, scaled)

        def images(rows):
            pictures = tf.cast(tf.gather(kept, tf.gather(rows_of, rows)), tf.float32)
            return pictures if spread is None else (pictures - center) / spread
    else:
        paths = tf.constant(files.paths)
        decode = _decoder(files, scaled)
        spec = tf.TensorSpec([*files.size, files.channels], tf.float32)

        def images(rows):
            return tf.map_fn(decode, tf.gather(paths, rows), fn_output_signature=spec, parallel_iterations=16)

    if y is None:
        return row_batches.map(images, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    targets = tf.nest.map_structure(tf.convert_to_tensor, tuple(y) if isinstance(y, list) else y)
    return row_batches.map(lambda rows: (images(rows), tf.nest.map_structure(lambda t: tf.gather(t, rows), targets)),
                           num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def ordered_images(files: ImageFiles, y=None, batch_size: int = 256, scaled: bool = True):
    """Every file in order (validation, evaluation, prediction)."""
    import tensorflow as tf

    rows = tf.data.Dataset.range(len(files)).batch(batch_size)
    return settled(decode_batches(files, y, rows, scaled).prefetch(tf.data.AUTOTUNE))


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
