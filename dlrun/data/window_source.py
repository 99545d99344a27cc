"""A table read into windows (data.window): the rows put in time order per series
(data/time_index.py), the input columns of each step chosen, and each window's target — the next
`horizon` steps of the target(s) when forecasting, the label at its last step when classifying."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlrun.data.windows import SeriesWindows, time_order, window_ends
from dlrun.errors import DataError


def window_inputs(spec, columns: list[str], forecasting: bool, where: str) -> list[str]:
    """The input columns of each step: forecasting — the target(s) and data.features (past
    covariates); classification — data.features, or every column but the time, series and label."""
    from dlrun.data.table_columns import match_columns

    window, targets = spec.window, spec.targets()
    reserved = set(targets) | {c for c in (window.time, window.series) if c}
    chosen = [c for c in match_columns(spec.features, columns, where, "data.features") if c not in reserved] \
        if spec.features else ([] if forecasting else [c for c in columns if c not in reserved])
    inputs = (list(targets) if forecasting else []) + chosen
    if not inputs:
        raise DataError(f"{where}: no input columns for the windows; name them in data.features")
    return inputs


def is_forecast(spec, frame: pd.DataFrame) -> bool:
    """Forecasting when the target is a regression one (declared, or inferred from its values)."""
    from dlrun.data.targets import infer_task

    if spec.task != "auto":
        return spec.task == "regression"
    return all(infer_task(frame[t]) == "regression" for t in spec.targets())


def windowed_dataset(spec, frame: pd.DataFrame, name: str):
    """A Dataset whose rows are windows over `frame` (data.window), its targets per window."""
    from dlrun.data.dataset import Dataset
    from dlrun.data.table_columns import check_numeric
    from dlrun.data.time_index import order_series

    window = spec.window
    for column, what in ((window.time, "time"), (window.series, "series")):
        if column is not None and column not in frame.columns:
            from dlrun.spec.catalog import suggest

            raise DataError(f"{name}: data.window.{what} names column '{column}', which is not there"
                            f"{suggest(column, list(frame.columns))}")
    forecasting = is_forecast(spec, frame)
    if not forecasting and window.horizon != 1:
        raise DataError(f"{name}: data.window.horizon is {window.horizon}, but target "
                        f"'{spec.targets()[0]}' is a class label: a window is classified by the label at its last "
                        f"step — leave horizon at 1, or set data.task: regression to forecast numbers")
    labels = () if forecasting else spec.targets()  # class labels are carried forward into a filled step
    ordered = order_series(frame, window.time, window.series, window.fill, name, forward_columns=labels)
    table = ordered.frame
    inputs = window_inputs(spec, list(table.columns), forecasting, name)
    steps = table[inputs].copy()
    check_numeric(steps, spec, name, file_lines=False)
    ends, series = window_ends(ordered.starts, ordered.stops, window, forecasting, name, ordered.names)
    ahead = np.arange(1, window.horizon + 1)
    targets, target_steps = {}, {}
    for target in spec.targets():
        values = table[target].to_numpy()
        if forecasting:
            target_steps[target] = values.astype(np.float64)
            targets[target] = values[ends[:, None] + ahead].astype(np.float64)
        else:
            targets[target] = values[ends]
    windows = SeriesWindows(steps, ends, window.lookback, window.sampling_rate, window.horizon if forecasting else 0,
                            series, np.asarray(ordered.times), list(ordered.names), target_steps, ordered.step)
    order = time_order(windows, ordered.starts, window.time is not None)
    return Dataset(windows[order], {t: values[order] for t, values in targets.items()}, name)
