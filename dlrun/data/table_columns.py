"""What every table source (CSV and Parquet, read whole or streamed) checks of its columns: the file
itself, the separator, the header, which columns the spec uses, and text where numbers belong. Each
failure is a DataError naming the file, column or row."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import numpy as np
import pandas as pd

from dlrun.errors import DataError
from dlrun.spec.catalog import suggest
from dlrun.spec.models import DataSpec


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError) as exc:
        raise DataError(f"data.source: '{str(path)[:120]}' cannot be used as a file name ({exc})") from None


def match_columns(patterns: list[str], columns: list[str], where: str, field: str) -> list[str]:
    """Expand names and '*' globs against the file's columns, keeping the file's order."""
    chosen: list[str] = []
    for pattern in patterns:
        hits = [c for c in columns if fnmatch.fnmatchcase(c, pattern)] if any(ch in pattern for ch in "*?[") else \
            ([pattern] if pattern in columns else [])
        if not hits:
            raise DataError(f"{where}: {field} names column '{pattern}', which is not there{suggest(pattern, columns)} "
                            f"(columns: {', '.join(columns[:15])}{', …' if len(columns) > 15 else ''})")
        chosen.extend(h for h in hits if h not in chosen)
    return [c for c in columns if c in chosen]


def require_file(path: Path) -> None:
    """A data file that is missing, a directory or a device is named as what it is."""
    if _is_file(path):
        return
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a data file (data.source names one file)")
    if path.exists():
        raise DataError(f"{path}: is not a regular file (a device, socket or pipe); data.source names a data file")
    raise DataError(f"{path}: data file not found (data.source paths are relative to the spec file's folder)")


DELIMITERS = ",;\t|"


def sniff_delimiter(path: Path) -> str:
    """The field separator of a CSV file, guessed from its first lines among , ; tab | (default ',')."""
    import csv

    try:
        with path.open(newline="", encoding="utf-8") as handle:
            head = "".join(line for _, line in zip(range(20), handle))
        return csv.Sniffer().sniff(head, delimiters=DELIMITERS).delimiter
    except (csv.Error, UnicodeDecodeError):
        return ","


def check_header(path: Path, delimiter: str) -> list[str]:
    """The header's column names; a name given twice is refused (pandas would quietly rename one)."""
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle, delimiter=delimiter), [])
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(f"{path}: column '{name}' appears more than once in the header; "
                            f"give each column its own name")
        seen.add(name)
    return header


def needed_columns(spec: DataSpec, columns: list[str], where: str, group: str | None) -> list[str]:
    """The columns the spec uses (targets, group, features), in the table's order; a name that is
    not there is a DataError naming it."""
    targets = spec.targets()
    if not targets:
        raise DataError(f"{where}: data.target is required for a table source — name the column to predict "
                        f"(columns: {', '.join(columns[:15])})")
    for target in targets:
        if target not in columns:
            raise DataError(f"{where}: data.target names column '{target}', which is not there"
                            f"{suggest(target, columns)}{_other_delimiter(columns)}")
    reserved = set(targets) | ({group} if group else set())
    if spec.window is not None:  # the time and series columns order the rows into windows
        reserved |= {c for c in (spec.window.time, spec.window.series) if c and c in columns}
    if group and group not in columns:
        raise DataError(f"{where}: split.group names column '{group}', which is not there{suggest(group, columns)}")
    if spec.features:
        feature_cols = [c for c in match_columns(spec.features, columns, where, "data.features") if c not in reserved]
    else:
        feature_cols = [c for c in columns if c not in reserved]
    if not feature_cols:
        raise DataError(f"{where}: no feature columns left once the target is set aside")
    for field, names in (("data.categorical", spec.categorical), ("data.passthrough", spec.passthrough)):
        for name in names:
            if name not in feature_cols and not any(fnmatch.fnmatchcase(c, name) for c in feature_cols):
                raise DataError(f"{where}: {field} names column '{name}', which is not a feature column"
                                f"{suggest(name, feature_cols)}")
    return [c for c in columns if c in reserved or c in feature_cols]


def check_numeric(features: pd.DataFrame, spec: DataSpec, path: Path, file_lines: bool = True, first_row: int = 0) -> None:
    """A text column that is not declared categorical is a mistake worth naming exactly (`first_row`: the
    table row of the frame's first row, when the table is read in chunks)."""
    declared = set()
    for pattern in spec.categorical:
        declared.update(c for c in features.columns if fnmatch.fnmatchcase(c, pattern))
    for column in features.columns:
        if column in declared or pd.api.types.is_numeric_dtype(features[column]):
            continue
        converted = pd.to_numeric(features[column], errors="coerce")
        bad = features[column].notna() & converted.isna()
        if bad.any():
            at = int(np.flatnonzero(bad.to_numpy())[0])
            row = at + first_row
            raise DataError(f"{path}: column '{column}' holds text (e.g. {features[column].iloc[at]!r} on data row "
                            f"{row + 1}{f', file line {row + 2}' if file_lines else ''}) but is not listed in data.categorical — add it there "
                            f"to one-hot encode it" + (" (passthrough columns must hold numbers)"
                                                       if column in _passthrough(spec, features) else ""))
        features[column] = converted


def _passthrough(spec: DataSpec, features: pd.DataFrame) -> set[str]:
    return {c for c in features.columns for p in spec.passthrough if fnmatch.fnmatchcase(c, p)}


def _other_delimiter(columns: list[str]) -> str:
    """When the header was read as one field holding another separator: which one the file seems to use."""
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
    for mark, name in names.items():
        if len(columns) == 1 and mark in columns[0]:
            shown = "\\t" if mark == "\t" else mark
            return f"; the file seems to separate fields with a {name} — set data.delimiter: \"{shown}\""
    return ""


def check_finite(values: np.ndarray, where: str, columns: list[str] | None, first_row: int = 0) -> None:
    """Infinite feature values would only surface as a diverged loss: name them instead (`first_row`: the
    table row of the first row of `values`, when the table is read in chunks)."""
    if values.dtype.kind != "f":
        return
    bad = np.isinf(values)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        what = f"column '{columns[col]}'" if columns else f"feature {col}"
        raise DataError(f"{where}: {what} holds an infinite value on data row {first_row + row + 1}; replace it or "
                        f"drop the row")
