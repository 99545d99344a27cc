"""prepare(): load, resolve task defaults, split, and fit preprocessing on the training rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, load_iris

from dlrun.errors import SpecError
from dlrun.data.prepare import SMOKE_ROWS
from dlrun.protocols.stages import prepare
from dlrun.spec.load import load_spec


def assert_partition(splits, n: int) -> None:
    together = np.concatenate([splits.train, splits.validation, splits.test]).tolist()
    assert sorted(together) == list(range(n))


def test_iris_scaling_statistics_are_those_of_the_training_rows(write_spec):
    path = write_spec("""
        seed: 3
        data: {source: "sklearn:iris", scale: standard}
        split: {test: 0.2, validation: 0.2}
        model:
          layers:
            - Dense: {units: 3}
    """)
    prepared = prepare(load_spec(path))
    frame = load_iris(as_frame=True).frame.drop(columns=["target"])
    train = frame.iloc[prepared.splits.train].to_numpy(dtype=np.float64)
    assert prepared.splits.sizes() == {"train": 90, "validation": 30, "test": 30}
    assert_partition(prepared.splits, 150)
    np.testing.assert_allclose(prepared.preprocessor.center, train.mean(axis=0))
    np.testing.assert_allclose(prepared.preprocessor.spread, train.std(axis=0))
    # and not those of every row
    assert not np.allclose(prepared.preprocessor.center, frame.to_numpy().mean(axis=0))
    np.testing.assert_allclose(prepared.x[prepared.splits.train].mean(axis=0), 0.0, atol=1e-5)
    assert prepared.x.shape == (150, 4)
    assert prepared.targets["target"].task == "multiclass"
    assert prepared.spec.loss == "sparse_categorical_crossentropy"


def test_iris_split_is_stratified_by_default(write_spec):
    path = write_spec("""
        data: {source: "sklearn:iris"}
        model: {layers: [{Dense: {units: 3}}]}
    """)
    prepared = prepare(load_spec(path))
    y = prepared.y
    for part in ("train", "validation", "test"):
        counts = np.bincount(y[getattr(prepared.splits, part)], minlength=3)
        assert counts.max() - counts.min() <= 1


CSV = """\
size,rooms,city,price
50,2,north,100.5
80,3,south,160.0
65,2,north,130.25
,4,east,210.0
120,5,south,240.0
45,1,north,90.0
70,3,east,150.0
95,4,south,190.0
60,2,north,125.0
10000,9,west,999.0
"""


def test_csv_statistics_come_from_training_rows_and_the_test_outlier_is_left_out(write_spec, tmp_path):
    (tmp_path / "houses.csv").write_text(CSV, encoding="utf-8")
    path = write_spec("""
        data:
          source: csv:houses.csv
          target: price
          categorical: [city]
          scale: minmax
          impute: median
        split: {test: 0.1, validation: 0.2, shuffle: false}
        model: {layers: [{Dense: {units: 1}}]}
    """)
    prepared = prepare(load_spec(path))
    raw = pd.read_csv(tmp_path / "houses.csv")
    assert prepared.splits.train.tolist() == list(range(7))
    assert prepared.splits.validation.tolist() == [7, 8]
    assert prepared.splits.test.tolist() == [9]          # the planted outlier row
    train = raw.iloc[:7]
    pre = prepared.preprocessor
    assert pre.numeric == ["size", "rooms"]
    size_fill = float(train["size"].median())             # median of the 6 known training sizes
    sizes = train["size"].fillna(size_fill)
    assert pre.fill == pytest.approx([size_fill, float(train["rooms"].median())])
    assert pre.center == pytest.approx([sizes.min(), train["rooms"].min()])
    assert pre.spread == pytest.approx([sizes.max() - sizes.min(), train["rooms"].max() - train["rooms"].min()])
    assert pre.categories == {"city": ["east", "north", "south"]}   # 'west' is only in the test row
    assert prepared.targets["price"].task == "regression"
    assert prepared.x.shape == (10, 5)
    assert prepared.x[9, 2:].tolist() == [0.0, 0.0, 0.0]        # unseen city
    assert prepared.x[3, 0] == pytest.approx((size_fill - sizes.min()) / (sizes.max() - sizes.min()))
    np.testing.assert_allclose(prepared.y[:, 0], raw["price"].to_numpy(), rtol=1e-6)


def test_smoke_keeps_at_most_240_rows_of_digits(write_spec):
    path = write_spec("""
        data: {source: "sklearn:digits"}
        model: {layers: [{Dense: {units: 10}}]}
    """)
    prepared = prepare(load_spec(path), smoke=True)
    assert SMOKE_ROWS == 240
    assert prepared.dataset.n_rows <= 240
    assert len(prepared.x) == prepared.dataset.n_rows
    assert_partition(prepared.splits, prepared.dataset.n_rows)
    # every digit is still there (the sample is stratified)
    assert set(prepared.y.tolist()) == set(range(10))
    # the rows are real digits rows
    full = load_digits(as_frame=True).frame.drop(columns=["target"])
    first = prepared.dataset.features.iloc[0].to_numpy()
    assert (full.to_numpy() == first).all(axis=1).any()


def test_without_smoke_digits_keeps_every_row(write_spec):
    path = write_spec("""
        data: {source: "sklearn:digits", reshape: [8, 8, 1]}
        model: {layers: [{Flatten: {}}, {Dense: {units: 10}}]}
    """)
    prepared = prepare(load_spec(path))
    assert prepared.dataset.n_rows == 1797
    assert prepared.x.shape == (1797, 8, 8, 1)
    assert prepared.infos["features"].shape == (8, 8, 1)


@pytest.mark.parametrize("protocol", ["kfold", "stratified_kfold"])
def test_kfold_protocol_is_a_spec_error_at_split_protocol(write_spec, protocol):
    path = write_spec(f"""
        data: {{source: "sklearn:iris"}}
        split:
          protocol: {protocol}
        model: {{layers: [{{Dense: {{units: 3}}}}]}}
    """)
    with pytest.raises(SpecError) as err:
        prepare(load_spec(path))
    (problem,) = err.value.problems
    assert problem.path == "split.protocol"
    assert (problem.file, problem.line) == (str(path), 3)
    assert f"{path}:3:" in str(err.value)
    assert "dlrun kfold" in str(err.value) and "holdout" in str(err.value)
