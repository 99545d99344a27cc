"""Image folders: the file list of `source: images:FOLDER` (one subfolder per class, labels from the
folder names in sorted order, as Keras's `image_dataset_from_directory`), checked up front, and the
rows every split, fold and report works with. No TensorFlow and no pixels held here: `ImageFiles` is
a list of paths with the recipe that turns each into a float32 image (data/image_stream.py decodes
them batch by batch while a model trains or predicts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from dlrun.data.class_folders import scan_class_folders as scan_folders
from dlrun.errors import DataError, first_line

SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TENSOR_ALIGNMENT = 64  # bytes: the alignment TensorFlow needs to share an array's memory
KEPT_PIXELS_BYTES = 256 * 2**20  # a folder whose decoded pictures fit is decoded once, not every epoch
CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


@dataclass
class ImageFiles:
    """Image files as the rows of a dataset, and how each becomes a model input.

    Example:
        >>> files = ImageFiles(np.array(["a.png", "b.png", "c.png"]), [4, 4], "rgb")
        >>> len(files[np.array([0, 2])]), files.shape
        (2, (3, 4, 4, 3))
    """

    paths: np.ndarray                      # str, one per row
    size: list[int]                        # [height, width] every image is decoded to
    color_mode: str                        # grayscale | rgb | rgba
    resize: bool = False                   # resize to `size` (data.image_size) or take the files' own size
    center: list[float] = field(default_factory=list)  # per channel, subtracted ...
    spread: list[float] = field(default_factory=list)  # ... then divided by (empty: pixels as decoded, 0-255)
    root: str = ""                         # the folder the paths are listed relative to in splits.json
    # A small folder's pictures as decoded when it was checked (uint8, every file, shared by every
    # subset) and each path's row in it: epochs then gather pixels instead of decoding files again.
    pixels: np.ndarray | None = field(default=None, repr=False, compare=False)
    pixel_rows: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, rows) -> "ImageFiles":
        kept = None if self.pixel_rows is None else self.pixel_rows[rows]
        return replace(self, paths=self.paths[rows], pixel_rows=kept)

    def __getstate__(self) -> dict:  # a worker process or Ray task decodes its files itself
        return {**self.__dict__, "pixels": None, "pixel_rows": None}

    @property
    def channels(self) -> int:
        return CHANNELS[self.color_mode]

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.paths), *self.size, self.channels)

    def scaled(self, center: list[float], spread: list[float]) -> "ImageFiles":
        return replace(self, center=list(center), spread=list(spread))

    def relative_paths(self) -> list[str]:
        return [str(Path(p).relative_to(self.root)) if self.root else str(p) for p in self.paths]

    def row_keys(self) -> np.ndarray:
        """One key per file from its bytes: the same picture saved twice gives the same key."""
        return np.array([hashlib.sha1(Path(p).read_bytes()).hexdigest() for p in self.paths], dtype=object)

    def fingerprint_text(self) -> str:
        """Paths inside the folder and byte sizes: the same after a copy or move of the folder, different
        when files are added, removed, renamed or rewritten to another size."""
        sizes = [Path(p).stat().st_size for p in self.paths]
        return f"{self.size}{self.color_mode}{self.resize}\n" + "\n".join(
            f"{name}:{size}" for name, size in zip(self.relative_paths(), sizes))


def read_image(path, channels: int):
    """One file decoded as training reads it (a tensor path or str): `decode_image` to `channels`, the
    first frame of a GIF. TensorFlow is imported here, on first use."""
    import tensorflow as tf

    return tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)


def _decoded(files: list[Path], channels: int, color_mode: str, keep: bool) -> tuple[list[tuple[int, int]], np.ndarray | None]:
    """(height, width) of each file, decoded in parallel, and with `keep` every picture as one uint8 array
    (None when they differ in size or would take more than KEPT_PIXELS_BYTES, judged by the first file);
    when a file fails, the files are decoded one by one to name it."""
    import tensorflow as tf

    paths = [str(p) for p in files]
    first = ()
    if keep and paths:
        try:
            first = tuple(int(d) for d in read_image(paths[0], channels).shape)
        except tf.errors.OpError:  # named below
            pass
        keep = bool(first) and len(paths) * int(np.prod(first)) <= KEPT_PIXELS_BYTES
    if keep:
        pictures = tf.data.Dataset.from_tensor_slices(paths).map(
            lambda p: tf.ensure_shape(read_image(p, channels), first), num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True)
        stacked, done = _aligned_uint8((len(paths), *first)), 0
        try:
            for batch in pictures.batch(64).as_numpy_iterator():  # written into place: no second copy
                stacked[done:done + len(batch)] = batch
                done += len(batch)
            return [first[:2]] * len(paths), stacked
        except (tf.errors.OpError, ValueError):  # a file of another size or one that does not decode: as below
            pass
    shapes = tf.data.Dataset.from_tensor_slices(paths).map(lambda p: tf.shape(read_image(p, channels))[:2],
                                                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    try:  # fetched 512 at a time: one Python round trip per file cost more than decoding it
        return [(int(h), int(w)) for batch in shapes.batch(512).as_numpy_iterator() for h, w in batch], None
    except tf.errors.OpError:
        pass
    for path in paths:
        try:
            read_image(path, channels)
        except Exception as exc:  # TensorFlow's errors for a file it cannot decode (InvalidArgument, NotFound, ...)
            raise DataError(f"{path}: not an image TensorFlow can decode as {color_mode} ({first_line(exc, 200)}); "
                            f"fix, convert or remove the file") from None
    raise DataError(f"{Path(paths[0]).parent.parent}: the images could not be decoded")  # pragma: no cover


def _aligned_uint8(shape: tuple[int, ...]) -> np.ndarray:
    """An empty uint8 array whose data starts on a 64-byte boundary: TensorFlow can then use its memory as
    a tensor's without a copy (image_stream's kept tensor; it refuses an unaligned buffer)."""
    size = int(np.prod(shape))
    buffer = np.empty(size + TENSOR_ALIGNMENT, np.uint8)
    start = -buffer.ctypes.data % TENSOR_ALIGNMENT
    return buffer[start:start + size].reshape(shape)


def scan_class_folders(folder: Path, at_least: int = 2) -> tuple[list[Path], list[str], list[str]]:
    """(files, label of each file, class names): one class per subfolder, in sorted order."""
    return scan_folders(folder, SUFFIXES, "images", at_least)


def checked_files(files: list[Path], image_size: list[int] | None, color_mode: str, root: Path | None = None) -> ImageFiles:
    """Decode every file once, with the decoder training uses (TensorFlow's, to `color_mode`'s channels):
    an unreadable, truncated or unsupported image (a WebP named .png, a GIF in grayscale, a 1-bit BMP),
    or images of different sizes when data.image_size is not set, is a DataError naming the file."""
    sizes: dict[tuple[int, int], Path] = {}
    shapes, pixels = _decoded(files, CHANNELS[color_mode], color_mode, keep=image_size is None)
    for path, shape in zip(files, shapes):
        sizes.setdefault(shape, path)
        if image_size is None and len(sizes) > 1:
            (first, first_path), (other, other_path) = list(sizes.items())[:2]
            raise DataError(f"{other_path}: is {other[0]}x{other[1]} but {first_path} is {first[0]}x{first[1]}; "
                            f"images of different sizes need data.image_size: [height, width] to resize them to")
    size = list(image_size) if image_size is not None else list(next(iter(sizes)))
    return ImageFiles(np.array([str(p) for p in files], dtype=str), size, color_mode, resize=image_size is not None,
                      root="" if root is None else str(root), pixels=pixels,
                      pixel_rows=None if pixels is None else np.arange(len(files)))
