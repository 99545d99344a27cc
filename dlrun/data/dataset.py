"""The in-memory dataset every source produces."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlrun.data.feature_data import feature_data
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

    @property
    def data(self):
        """The features behind the one interface every kind answers (data/feature_data.py)."""
        return feature_data(self.features)

    def file_list(self) -> dict:
        """For an image folder, {"files": each row's path relative to the folder} (for splits.json)."""
        return self.data.saved_file_list()

    def features_at(self, rows: np.ndarray):
        """The features of `rows` (a table keeps its row labels; files and arrays are indexed)."""
        return self.data.take(rows)

    def take(self, rows: np.ndarray) -> "Dataset":
        """The dataset restricted to `rows` (source test rows renumbered accordingly); a few rows of a
        streamed table (--smoke) are read into memory."""
        rows = np.asarray(rows)
        features = feature_data(self.features_at(rows)).held()
        if isinstance(features, pd.DataFrame):
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
        self.data.fingerprint(digest)
        for name in sorted(self.targets):
            digest.update(name.encode())
            values = self.targets[name]
            if np.ndim(values) == 2:  # a multilabel 0/1 matrix
                digest.update(np.ascontiguousarray(values, dtype=np.float32).tobytes())
                continue
            digest.update(pd.util.hash_pandas_object(pd.Series(values), index=False).values.tobytes())
        return digest.hexdigest()
