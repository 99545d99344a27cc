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
from dlrun.errors import DataError

SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
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

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, rows) -> "ImageFiles":
        return replace(self, paths=self.paths[rows])

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
        """Paths, sizes and modification times: what changes when the folder's files do."""
        parts = []
        for path in self.paths:
            stat = Path(path).stat()
            parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
        return f"{self.size}{self.color_mode}{self.resize}\n" + "\n".join(parts)


def scan_class_folders(folder: Path) -> tuple[list[Path], list[str], list[str]]:
    """(files, label of each file, class names): one class per subfolder, in sorted order."""
    return scan_folders(folder, SUFFIXES, "images")


def checked_files(files: list[Path], image_size: list[int] | None, color_mode: str, root: Path | None = None) -> ImageFiles:
    """Open and fully decode every file once (Pillow): an unreadable or truncated image, or images of
    different sizes when data.image_size is not set, is a DataError naming the file."""
    from PIL import Image, UnidentifiedImageError

    sizes: dict[tuple[int, int], Path] = {}
    for path in files:
        try:
            with Image.open(path) as image:
                image.load()
                sizes.setdefault((image.height, image.width), path)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"{path}: not a readable image ({str(exc).splitlines()[0][:200] or type(exc).__name__}); "
                            f"fix or remove the file") from None
        if image_size is None and len(sizes) > 1:
            (first, first_path), (other, other_path) = list(sizes.items())[:2]
            raise DataError(f"{other_path}: is {other[0]}x{other[1]} but {first_path} is {first[0]}x{first[1]}; "
                            f"images of different sizes need data.image_size: [height, width] to resize them to")
    size = list(image_size) if image_size is not None else list(next(iter(sizes)))
    return ImageFiles(np.array([str(p) for p in files], dtype=str), size, color_mode, resize=image_size is not None,
                      root="" if root is None else str(root))
