"""What `dlrun validate` can learn from a glance at the data, without loading it or building a model.

The spec alone cannot tell whether several target columns feeding a Sequential model are one
multilabel target (all 0/1) or several targets (which a Sequential model cannot have): the first
rows can, in one direction — a value other than 0 and 1 settles it. A bundled data set with
several targets (sklearn:linnerud) is known by name. Anything that cannot be read here is left to
`train` and `validate --build`, which read the whole data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlrun.spec.load import LoadedSpec

PEEK_ROWS = 1_000
SKLEARN_TARGETS = {"linnerud": ["Weight", "Waist", "Pulse"]}


def target_problems_from_data(loaded: LoadedSpec) -> list[tuple[tuple, str]]:
    """Problems located in the spec that the first rows of the data (or a bundled set's known
    targets) show; [] when nothing can be told this way."""
    spec = loaded.spec
    data = spec.data
    if spec.model.is_graph or data.task not in ("auto", "regression", "binary", "multiclass"):
        return []
    targets = data.targets() or SKLEARN_TARGETS.get(data.location if data.scheme == "sklearn" else "", [])
    if len(targets) < 2:
        return []
    if data.scheme == "sklearn":
        return [_sequential_problem(targets, "the data set has several targets")]
    if data.task != "auto" or data.label_separator is not None:
        return []  # an explicit task: the spec checks already refused several targets
    found = _first_non_binary(loaded, targets)
    if found is None:
        return []
    column, value = found
    return [_sequential_problem(targets, f"'{column}' holds {value!r}, not only 0/1, so they are not the labels "
                                         f"of one multilabel target")]


def _sequential_problem(targets: list[str], why: str) -> tuple[tuple, str]:
    return (("model", "layers"), f"a Sequential model has one output but there are {len(targets)} targets "
                                 f"({', '.join(targets)}): {why}; use a graph model with one output per target")


def _first_non_binary(loaded: LoadedSpec, columns: list[str]) -> tuple[str, object] | None:
    """(column, value) of the first value other than 0 and 1 in the first rows of the target
    columns of a CSV or single Parquet file; None when all are 0/1 or the file cannot be read."""
    frame = _first_rows(loaded, columns)
    if frame is None:
        return None
    for column in columns:
        values = frame[column].dropna().to_numpy()
        odd = [v for v in values if not (isinstance(v, (int, float, np.number, bool)) and v in (0, 1))]
        if odd:
            value = odd[0]
            return column, value.item() if hasattr(value, "item") else value
    return None


def _first_rows(loaded: LoadedSpec, columns: list[str]):
    import pandas as pd

    from dlrun.data.sources import resolve_path

    data = loaded.spec.data
    try:
        path = Path(resolve_path(data.location, loaded.base_dir))
        if data.scheme == "csv" and path.is_file():
            return pd.read_csv(path, usecols=columns, nrows=PEEK_ROWS, sep=data.delimiter or None, engine="python")
        if data.scheme == "parquet" and path.is_file():
            import pyarrow.parquet as pq

            batch = next(pq.ParquetFile(path).iter_batches(batch_size=PEEK_ROWS, columns=columns), None)
            return None if batch is None else batch.to_pandas()
    except Exception:  # noqa: BLE001 - a glance only: whatever fails here, train reads the data and says why
        return None
    return None


def check_targets_against_data(loaded: LoadedSpec) -> LoadedSpec:
    """The loaded spec, or a located spec error for what the data's first rows show."""
    found = target_problems_from_data(loaded)
    if found:
        raise loaded.error(found)
    return loaded
