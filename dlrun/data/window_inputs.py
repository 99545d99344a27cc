"""The raw input of a window run's exported model (data.window): one window of the raw input columns,
shape (lookback, columns), float32, named `window`; the fitted table preprocessing (data/preprocess.py:
fitted on the training windows' steps) runs on every step of it in the graph — the missing values
imputed and each numeric column scaled by its own fitted centre and spread, passthrough columns left
as they are. A categorical input column in windows is refused for export.

`run_inputs(pre, window)` answers for any saved run: these inputs for a window run, the per-kind ones
of data/saved_inputs.py for every other.

Example:
    >>> from types import SimpleNamespace
    >>> pre = SimpleNamespace(columns=["sales", "price"], categories={})
    >>> run_inputs(pre, SimpleNamespace(lookback=14)).sample_shape(None)
    [14, 2]
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from dlrun.data.saved_inputs import ArrayInputs, RawInput, _numeric, saved_inputs
from dlrun.errors import UserError

WINDOW_INPUT = "window"


class WindowInputs(ArrayInputs):
    """A window over the steps of a table: the input columns of `lookback` steps, oldest first."""

    def __init__(self, pre, window):
        super().__init__(pre)
        self.window = window

    def sample_shape(self, features) -> list[int]:
        return [self.window.lookback, len(self.pre.columns)]

    def read_new(self, paths: list[Path], checked: Callable, array_key: str):
        raise NotImplementedError("a window run's new rows are read by data/window_rows.py")

    def raw_inputs(self, sample_shape: list[int], strings: bool) -> list[RawInput]:
        categorical = [c for c in self.pre.columns if c in self.pre.categories]
        if categorical:
            raise UserError(f"export of a window run with categorical input column(s) ({', '.join(categorical)}) "
                            f"is not supported yet: its window input takes numbers only; code the categories as "
                            f"numbers (data.passthrough) to export it")
        return [RawInput(WINDOW_INPUT, None, "window", "float32", list(sample_shape), columns=list(self.pre.columns))]

    def raw_feed(self, inputs: list[RawInput], features) -> dict[str, np.ndarray]:
        """`features`: raw windows (data/windows.py SeriesWindows), gathered as (windows, lookback, columns)."""
        return {inputs[0].name: np.asarray(features.gather(), dtype=np.float32)}

    def graph_features(self, keras, tensors: dict, inputs: list[RawInput]):
        """Each column imputed and scaled as the fitted table preprocessing does, on every step."""
        pre = self.pre
        fill, center, spread = [], [], []
        for column in pre.columns:
            if column in pre.numeric:
                i = pre.numeric.index(column)
                fill.append(pre.fill[i] if pre.fill else np.nan)
                center.append(pre.center[i] if pre.center else 0.0)
                spread.append(pre.spread[i] if pre.spread else 1.0)
            else:  # passthrough: as it is (a gap stays a gap, as in the table transform)
                fill.append(np.nan)
                center.append(0.0)
                spread.append(1.0)
        values = keras.ops.cast(tensors[inputs[0].name], "float32")
        return _numeric(keras, values, pre, fill, center, spread)


def run_inputs(pre, window) -> ArrayInputs:
    """How new rows reach a saved run's model: a window (`window`: its data.window) or, without one, the
    per-kind inputs of data/saved_inputs.py."""
    return saved_inputs(pre) if window is None else WindowInputs(pre, window)
