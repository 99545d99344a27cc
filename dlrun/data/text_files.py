"""Text folders: `source: text:FOLDER` holds one subfolder of .txt files per class (as Keras's
`text_dataset_from_directory` reads them); each file is one row, read whole as UTF-8. No TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlrun.data.class_folders import files_named, scan_class_folders
from dlrun.errors import DataError

SUFFIXES = (".txt",)


def read_texts(files: list[Path]) -> np.ndarray:
    """The files' texts (an object array, one per file); a file that is not UTF-8 is a DataError naming it."""
    texts = []
    for path in files:
        try:
            texts.append(Path(path).read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
        except OSError as exc:
            raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    return np.array(texts, dtype=object)


def text_class_folders(folder: Path, at_least: int = 2) -> tuple[list[Path], np.ndarray, list[str]]:
    """(files, their texts, label of each file)."""
    files, labels, _ = scan_class_folders(folder, SUFFIXES, "text files", at_least)
    return files, read_texts(files), labels


def text_files(paths: list[Path]) -> list[Path]:
    """New text files for predict: the files named, and every .txt file inside the folders named."""
    return files_named(paths, SUFFIXES, "text files")
