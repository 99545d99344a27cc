"""Missing and unseen categories: a categorical column missing on training rows gets its own '<missing>'
column (data.missing_category: indicator) or is refused (error); a value training never had is counted,
not silently zeroed; codes read as numbers or as text name one category; the streamed fit equals the
in-memory one; a preprocessing.json written before these rules still loads and transforms as it did."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dlrun.data import table_scan
from dlrun.data.preprocess import MISSING_CATEGORY, FeaturePreprocessor, category_notes
from dlrun.data.sources import load_dataset
from dlrun.data.table_stats import category_text
from dlrun.errors import DataError, SpecError
from dlrun.spec.models import DataSpec


def spec(**fields) -> DataSpec:
    return DataSpec(source="csv:x.csv", target="y", categorical=["colour"], **fields)


def frame(colours, x=None) -> pd.DataFrame:
    return pd.DataFrame({"colour": colours, "x": x if x is not None else np.arange(len(colours), dtype=float)})


def test_a_column_missing_on_training_rows_gets_its_own_indicator_column():
    pre = FeaturePreprocessor.fit(frame(["red", None, "blue", "red"]), spec())
    assert pre.categories == {"colour": ["blue", "red", MISSING_CATEGORY]}
    assert pre.output_origin == ["colour", "colour", "colour", "x"] and pre.sample_shape == [4]
    out = pre.transform(frame(["blue", None, "red"]))
    assert out[:, :3].tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]


def test_a_complete_training_column_keeps_its_categories_and_a_later_gap_is_counted():
    pre = FeaturePreprocessor.fit(frame(["red", "blue", "red"]), spec())
    assert pre.categories == {"colour": ["blue", "red"]}
    new = frame(["blue", None, "teal", "pink", "teal"])
    assert pre.transform(new)[1:, :2].tolist() == [[0, 0]] * 4
    surprises = pre.category_surprises(new)
    assert surprises == {"colour": {"unseen": 3, "examples": ["teal", "pink"], "missing": 1}}
    (note,) = category_notes(surprises)
    assert note.startswith("categorical column 'colour': a value no training row had on 3 rows (e.g. 'teal', 'pink')")
    assert "no value on 1 row" in note and "all zeros" in note


def test_known_values_give_no_surprise():
    pre = FeaturePreprocessor.fit(frame(["red", None, "blue"]), spec())
    assert pre.category_surprises(frame(["red", None, "blue"])) == {}


def test_missing_category_error_refuses_training_rows_and_new_rows():
    with pytest.raises(DataError, match=r"'colour' on 1 row.*data.missing_category"):
        FeaturePreprocessor.fit(frame(["red", None, "blue"]), spec(missing_category="error"))
    pre = FeaturePreprocessor.fit(frame(["red", "blue"]), spec(missing_category="error"))
    with pytest.raises(DataError, match=r"new.csv: categorical column 'colour' is missing on data row 2"):
        pre.transform(frame(["red", None]), where="new.csv")


def test_missing_category_is_a_checked_spec_choice():
    assert DataSpec(source="csv:x.csv").missing_category == "indicator"
    with pytest.raises(Exception):
        DataSpec(source="csv:x.csv", missing_category="zeros")


def test_codes_read_as_numbers_or_as_text_name_one_category():
    # a column of codes with a gap is read as floats (1.0), without one as integers (1), streamed as text
    assert category_text(pd.Series([1.0, 2.0, np.nan])).tolist() == ["1", "2", None]
    assert category_text(pd.Series([1, 2])).tolist() == ["1", "2"]
    assert category_text(pd.Series(["1", "2.0", "0.5", "red"])).tolist() == ["1", "2", "0.5", "red"]
    assert category_text(pd.Series([True, None])).tolist() == ["True", None]
    pre = FeaturePreprocessor.fit(frame([1.0, 2.0, np.nan, 1.0]), spec())
    assert pre.categories == {"colour": ["1", "2", MISSING_CATEGORY]}
    new = frame([1, 2, 3])  # read from a file without gaps: integers
    assert pre.transform(new)[:, :3].tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert pre.category_surprises(new) == {"colour": {"unseen": 1, "examples": ["3"], "missing": 0}}


def test_a_preprocessing_json_from_before_loads_and_transforms_as_it_did():
    """Written before data.missing_category and category_text: no such field, a code saved as '1.0',
    a missing value an all-zero block."""
    old = {"kind": "table", "columns": ["colour", "x"], "numeric": ["x"], "categories": {"colour": ["1.0", "2.0"]},
           "passthrough": [], "impute": "median", "scale": "none", "fill": [0.0], "center": [0.0], "spread": [1.0],
           "sample_shape": [3], "output_origin": ["colour", "colour", "x"], "missing_seen": {"colour": 1},
           "image": {}, "text": {}}
    pre = FeaturePreprocessor.from_json(json.loads(json.dumps(old)))
    out = pre.transform(frame([1, 2.0, None], x=[5.0, 6.0, 7.0]))
    assert out.tolist() == [[1, 0, 5], [0, 1, 6], [0, 0, 7]]
    assert pre.category_surprises(frame([None])) == {"colour": {"unseen": 0, "examples": [], "missing": 1}}


def test_json_round_trip_keeps_the_indicator_and_the_rule():
    pre = FeaturePreprocessor.fit(frame(["a", None, "b"]), spec())
    back = FeaturePreprocessor.from_json(json.loads(json.dumps(pre.to_json())))
    assert back == pre and back.missing_category == "indicator"
    new = frame([None, "a", "c"])
    np.testing.assert_array_equal(back.transform(new), pre.transform(new))


# ---- streamed and in memory: one preprocessing ---------------------------------------------------------

def coded_csv(path, rows=150):
    """Survey-like codes with gaps (so a whole read gives floats) and a text column with gaps."""
    rng = np.random.default_rng(4)
    code = rng.integers(1, 5, size=rows).astype(float)
    code[rng.random(rows) < 0.1] = np.nan
    town = rng.choice(["north", "south", "east"], size=rows).astype(object)
    town[rng.random(rows) < 0.1] = None
    label = rng.integers(0, 2, size=rows)
    pd.DataFrame({"code": code, "town": town, "x": rng.normal(size=rows), "label": label}).to_csv(path, index=False)


@pytest.mark.parametrize("how", ["indicator", "error"])
def test_the_streamed_fit_and_transform_equal_the_in_memory_ones(tmp_path, monkeypatch, how):
    monkeypatch.setattr(table_scan, "CHUNK_ROWS", 32)
    coded_csv(tmp_path / "coded.csv")
    fields = dict(source="csv:coded.csv", target="label", categorical=["code", "town"], missing_category=how)
    streamed = load_dataset(DataSpec(streaming=True, **fields), tmp_path)
    whole = load_dataset(DataSpec(streaming=False, **fields), tmp_path)
    train = np.sort(np.random.default_rng(1).choice(150, 100, replace=False))
    if how == "error":
        for features in (streamed.features[train], whole.features.iloc[train]):
            with pytest.raises(DataError, match="'code' on .* rows, 'town' on .* rows"):
                FeaturePreprocessor.fit(features, DataSpec(**fields))
        return
    fitted = FeaturePreprocessor.fit(streamed.features[train], DataSpec(**fields))
    reference = FeaturePreprocessor.fit(whole.features.iloc[train], DataSpec(**fields))
    assert fitted == reference
    assert fitted.categories == {"code": ["1", "2", "3", "4", MISSING_CATEGORY],
                                 "town": ["east", "north", "south", MISSING_CATEGORY]}
    rows = np.arange(150)
    streamed_x = np.concatenate([fitted.transform(frame_) for _, frame_ in streamed.features[rows].frames()])
    np.testing.assert_array_equal(streamed_x, reference.transform(whole.features))
    assert fitted.category_surprises(streamed.features) == reference.category_surprises(whole.features)


def test_the_streamed_surprises_are_counted_chunk_by_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(table_scan, "CHUNK_ROWS", 16)
    coded_csv(tmp_path / "coded.csv", rows=80)
    fields = dict(source="csv:coded.csv", target="label", categorical=["code", "town"])
    streamed = load_dataset(DataSpec(streaming=True, **fields), tmp_path)
    whole = load_dataset(DataSpec(streaming=False, **fields), tmp_path)
    keep = whole.features["town"] != "east"  # training never sees 'east'
    pre = FeaturePreprocessor.fit(whole.features[keep.to_numpy()], DataSpec(**fields))
    expected = int((~keep).sum())
    got = pre.category_surprises(streamed.features)
    assert got["town"]["unseen"] == expected and got["town"]["examples"] == ["east"]
    assert got == pre.category_surprises(whole.features)


def test_a_spec_with_a_wrong_missing_category_is_refused_at_validate(tmp_path):
    from dlrun.spec import load_spec

    path = tmp_path / "spec.yaml"
    path.write_text("data: {source: 'csv:x.csv', target: y, missing_category: drop}\n"
                    "model: {layers: [{Dense: {units: 1}}]}\n", encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert "missing_category" in str(caught.value)
