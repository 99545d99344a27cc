"""`source: parquet:PATH` on real Parquet files the tests write: one file or a glob, only the columns the
spec uses read, train / k-fold / evaluate / predict on them, and each bad input named with its file."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from dlrun.data.parquet import read_parquet
from dlrun.data.sources import load_dataset
from dlrun.errors import DataError, SpecError
from dlrun.spec import load_spec
from dlrun.spec.models import DataSpec
from tests.inference.samples import shop_frame
from tests.support import only_problem, write_dedented

SHOP_PARQUET = """
name: shop-parquet
seed: 8
data: {source: "parquet:orders/part-*.parquet", target: label, features: [weight, price, color],
       categorical: [color]}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 2, activation: softmax}
training: {epochs: 2, batch_size: 16}
"""


def write_orders(folder, parts: int = 2, rows: int = 60):
    """`parts` Parquet files of shop orders, each with a wide text column the spec never uses."""
    (folder / "orders").mkdir(parents=True, exist_ok=True)
    frames = []
    for i in range(parts):
        frame = shop_frame(n=rows, seed=i)
        frame["notes"] = [f"order {i}-{r}: left at the door" for r in range(rows)]  # text, not a feature
        frame.to_parquet(folder / "orders" / f"part-{i}.parquet", index=False)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_a_glob_of_files_is_one_table_of_only_the_columns_the_spec_uses(tmp_path):
    expected = write_orders(tmp_path, parts=3)
    spec = DataSpec(source="parquet:orders/part-*.parquet", target="label", features=["weight", "price", "color"],
                    categorical=["color"])
    dataset = load_dataset(spec, tmp_path)
    assert dataset.name == "parquet:part-*.parquet" and dataset.n_rows == 180
    assert list(dataset.features.columns) == ["weight", "price", "color"]
    assert np.allclose(dataset.features["price"].to_numpy(), expected["price"].to_numpy())
    assert list(dataset.targets["label"]) == list(expected["label"])


def test_read_parquet_asks_for_the_columns_it_needs(tmp_path):
    write_orders(tmp_path, parts=1)
    seen = []
    frame = read_parquet(tmp_path / "orders" / "part-0.parquet", lambda names: seen.append(names) or ["price"])
    assert seen == [["weight", "price", "color", "label", "notes"]] and list(frame.columns) == ["price"]


def test_train_kfold_evaluate_and_predict_on_parquet(tmp_path, trained_run):
    from dlrun.inference.evaluate import evaluate
    from dlrun.inference.predict import predict
    from dlrun.protocols.kfold import kfold

    write_orders(tmp_path)
    spec = write_dedented(tmp_path / "spec.yaml", SHOP_PARQUET)
    run = trained_run(spec).run
    assert run.read_info()["status"] == "completed"
    new = shop_frame(n=15, seed=5)
    new.to_parquet(tmp_path / "new.parquet", index=False)
    result = evaluate(run, data=tmp_path / "new.parquet")
    assert result.document["data"]["label"]["n"] == 15 if "label" in result.document["data"] else \
        result.document["data"]["n"] == 15
    table = predict(run, tmp_path / "new.parquet")
    assert len(table) == 15 and set(table["label_predicted"]) <= {"kept", "returned"}
    folds = kfold(load_spec(spec, [f"output.runs_dir={tmp_path / 'folds'}", "split.protocol=stratified_kfold",
                                   "split.folds=3"]))
    assert folds.run.read_info()["status"] == "completed"


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "orders").mkdir(), "no file matches this pattern"),
    (lambda d: write_orders(d, parts=1) is None or (d / "orders" / "part-1.parquet").write_bytes(b"PAR1 not really"),
     "part-1.parquet: not a readable Parquet file"),
    (lambda d: write_orders(d, parts=1) is None or shop_frame(n=5).drop(columns=["price"]).to_parquet(
        d / "orders" / "part-1.parquet"), "part-1.parquet: lacks column(s) price, which part-0.parquet has and the spec uses"),
])
def test_bad_parquet_sources_name_the_file(tmp_path, make, message):
    make(tmp_path)
    spec = DataSpec(source="parquet:orders/part-*.parquet", target="label", features=["weight", "price", "color"],
                    categorical=["color"])
    with pytest.raises(DataError) as excinfo:
        load_dataset(spec, tmp_path)
    assert message in str(excinfo.value)


def test_files_are_read_in_natural_order_and_a_saved_index_is_a_column(tmp_path):
    (tmp_path / "parts").mkdir()
    for part in (10, 2, 1):
        frame = pd.DataFrame({"site": [f"s{part}"], "x": [float(part)], "y": [part % 2]}).set_index("site")
        frame.to_parquet(tmp_path / "parts" / f"part-{part}.parquet")
    dataset = load_dataset(DataSpec(source="parquet:parts/part-*.parquet", target="y"), tmp_path, group="site")
    assert dataset.features["x"].tolist() == [1.0, 2.0, 10.0]  # part-2 before part-10
    assert list(dataset.groups) == ["s1", "s2", "s10"] and list(dataset.features.columns) == ["x"]


def test_a_missing_column_is_named_with_a_suggestion(tmp_path):
    write_orders(tmp_path, parts=1)
    spec = DataSpec(source="parquet:orders/part-0.parquet", target="lable")
    with pytest.raises(DataError, match="data.target names column 'lable', which is not there — did you mean 'label'"):
        load_dataset(spec, tmp_path)


def test_without_pyarrow_the_spec_is_refused_at_the_source_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    spec = write_dedented(tmp_path / "spec.yaml", SHOP_PARQUET)
    with pytest.raises(SpecError) as excinfo:
        load_spec(spec)
    problem = only_problem(excinfo)
    assert problem.path == "data.source" and problem.line == 3 and 'pip install "dlrun[parquet]"' in problem.message
