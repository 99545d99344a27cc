"""A folder with one subfolder per class (images or text files): the files of each class, labelled by
the subfolder's name, classes in sorted order — the layout Keras's `image_dataset_from_directory` and
`text_dataset_from_directory` read."""

from __future__ import annotations

from pathlib import Path

from dlrun.errors import DataError


def files_under(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Every file under `folder` (any depth) with one of `suffixes`, in sorted order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))  # .ipynb_checkpoints/


def files_named(paths: list[Path], suffixes: tuple[str, ...], kind: str) -> list[Path]:
    """New files for predict: each file named, and every file with one of `suffixes` inside each folder named."""
    found = []
    for path in paths:
        if path.is_dir():
            inside = files_under(path, suffixes)
            if not inside:
                raise DataError(f"{path}: holds no {kind} ({', '.join(suffixes)})")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    return found


def scan_class_folders(folder: Path, suffixes: tuple[str, ...], kind: str,
                       at_least: int = 2) -> tuple[list[Path], list[str], list[str]]:
    """(files, label of each file, class names); `kind` ("images", "text files") names them in errors.
    Training needs two classes (`at_least`); evaluating a folder of one class is fine."""
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "not found"
        raise DataError(f"{folder}: {what}; the source names a folder holding one subfolder of {kind} per class "
                        f"(paths are relative to the spec file's folder)")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{folder}: no class subfolders; put each class's {kind} in a subfolder named for the class")
    files, labels = [], []
    for name in classes:
        found = files_under(folder / name, suffixes)
        if not found:
            raise DataError(f"{folder / name}: the class folder '{name}' holds no {kind} "
                            f"({', '.join(suffixes)}); add some or remove the folder")
        files += found
        labels += [name] * len(found)
    if len(classes) < at_least:
        raise DataError(f"{folder}: only one class ('{classes[0]}'); a classifier needs at least two class subfolders")
    return files, labels, classes
