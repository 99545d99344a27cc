"""`data.streaming: true` on real CSV and Parquet files the tests write: the scan keeps what a whole read
gives (targets, rows, missing cells, the same located errors), the statistics of one pass equal the
in-memory ones, the batches hold every training row once per epoch in an order of (seed, epoch) alone,
and train / evaluate / predict / --smoke / resume run on a streamed table as on one read whole."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from dlrun.data import table_scan, table_stream
from dlrun.data.preprocess import FeaturePreprocessor
from dlrun.data.sources import load_dataset
from dlrun.data.split import Splits
from dlrun.errors import DataError, SpecError
from dlrun.spec import load_spec
from dlrun.spec.models import DataSpec
from tests.inference.samples import shop_frame
from tests.support import killed_after_epochs, only_problem, write_dedented

STREAMED = """
name: shop-streamed
seed: 8
data: {source: "SOURCE", target: label, categorical: [color], streaming: true, impute: IMPUTE}
split: {test: 0.2, validation: 0.2}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 2, activation: softmax}
training: {epochs: EPOCHS, batch_size: 16}
"""


def streamed_spec(folder, source="csv:orders.csv", epochs=2, impute="median"):
    text = STREAMED.replace("SOURCE", source).replace("EPOCHS", str(epochs)).replace("IMPUTE", impute)
    return write_dedented(folder / "spec.yaml", text)


def write_orders(folder, rows=300, seed=0) -> pd.DataFrame:
    frame = shop_frame(n=rows, seed=seed)
    frame.to_csv(folder / "orders.csv", index=False)
    frame.to_parquet(folder / "orders.parquet", index=False, row_group_size=64)
    return frame


def data_spec(source="csv:orders.csv", streaming=True, **more) -> DataSpec:
    return DataSpec(source=source, target="label", categorical=["color"], streaming=streaming, **more)


@pytest.fixture
def small_chunks(monkeypatch):
    """CSV chunks of 40 rows and shuffle windows of 100, so a few hundred rows cross every boundary."""
    monkeypatch.setattr(table_scan, "CHUNK_ROWS", 40)
    monkeypatch.setattr(table_stream, "WINDOW_ROWS", 100)


@pytest.mark.parametrize("source", ["csv:orders.csv", "parquet:orders.parquet"])
def test_the_scan_keeps_what_a_whole_read_gives(tmp_path, small_chunks, source):
    expected = write_orders(tmp_path)
    streamed = load_dataset(data_spec(source), tmp_path)
    whole = load_dataset(data_spec(source, streaming=False), tmp_path)
    table = streamed.features
    assert isinstance(table, table_stream.StreamedTable) and len(table.bounds) > 4
    assert streamed.n_rows == whole.n_rows == len(expected)
    assert list(streamed.targets["label"]) == list(whole.targets["label"])
    assert table.columns == ["weight", "price", "color"]
    assert table.missing_counts() == {c: int(n) for c, n in whole.features.isna().sum().items() if n}
    pd.testing.assert_frame_equal(table[np.arange(35, 90)].read(), whole.features.iloc[35:90].reset_index(drop=True),
                                  check_dtype=False)


def test_statistics_of_one_pass_equal_the_in_memory_ones(tmp_path, small_chunks):
    write_orders(tmp_path, rows=400)
    train = np.sort(np.random.default_rng(1).choice(400, 250, replace=False))
    for impute in ("mean", "median", "most_frequent", "none"):
        for scale in ("standard", "minmax", "none"):
            streamed = load_dataset(data_spec(impute=impute, scale=scale), tmp_path)
            whole = load_dataset(data_spec(streaming=False, impute=impute, scale=scale), tmp_path)
            spec = data_spec(impute=impute, scale=scale)
            fitted = FeaturePreprocessor.fit(streamed.features[train], spec)
            reference = FeaturePreprocessor.fit(whole.features.iloc[train], spec)
            for name in ("fill", "center", "spread"):
                assert np.allclose(getattr(fitted, name), getattr(reference, name), rtol=1e-12, atol=1e-12), \
                    (impute, scale, name)
            assert fitted.categories == reference.categories and fitted.missing_seen == reference.missing_seen
            assert fitted.output_origin == reference.output_origin


def test_batches_hold_every_row_once_per_epoch_in_an_order_of_seed_and_epoch(tmp_path, small_chunks):
    write_orders(tmp_path)
    dataset = load_dataset(data_spec(), tmp_path)
    whole = load_dataset(data_spec(streaming=False), tmp_path)
    rows = np.sort(np.random.default_rng(2).choice(300, 210, replace=False))
    pre = FeaturePreprocessor.fit(dataset.features[rows], data_spec())
    part = pre.transform(dataset.features)[rows]
    y = np.arange(len(rows))  # each row's position, to see which rows came

    def epochs(start=0):
        return [(x, order) for x, order in part.batches(y, 32, True, seed=5, epochs=3, start_epoch=start)]

    batches = epochs()
    assert [len(o) for _, o in batches] == [32] * 6 + [18] + [32] * 6 + [18] + [32] * 6 + [18]
    first, second = np.concatenate([o for _, o in batches[:7]]), np.concatenate([o for _, o in batches[7:14]])
    assert sorted(first) == sorted(second) == list(range(210)) and list(first) != list(second)
    assert list(first) != list(range(210))  # shuffled across chunk boundaries
    again = epochs(start=1)  # a resumed run sees the same batches
    assert all(np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0]) for a, b in zip(batches[7:], again))
    expected = pre.transform(whole.features.iloc[rows[first]])
    assert np.allclose(np.concatenate([x for x, _ in batches[:7]]), expected, atol=1e-6)


def test_large_splits_are_written_compactly_and_read_back(tmp_path):
    rng = np.random.default_rng(0)
    order = rng.permutation(250_000)
    splits = Splits(np.sort(order[:150_000]), np.sort(order[150_000:200_000]), np.sort(order[200_000:]))
    data = json.loads(json.dumps(splits.to_json()))
    assert list(data) == ["part_of_row"] and len(data["part_of_row"]["data"]) < 200_000
    back = Splits.from_json(data)
    assert all(np.array_equal(getattr(back, p), getattr(splits, p)) for p in ("train", "validation", "test"))


@pytest.mark.parametrize("source", ["csv:orders.csv", "parquet:orders.parquet"])
def test_train_evaluate_and_predict_on_a_streamed_table_match_a_whole_read(tmp_path, trained_run, source):
    from dlrun.inference.evaluate import evaluate
    from dlrun.inference.predict import predict

    write_orders(tmp_path)
    streamed = trained_run(streamed_spec(tmp_path, source)).run
    whole = trained_run(streamed_spec(tmp_path, source), "data.streaming=false").run
    for name in ("splits.json", "preprocessing.json"):
        a, b = (json.loads((r.path / name).read_text()) for r in (streamed, whole))
        assert _close(a, b), name
    metrics = [json.loads((r.path / "metrics.json").read_text()) for r in (streamed, whole)]
    assert metrics[0]["audit"] == metrics[1]["audit"]
    assert metrics[0]["split"] == metrics[1]["split"]
    result = evaluate(streamed)
    assert result.document["test"] == metrics[0]["test"]  # the same model on the same rows, read again
    new = shop_frame(n=12, seed=9).drop(columns=["label"])
    new.to_csv(tmp_path / "new.csv", index=False)
    table = predict(streamed, tmp_path / "new.csv")
    assert len(table) == 12 and set(table["label_predicted"]) <= {"kept", "returned"}


def _close(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and a and isinstance(a[0], float):
        return np.allclose(a, b, rtol=1e-12, atol=1e-12)
    return a == b


def test_a_duplicate_of_a_training_row_is_flagged_as_leakage(tmp_path, trained_run, small_chunks):
    frame = shop_frame(n=200, seed=3)
    frame = pd.concat([frame, frame.iloc[:40]], ignore_index=True)  # 40 rows twice
    frame.to_csv(tmp_path / "orders.csv", index=False)
    run = trained_run(streamed_spec(tmp_path, epochs=1)).run
    audit = json.loads((run.path / "metrics.json").read_text())["audit"]
    assert sum(audit["duplicates_shared_with_train"].values()) > 0
    assert any(f.startswith("leakage:") for f in audit["flags"])


def test_smoke_reads_its_sample_into_memory(tmp_path, trained_run):
    write_orders(tmp_path, rows=400)
    result = trained_run(streamed_spec(tmp_path, epochs=1), smoke=True)
    splits = json.loads((result.run.path / "splits.json").read_text())
    assert result.status == "completed" and len(splits["sample"]) == 240


@pytest.mark.parametrize("damage, message", [
    (lambda text: text.replace("\n", "\n\n", 1), "no blank lines"),
    (lambda text: _insert(text, 150, "1.5,2.0"), "line 151 has 2 field(s) but the header has 4"),
    (lambda text: _cell(text, 170, "0", "heavy"), "holds text (e.g. 'heavy' on data row 170, file line 171)"),
    (lambda text: _cell(text, 99, "0", "inf"), "infinite value on data row 99"),
])
def test_bad_rows_are_named_with_their_line(tmp_path, small_chunks, damage, message):
    write_orders(tmp_path)
    path = tmp_path / "orders.csv"
    path.write_text(damage(path.read_text()))
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(data_spec(), tmp_path)


def _insert(text: str, at: int, line: str) -> str:
    lines = text.splitlines()
    return "\n".join(lines[:at] + [line] + lines[at:]) + "\n"


def _cell(text: str, row: int, column: str, value: str) -> str:
    lines = text.splitlines()
    fields = lines[row].split(",")
    fields[int(column)] = value
    lines[row] = ",".join(fields)
    return "\n".join(lines) + "\n"


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    write_orders(tmp_path)
    path = tmp_path / "orders.csv"
    path.write_bytes(path.read_bytes().replace(b"red", b"r\xe9d", 3))
    with pytest.raises(DataError, match="orders.csv: not a UTF-8 text file"):
        load_dataset(data_spec(), tmp_path)


@pytest.mark.parametrize("setting, field", [
    ("data.source=sklearn:iris", "data.streaming"),
    ("training.backend=jax", "training.backend"),
    ("data.resample=oversample", "data.resample"),
])
def test_settings_streaming_cannot_take_are_located(tmp_path, setting, field):
    write_orders(tmp_path)
    with pytest.raises(SpecError) as excinfo:
        load_spec(streamed_spec(tmp_path), [setting])
    assert only_problem(excinfo).path == field


@pytest.mark.slow
def test_a_killed_streamed_run_resumes_to_the_same_history(tmp_path, trained_run):
    from dlrun.protocols.holdout import resume_train
    from dlrun.runs.rundir import RunDir

    write_orders(tmp_path, rows=600)
    spec = streamed_spec(tmp_path, "parquet:orders.parquet", epochs=8)
    uninterrupted = trained_run(spec).run.path
    run = killed_after_epochs(spec, tmp_path / "runs")
    resume_train(RunDir(run))
    assert (run / "history.csv").read_bytes() == (uninterrupted / "history.csv").read_bytes()


def test_read_ahead_raises_the_threads_error_and_stops_when_dropped():
    import threading

    from dlrun.data.read_ahead import read_ahead

    def failing():
        yield 1
        raise ValueError("row 7 cannot be read")

    with pytest.raises(ValueError, match="row 7"):
        list(read_ahead(failing()))
    items = read_ahead(iter(range(1_000)), depth=2)
    assert next(items) == 0
    items.close()  # as when Keras drops a validation iterator after its stated batches
    deadline = time.time() + 5
    while any(t.name == "dlrun-read-ahead" for t in threading.enumerate()) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "dlrun-read-ahead" for t in threading.enumerate())


def test_a_streamed_run_exports_checked_on_its_test_rows_read_from_the_file(tmp_path, trained_run):
    from dlrun.inference.export import export, parse_formats

    write_orders(tmp_path)
    run = trained_run(streamed_spec(tmp_path, "parquet:orders.parquet")).run
    result = export(run, parse_formats("keras", "none"))
    assert result.report["passed"], result.report
    assert result.report["rows"]["part"] == "test" and result.report["rows"]["n"] == 60


def test_kfold_on_a_streamed_table_uses_the_folds_and_statistics_of_a_whole_read(tmp_path, small_chunks):
    from dlrun.protocols.kfold import kfold
    from dlrun.runs import artifacts

    write_orders(tmp_path, rows=240)
    sets = ["split.protocol=stratified_kfold", "split.folds=3", "split.test=0.2", "split.final_model=true",
            "training.epochs=1"]
    runs = []
    for streaming in ("true", "false"):
        loaded = load_spec(streamed_spec(tmp_path), [*sets, f"data.streaming={streaming}",
                                                     f"output.runs_dir={tmp_path / streaming}"])
        runs.append(kfold(loaded).run.path)
    streamed, whole = runs
    assert json.loads((streamed / "splits.json").read_text()) == json.loads((whole / "splits.json").read_text())
    folders = [[*artifacts.fold_folders(r), artifacts.final_folder(r)] for r in runs]
    assert len(folders[0]) == 4 and all(f.is_dir() for f in folders[0])
    for a, b in zip(*folders):
        assert _close(*(json.loads((f / "preprocessing.json").read_text()) for f in (a, b))), a.name
    summary = json.loads((streamed / "summary.json").read_text())
    assert len(summary["folds"]) == 3 and 0 <= summary["stats"]["accuracy"]["mean"] <= 1


# ---- the CSV chunks' parser: pyarrow's where it is installed, giving exactly pandas's rows ----------------

def write_quoted(folder, rows=300) -> None:
    """Orders with a ';' delimiter, every text quoted (some holding ';', '"' or nothing: a gap), numbers
    with gaps, an integer count and a categorical colour with gaps and 'NA'."""
    import csv

    frame = shop_frame(n=rows, seed=3)
    rng = np.random.default_rng(4)
    frame["count"] = rng.integers(-5, 50, size=rows)
    frame["note"] = rng.choice(['fragile; "handle" with care', "gift", "", "rush;express", "NA"], size=rows)
    frame.loc[rng.random(rows) < 0.1, "price"] = np.nan
    frame.to_csv(folder / "orders.csv", sep=";", index=False, quoting=csv.QUOTE_NONNUMERIC)


def quoted_spec(**more) -> DataSpec:
    return DataSpec(source="csv:orders.csv", target="label", categorical=["color", "note"], streaming=True,
                    delimiter=";", **more)


def test_arrow_reads_exactly_the_rows_dtypes_statistics_and_batches_pandas_reads(tmp_path, small_chunks, monkeypatch):
    from dlrun.data import csv_chunks

    write_quoted(tmp_path)
    assert '"fragile; ""handle"" with care"' in (tmp_path / "orders.csv").read_text()
    read = {}
    for arrow in (True, False):
        monkeypatch.setattr(csv_chunks, "ARROW", arrow)
        dataset = load_dataset(quoted_spec(), tmp_path)
        table = dataset.features
        chunks = [table.parse_chunk(c, table.header) for c in range(len(table.bounds))]
        assert len(chunks) == 8 and all(counted == arrow for _, counted in chunks)  # Arrow parsed every chunk
        rows = np.sort(np.random.default_rng(2).choice(300, 210, replace=False))
        pre = FeaturePreprocessor.fit(table[rows], quoted_spec(impute="median"))
        batches = list(pre.transform(table)[rows].batches(np.arange(210), 32, True, seed=5, epochs=2))
        read[arrow] = dataset, [frame for frame, _ in chunks], pre, batches
    (arrow_data, arrow_frames, arrow_pre, arrow_batches), (pandas_data, pandas_frames, pandas_pre, pandas_batches) = \
        read[True], read[False]
    for got, expected in zip(arrow_frames, pandas_frames):
        pd.testing.assert_frame_equal(got, expected, check_exact=True)  # same values and dtypes, gaps where pandas has
    assert arrow_frames[0]["note"].isna().any() and arrow_frames[0]["color"].isna().any()
    a, p = arrow_data.features, pandas_data.features
    assert np.array_equal(a.keys, p.keys) and a.missing_counts() == p.missing_counts()
    assert np.array_equal(arrow_data.targets["label"], pandas_data.targets["label"])
    assert arrow_pre.to_json() == pandas_pre.to_json()
    assert all(np.array_equal(x, y) and np.array_equal(i, j) for (x, i), (y, j) in zip(arrow_batches, pandas_batches))


@pytest.mark.parametrize("body", [
    b"1,0x1A,x\n2,3,y\n",          # Arrow reads 0x1A as 26, pandas as text
    b"1,+3,x\n2,4,y\n",            # +3: an integer to pandas, a float to Arrow
    b"1,True,x\n2,,y\n",           # booleans with a gap: pandas keeps objects
    b"1,2024-01-05,x\n2,2024-01-06,y\n",  # a date stays text in pandas
    b"1,9223372036854775808,x\n2,5,y\n",  # beyond int64: uint64 to pandas
    b"1,5,x\n2,abc,y\n",           # numbers and text in one column
    b"1,5\n2,6,y\n",               # a short row: pandas pads it (and the scan names its line)
    b"1,\xe9,x\n2,b,y\n",           # not UTF-8: pandas's error
    b"1,2.5,x\n2,,y\n3,nan,NA\n",   # Arrow's own: gaps and pandas's missing-value words
])
def test_a_chunk_arrow_cannot_read_as_pandas_does_is_read_by_pandas(body):
    import io

    from dlrun.data.csv_chunks import parse_chunk

    names = ["a", "b", "c"]
    try:
        expected = pd.read_csv(io.BytesIO(body), header=None, names=names, usecols=names, sep=",", dtype={"c": str})
    except UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError):
            parse_chunk(body, names, names, ["c"], ",")
        return
    frame, counted = parse_chunk(body, names, names, ["c"], ",")
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert counted == (body == b"1,2.5,x\n2,,y\n3,nan,NA\n")
