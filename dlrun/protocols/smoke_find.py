"""Which files `dlrun smoke` runs: every dlrun spec among the paths it is given, folders searched
recursively, and the kind of run each spec is.

A file is a dlrun spec when its name ends in `.yaml` or `.yml`, it is a regular file of at most
10 MB, and its top level is a mapping with `extends:`, or with both `data:` and `model:`. A file
that is not valid YAML counts when one of those keys starts a line (so a broken spec is reported,
not passed over). Folders whose name starts with `.` and run folders (a run's own config.yaml is
a resolved spec) are not searched. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from dlrun.errors import UserError
from dlrun.runs import artifacts
from dlrun.spec.split_forms import CV_PROTOCOLS

SPEC_SUFFIXES = (".yaml", ".yml")
MAX_SPEC_BYTES = 10 * 1024 * 1024
_TOP_KEY = re.compile(r"^(extends|data|model)\s*:", re.MULTILINE)

TRAIN, KFOLD, SWEEP = "train", "kfold", "sweep"


def find_specs(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(the specs under `paths`, in order and each once; the files named on the command line that are
    not specs). A path that does not exist is a UserError."""
    found: dict[Path, Path] = {}
    ignored: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UserError(f"{path}: no such file or folder")
        if path.is_dir():
            for file in _yaml_files(path):
                if is_spec(file):
                    found.setdefault(file.resolve(), file)
        elif is_spec(path):
            found.setdefault(path.resolve(), path)
        else:
            ignored.append(path)
    return list(found.values()), ignored


def _yaml_files(folder: Path) -> list[Path]:
    """The YAML files under `folder`, sorted, leaving out hidden folders and run folders."""
    files = []
    for root, folders, names in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith(".") and not artifacts.is_run(Path(root) / f))
        files += [Path(root) / name for name in sorted(names) if name.endswith(SPEC_SUFFIXES)]
    return files


def is_spec(path: Path) -> bool:
    """A dlrun spec, by the rule in the module docstring."""
    try:
        if not path.is_file() or not path.name.endswith(SPEC_SUFFIXES) or path.stat().st_size > MAX_SPEC_BYTES:
            return False
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return bool(_TOP_KEY.search(text))
    return isinstance(data, dict) and ("extends" in data or ("data" in data and "model" in data))


def kind_of(spec) -> str:
    """How a spec is smoke-run: a sweep when it has a `sweep:` section (its trials are holdout or k-fold
    runs, as `sweep.evaluate` says), else kfold for a cross-validation `split.protocol`, else train."""
    if spec.sweep is not None:
        return SWEEP
    return KFOLD if spec.split.protocol in CV_PROTOCOLS else TRAIN


def guess_kind(path: Path) -> str:
    """The kind of a spec that does not load, from its own text (an `extends:` parent is not read)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return TRAIN
    if not isinstance(data, dict):
        return TRAIN
    split = data.get("split")
    if "sweep" in data:
        return SWEEP
    return KFOLD if isinstance(split, dict) and split.get("protocol") in CV_PROTOCOLS else TRAIN
