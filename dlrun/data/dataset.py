"""The in-memory dataset every source produces."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlrun.data.image_files import ImageFiles
from dlrun.data.table_stream import StreamedTable


@dataclass
class Dataset:
    """Features (a table with named columns, or an array of samples) and raw targets.

    Example:
        >>> ds = Dataset(pd.DataFrame({"a": [1, 2]}), {"y": np.array([0, 1])}, "toy")
        >>> ds.n_rows
        2
    """

    features: pd.DataFrame | np.ndarray | ImageFiles | StreamedTable
    targets: dict[str, np.ndarray]
    name: str
    source_test: np.ndarray | None = None      # rows of the source's own test part, if it has one
    class_names: dict[str, list[str]] = field(default_factory=dict)
    groups: np.ndarray | None = None           # group labels for group k-fold

    @property
    def n_rows(self) -> int:
        return len(self.features)

    @property
    def is_table(self) -> bool:
        return isinstance(self.features, pd.DataFrame)

    def file_list(self) -> dict:
        """For an image folder, {"files": each row's path relative to the folder} (for splits.json)."""
        return {"files": self.features.relative_paths()} if isinstance(self.features, ImageFiles) else {}

    def features_at(self, rows: np.ndarray):
        """The features of `rows` (a table keeps its row labels; files and arrays are indexed)."""
        return self.features.iloc[rows] if self.is_table else self.features[rows]

    def take(self, rows: np.ndarray) -> "Dataset":
        """The dataset restricted to `rows` (source test rows renumbered accordingly); a few rows of a
        streamed table (--smoke) are read into memory."""
        rows = np.asarray(rows)
        features = self.features_at(rows)
        if isinstance(features, StreamedTable):
            features = features.read()
        elif self.is_table:
            features = features.reset_index(drop=True)
        source_test = None
        if self.source_test is not None:
            position = {int(r): i for i, r in enumerate(rows)}
            source_test = np.array([position[int(r)] for r in self.source_test if int(r) in position], dtype=np.int64)
        return Dataset(features, {k: v[rows] for k, v in self.targets.items()}, self.name, source_test,
                       dict(self.class_names), None if self.groups is None else self.groups[rows])

    def fingerprint(self) -> str:
        """SHA-256 over feature and target contents: the same data gives the same print."""
        digest = hashlib.sha256()
        if isinstance(self.features, ImageFiles):
            digest.update(self.features.fingerprint_text().encode())
        elif isinstance(self.features, StreamedTable):  # the row hashes of the pass that opened it
            digest.update(",".join(self.features.columns).encode())
            digest.update(self.features.keys.tobytes())
        elif self.is_table:
            digest.update(",".join(map(str, self.features.columns)).encode())
            digest.update(pd.util.hash_pandas_object(self.features, index=False).values.tobytes())
        elif self.features.dtype == object:  # texts
            for text in self.features:
                digest.update(str(text).encode("utf-8") + b"\0")
        else:
            digest.update(f"{self.features.shape}{self.features.dtype}".encode())
            digest.update(memoryview(np.ascontiguousarray(self.features)).cast("B"))  # no copy when contiguous
        for name in sorted(self.targets):
            digest.update(name.encode())
            values = self.targets[name]
            if np.ndim(values) == 2:  # a multilabel 0/1 matrix
                digest.update(np.ascontiguousarray(values, dtype=np.float32).tobytes())
                continue
            digest.update(pd.util.hash_pandas_object(pd.Series(values), index=False).values.tobytes())
        return digest.hexdigest()
