"""Windows over a time-ordered table: views over the steps, never crossing a series, split in time
with gaps, preprocessing fitted on the training windows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlrun.data.feature_data import feature_data
from dlrun.errors import DataError, SpecError
from dlrun.spec import load_spec

SPEC = """
name: windows
seed: 3
data:
  source: csv:series.csv
  target: sales
  window: {time: date, lookback: 6, horizon: 3, season: 7}
model:
  layers:
    - Flatten: {}
    - Dense: {units: 3}
training: {epochs: 1}
split: {test: 0.2, validation: 0.2}
"""


def series_frame(days: int = 120, stores: tuple = (None,), seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for number, store in enumerate(stores):
        t = np.arange(days)
        sales = 100 + 10 * number + 0.5 * t + 5 * np.sin(2 * np.pi * t / 7) + rng.normal(size=days)
        frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=days).strftime("%Y-%m-%d"),
                              "sales": sales.round(3)})
        if store is not None:
            frame.insert(0, "store", store)
        frames.append(frame)
    both = pd.concat(frames, ignore_index=True)
    return both.sort_values(["date", *(["store"] if stores[0] is not None else [])], kind="stable") \
        .reset_index(drop=True)


def prepared_for(write_spec, frame: pd.DataFrame, *sets: str, spec: str = SPEC):
    from dlrun.protocols.stages import prepare

    path = write_spec(spec)
    frame.to_csv(path.parent / "series.csv", index=False)
    return prepare(load_spec(path, list(sets)))


def spans(windows, rows):
    """(series, first input step, last step used) of each window in `rows`."""
    return windows.series[rows], windows.first_steps()[rows], windows.ends[rows] + windows.horizon


def assert_clear(windows, earlier: np.ndarray, later: np.ndarray) -> None:
    """No window of `later` reads a step that a window of `earlier` used, in the same series."""
    for number in np.unique(windows.series):
        before = earlier[windows.series[earlier] == number]
        after = later[windows.series[later] == number]
        if len(before) and len(after):
            assert windows.first_steps()[after].min() > (windows.ends[before] + windows.horizon).max()


def test_a_window_gathers_its_lookback_steps_and_targets_the_next_horizon(write_spec):
    prepared = prepared_for(write_spec, series_frame(60))
    windows = feature_data(prepared.x).windows
    raw = feature_data(prepared.dataset.features).windows
    sales = series_frame(60)["sales"].to_numpy()
    first = int(np.argmin(raw.ends))
    assert raw.ends[first] == 5  # the first window reads steps 0..5
    assert np.allclose(raw.gather([first])[0, :, 0], sales[:6])
    assert np.allclose(prepared.dataset.targets["sales"][first], sales[6:9])
    assert windows.gather([first]).shape == (1, 6, 1) and windows.gather([first]).dtype == np.float32
    assert prepared.infos["features"].shape == (6, 1)


def test_windows_are_views_over_one_matrix_of_steps(write_spec):
    prepared = prepared_for(write_spec, series_frame(80))
    windows = feature_data(prepared.x).windows
    part = windows[prepared.splits.train]
    assert part.steps is windows.steps and windows.steps.shape == (80, 1)  # one row per step, not per window


def test_the_holdout_split_is_in_time_order_with_gaps(write_spec):
    prepared = prepared_for(write_spec, series_frame(120, stores=("a", "b")), "data.window.series=store")
    windows = feature_data(prepared.x).windows
    splits = prepared.splits
    assert_clear(windows, splits.train, splits.validation)
    assert_clear(windows, splits.validation, splits.test)
    assert_clear(windows, splits.train, splits.test)
    assert len(splits.train) and len(splits.validation) and len(splits.test)
    # the parts keep their sizes (per series: 20% of its 112 windows each); the gaps come out of train
    from dlrun.data.split import part_size

    per_series = int((windows.series == 0).sum())
    assert len(splits.test) == len(splits.validation) == 2 * part_size(per_series, 0.2)
    assert len(splits.train) == 2 * (per_series - 2 * part_size(per_series, 0.2) - 2 * (6 + 3 - 1))
    record = feature_data(prepared.x).split_record(splits)
    ranges = record["time_ranges"]
    assert ranges["train"][1] < ranges["validation"][0] < ranges["validation"][1] < ranges["test"][0]


def test_no_window_crosses_from_one_series_into_another(write_spec):
    frame = series_frame(50, stores=("a", "b", "c"))
    prepared = prepared_for(write_spec, frame, "data.window.series=store")
    raw = feature_data(prepared.dataset.features).windows
    ordered = raw.steps  # ordered by store, then date
    assert len(raw.names) == 3
    for number, name in enumerate(raw.names):
        rows = np.flatnonzero(raw.series == number)
        mine = np.flatnonzero(raw.series == number)
        steps_of_series = np.flatnonzero(np.repeat(np.arange(3), 50) == number)
        lo, hi = steps_of_series.min(), steps_of_series.max()
        assert raw.first_steps()[mine].min() >= lo and (raw.ends[mine] + raw.horizon).max() <= hi, name
        assert len(rows) == 50 - 6 - 3 + 1
    assert len(ordered) == 150
    # each window's targets are its own store's next days
    frame_sorted = frame.sort_values(["store", "date"], kind="stable").reset_index(drop=True)
    some = int(np.flatnonzero(raw.series == 2)[0])
    assert np.allclose(prepared.dataset.targets["sales"][some],
                       frame_sorted["sales"].to_numpy()[raw.ends[some] + 1:raw.ends[some] + 4])


def test_scaling_saw_only_the_training_windows_steps(write_spec):
    prepared = prepared_for(write_spec, series_frame(120))
    raw = feature_data(prepared.dataset.features).windows
    train = raw[prepared.splits.train]
    seen = raw.steps.iloc[train.covered()]["sales"].to_numpy()
    everything = raw.steps["sales"].to_numpy()
    transformed = feature_data(prepared.x).windows.steps[:, 0]
    # standard scaling: the training steps have mean 0 and std 1 after the transform, the whole series not
    scaled_seen = transformed[train.covered()]
    assert abs(scaled_seen.mean()) < 1e-5 and abs(scaled_seen.std() - 1) < 1e-3
    assert abs(transformed.mean()) > 0.1  # the trend carries later steps above the training mean
    assert train.covered().max() < len(everything) - 1 and len(seen) < len(everything)


def test_time_series_folds_keep_every_later_part_clear(write_spec):
    from dlrun.data.folds import fold_splits, held_out_test, make_folds

    spec = SPEC.replace("split: {test: 0.2, validation: 0.2}",
                        "split: {protocol: time_series, folds: 3, validation: 0.2, test: 0.2, final_model: true}")
    from dlrun.protocols.stages import load_resolved

    path = write_spec(spec)
    series_frame(150).to_csv(path.parent / "series.csv", index=False)
    resolved = load_resolved(load_spec(path))
    data, split = resolved.dataset.data, resolved.spec.split
    windows = data.windows
    cv_rows, test_rows = held_out_test(resolved.dataset.n_rows, split, 0, None, None)
    cv_rows = data.before(cv_rows, test_rows)
    assert_clear(windows, cv_rows, test_rows)
    for fold in make_folds(cv_rows, split, 0):
        splits = data.separated(fold_splits(fold, split, 0, None, None))
        assert_clear(windows, splits.train, splits.validation)
        assert_clear(windows, np.concatenate([splits.train, splits.validation]), splits.test)
        assert len(splits.test)


def bad_series(write_spec, frame: pd.DataFrame, *sets: str):
    with pytest.raises((DataError, SpecError)) as caught:
        prepared_for(write_spec, frame, *sets)
    return str(caught.value)


def test_unsorted_and_duplicate_times_name_the_column_and_row(write_spec):
    frame = series_frame(40)
    swapped = frame.copy()
    swapped.loc[[10, 11], "date"] = swapped.loc[[11, 10], "date"].to_numpy()
    message = bad_series(write_spec, swapped)
    assert "date" in message and "row 12" in message
    doubled = frame.copy()
    doubled.loc[11, "date"] = doubled.loc[10, "date"]
    message = bad_series(write_spec, doubled)
    assert "date" in message and "row 12" in message


def test_a_gap_in_time_needs_fill(write_spec):
    frame = series_frame(40).drop(index=[20, 21]).reset_index(drop=True)
    message = bad_series(write_spec, frame)
    assert "date" in message and "data.window.fill" in message
    prepared = prepared_for(write_spec, frame, "data.window.fill=interpolate")
    assert feature_data(prepared.dataset.features).windows.steps.shape[0] == 40


def test_too_short_a_series_and_horizon_0_are_refused(write_spec):
    message = bad_series(write_spec, series_frame(7))
    assert "needs at least 9" in message and "lookback 6" in message and "horizon 3" in message
    message = bad_series(write_spec, series_frame(40), "data.window.horizon=0")
    assert "horizon" in message


def test_a_class_label_window_needs_horizon_1(write_spec):
    frame = series_frame(40)
    frame["busy"] = np.where(frame["sales"] > frame["sales"].median(), "yes", "no")
    spec = SPEC.replace("target: sales", "target: busy").replace("Dense: {units: 3}", "Dense: {units: 2, activation: softmax}")
    with pytest.raises(DataError, match="horizon is 3, but target 'busy' is a class label"):
        prepared_for(write_spec, frame, spec=spec)
    prepared = prepared_for(write_spec, frame, "data.window.horizon=1", "data.features=[sales]", spec=spec)
    raw = feature_data(prepared.dataset.features).windows
    first = int(np.argmin(raw.ends))
    assert prepared.dataset.targets["busy"][first] == frame["busy"][raw.ends[first]]  # the label at the last step


def test_spec_checks_refuse_windows_where_they_cannot_work(write_spec):
    for sets, fragment in ((["split.protocol=kfold", "split.folds=3"], "time_series"),
                           (["data.streaming=true"], "streamed"),):
        path = write_spec(SPEC)
        with pytest.raises(SpecError) as caught:
            load_spec(path, sets)
        assert fragment in str(caught.value)
