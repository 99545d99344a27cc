"""dlrun.data.sources.load_dataset: sklearn sets, CSV and NPZ files, and keras:NAME read from the Keras cache.

Every user mistake in a data file must be a DataError naming the file (and the column or
row at fault). Keras datasets are written as small files into a temporary Keras cache
($KERAS_HOME/datasets), so nothing is downloaded.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlrun.data.sources import load_dataset
from dlrun.errors import DataError
from dlrun.spec.models import DataSpec
from tests.support import ROOT



def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(tmp_path: Path, source: str, **fields):
    return load_dataset(DataSpec(source=source, **fields), tmp_path)


# ---- scikit-learn sets -----------------------------------------------------------------------

@pytest.mark.parametrize("name, rows, n_features", [
    ("iris", 150, 4), ("digits", 1797, 64), ("wine", 178, 13), ("breast_cancer", 569, 30), ("diabetes", 442, 10),
])
def test_sklearn_source_has_all_rows_and_a_target_named_target(tmp_path, name, rows, n_features):
    ds = load(tmp_path, f"sklearn:{name}")
    assert ds.n_rows == rows
    assert ds.is_table and ds.features.shape == (rows, n_features)
    assert list(ds.targets) == ["target"]
    assert len(ds.targets["target"]) == rows
    assert "target" not in ds.features.columns
    assert ds.source_test is None


def test_sklearn_classification_sets_carry_class_names_but_diabetes_does_not(tmp_path):
    assert load(tmp_path, "sklearn:iris").class_names["target"] == ["setosa", "versicolor", "virginica"]
    assert load(tmp_path, "sklearn:diabetes").class_names == {}


def test_sklearn_source_rejects_another_target_name(tmp_path):
    with pytest.raises(DataError, match="sklearn:iris has a single target named 'target'"):
        load(tmp_path, "sklearn:iris", target="species")


def test_sklearn_source_features_glob_selects_columns(tmp_path):
    ds = load(tmp_path, "sklearn:iris", features=["petal*"])
    assert list(ds.features.columns) == ["petal length (cm)", "petal width (cm)"]


# ---- CSV -----------------------------------------------------------------------------------------

def test_csv_target_column_is_set_aside_from_the_features(tmp_path):
    write_csv(tmp_path / "t.csv", """
        a,b,label
        1,2.5,0
        3,4.5,1
        5,6.5,0
    """)
    ds = load(tmp_path, "csv:t.csv", target="label")
    assert list(ds.features.columns) == ["a", "b"]
    assert ds.targets["label"].tolist() == [0, 1, 0]
    assert ds.n_rows == 3
    assert ds.name == "csv:t.csv"


def test_csv_feature_globs_pick_matching_columns_in_file_order(tmp_path):
    write_csv(tmp_path / "t.csv", """
        tok_2,other,tok_0,label,tok_1
        1,9,3,0,5
        2,9,4,1,6
    """)
    ds = load(tmp_path, "csv:t.csv", target="label", features=["tok_*"])
    assert list(ds.features.columns) == ["tok_2", "tok_0", "tok_1"]


def test_csv_feature_glob_that_matches_nothing_is_a_data_error(tmp_path):
    path = write_csv(tmp_path / "t.csv", "a,label\n1,0\n2,1\n")
    with pytest.raises(DataError) as err:
        load(tmp_path, "csv:t.csv", target="label", features=["tok_*"])
    assert str(path) in str(err.value) and "tok_*" in str(err.value)


def test_csv_categorical_column_keeps_its_text_and_string_labels_stay_strings(tmp_path):
    write_csv(tmp_path / "t.csv", """
        colour,size,label
        red,1,cat
        blue,2,dog
        red,3,cat
    """)
    ds = load(tmp_path, "csv:t.csv", target="label", categorical=["colour"])
    assert ds.features["colour"].tolist() == ["red", "blue", "red"]
    assert ds.targets["label"].tolist() == ["cat", "dog", "cat"]


def test_csv_path_is_relative_to_base_dir_not_the_working_directory(tmp_path, monkeypatch):
    write_csv(tmp_path / "spec_dir" / "data" / "t.csv", "a,label\n1,0\n2,1\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ds = load_dataset(DataSpec(source="csv:data/t.csv", target="label"), tmp_path / "spec_dir")
    assert ds.n_rows == 2


def test_csv_absolute_path_ignores_base_dir(tmp_path):
    path = write_csv(tmp_path / "abs.csv", "a,label\n1,0\n2,1\n")
    ds = load_dataset(DataSpec(source=f"csv:{path}", target="label"), tmp_path / "nowhere")
    assert ds.n_rows == 2


def test_csv_missing_file_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError) as err:
        load(tmp_path, "csv:nope.csv", target="y")
    assert str(tmp_path / "nope.csv") in str(err.value)
    assert "not found" in str(err.value)


def test_csv_empty_file_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load(tmp_path, "csv:empty.csv", target="y")
    assert str(path) in str(err.value) and "empty" in str(err.value)


def test_csv_header_only_file_is_a_data_error_naming_it(tmp_path):
    path = write_csv(tmp_path / "head.csv", "a,b,y\n")
    with pytest.raises(DataError) as err:
        load(tmp_path, "csv:head.csv", target="y")
    assert str(path) in str(err.value) and "no rows" in str(err.value)


def test_csv_row_with_too_many_fields_is_a_data_error_naming_the_file(tmp_path):
    path = write_csv(tmp_path / "ragged.csv", """
        a,b,y
        1,2,0
        3,4,1,99
        5,6,0
    """)
    with pytest.raises(DataError) as err:
        load(tmp_path, "csv:ragged.csv", target="y")
    assert str(path) in str(err.value)
    assert "same number of fields" in str(err.value)


def test_csv_row_with_too_few_fields_is_a_data_error_naming_the_file(tmp_path):
    # the target comes first, so the short row loses a feature value, not its label
    path = write_csv(tmp_path / "short.csv", """
        y,a,b
        0,1,2
        1,3
        0,5,6
    """)
    with pytest.raises(DataError) as err:
        load(tmp_path, "csv:short.csv", target="y")
    assert str(path) in str(err.value)


def test_csv_without_a_target_is_a_data_error_listing_the_columns(tmp_path):
    path = write_csv(tmp_path / "t.csv", "a,label\n1,0\n2,1\n")
    with pytest.raises(DataError) as err:
        load(tmp_path, "csv:t.csv")
    assert str(path) in str(err.value) and "data.target is required" in str(err.value)
    assert "label" in str(err.value)


def test_csv_missing_target_column_is_a_data_error_with_did_you_mean(tmp_path):
    path = write_csv(tmp_path / "t.csv", "a,label\n1,0\n2,1\n")
    with pytest.raises(DataError) as err:
        load(tmp_path, "csv:t.csv", target="labl")
    text = str(err.value)
    assert str(path) in text
    assert "'labl'" in text
    assert "did you mean 'label'" in text


def test_csv_text_in_undeclared_numeric_column_names_column_and_row(tmp_path):
    path = write_csv(tmp_path / "t.csv", """
        age,height,y
        31,1.80,0
        40,1.75,1
        forty,1.60,0
        22,1.70,1
    """)
    with pytest.raises(DataError) as err:
        load(tmp_path, "csv:t.csv", target="y")
    text = str(err.value)
    assert str(path) in text
    assert "column 'age'" in text
    assert "'forty'" in text
    assert "data row 3" in text and "file line 4" in text
    assert "data.categorical" in text


def test_csv_text_column_declared_categorical_or_passthrough_is_accepted(tmp_path):
    write_csv(tmp_path / "t.csv", "city,y\nParis,0\nRome,1\n")
    assert load(tmp_path, "csv:t.csv", target="y", categorical=["city"]).n_rows == 2


def test_csv_numeric_text_column_is_converted_to_numbers(tmp_path):
    # a column of numbers with a blank entry stays numeric (NaN), ready for imputation
    write_csv(tmp_path / "t.csv", "a,y\n1,0\n,1\n3,0\n")
    ds = load(tmp_path, "csv:t.csv", target="y")
    assert pd.api.types.is_numeric_dtype(ds.features["a"])
    assert np.isnan(ds.features["a"].iloc[1])


def test_csv_categorical_naming_a_column_that_is_not_a_feature_is_a_data_error(tmp_path):
    path = write_csv(tmp_path / "t.csv", "city,y\nParis,0\nRome,1\n")
    with pytest.raises(DataError) as err:
        load(tmp_path, "csv:t.csv", target="y", categorical=["cty"])
    assert str(path) in str(err.value) and "'cty'" in str(err.value) and "did you mean 'city'" in str(err.value)


def test_csv_several_targets_are_all_set_aside(tmp_path):
    write_csv(tmp_path / "t.csv", "a,b,y1,y2\n1,2,0,1.5\n3,4,1,2.5\n")
    ds = load(tmp_path, "csv:t.csv", target=["y1", "y2"])
    assert list(ds.features.columns) == ["a", "b"]
    assert sorted(ds.targets) == ["y1", "y2"]


# ---- NPZ -----------------------------------------------------------------------------------------

def test_npz_default_keys_are_x_and_y(tmp_path):
    x = np.arange(24, dtype=np.float32).reshape(6, 2, 2)
    y = np.array([0, 1, 0, 1, 0, 1])
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = load(tmp_path, "npz:d.npz")
    assert not ds.is_table
    np.testing.assert_array_equal(ds.features, x)
    assert list(ds.targets) == ["y"]
    np.testing.assert_array_equal(ds.targets["y"], y)
    assert ds.name == "npz:d.npz"


def test_npz_custom_keys_come_from_features_and_target(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.ones((4, 3)), labels=np.array([1, 2, 1, 2]), x=np.zeros((9, 9)))
    ds = load(tmp_path, "npz:d.npz", features=["images"], target="labels")
    assert ds.features.shape == (4, 3)
    assert list(ds.targets) == ["labels"]


def test_npz_missing_key_is_a_data_error_naming_the_key_and_the_arrays(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.ones((4, 3)), labels=np.arange(4))
    with pytest.raises(DataError) as err:
        load(tmp_path, "npz:d.npz", features=["image"], target="labels")
    text = str(err.value)
    assert str(path) in text and "'image'" in text and "did you mean 'images'" in text
    assert "images" in text and "labels" in text


def test_npz_default_keys_missing_is_a_data_error(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.ones((4, 3)), labels=np.arange(4))
    with pytest.raises(DataError, match="'x'"):
        load(tmp_path, "npz:d.npz")


def test_npz_length_mismatch_is_a_data_error_with_both_lengths(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((5, 3)), y=np.arange(4))
    with pytest.raises(DataError) as err:
        load(tmp_path, "npz:d.npz")
    text = str(err.value)
    assert str(path) in text and "5 rows" in text and "has 4" in text


def test_npz_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load(tmp_path, "npz:missing.npz")


def test_npz_with_pickled_objects_is_a_data_error_not_code(tmp_path):
    x = np.empty(2, dtype=object)
    x[0], x[1] = [1, 2], [3]
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0, 1]))
    with pytest.raises(DataError, match="not a readable NPZ archive"):
        load(tmp_path, "npz:d.npz")


# ---- keras:NAME from the Keras cache --------------------------------------------------------------

@pytest.fixture
def keras_cache(tmp_path, monkeypatch) -> Path:
    """A Keras cache folder ($KERAS_HOME/datasets) of our own."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    folder = tmp_path / "keras_home" / "datasets"
    folder.mkdir(parents=True)
    return folder


def object_array(lists) -> np.ndarray:
    out = np.empty(len(lists), dtype=object)
    for i, item in enumerate(lists):
        out[i] = list(item)
    return out


def test_keras_mnist_from_cache_has_train_plus_test_rows_and_marks_the_test_part(keras_cache, tmp_path):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y_train, y_test = np.arange(20, dtype=np.uint8) % 10, np.arange(5, dtype=np.uint8)
    np.savez(keras_cache / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    ds = load(tmp_path, "keras:mnist")
    assert ds.n_rows == 25
    assert ds.features.shape == (25, 28, 28)
    assert ds.source_test.tolist() == list(range(20, 25))
    np.testing.assert_array_equal(ds.features[ds.source_test], x_test)
    np.testing.assert_array_equal(ds.targets["label"][ds.source_test], y_test)
    np.testing.assert_array_equal(ds.targets["label"][:20], y_train)
    assert ds.name == "keras:mnist"


def test_keras_boston_housing_from_cache_is_a_price_regression(keras_cache, tmp_path):
    rng = np.random.default_rng(1)
    np.savez(keras_cache / "boston_housing.npz", x_train=rng.normal(size=(30, 13)), y_train=rng.uniform(5, 50, 30),
             x_test=rng.normal(size=(8, 13)), y_test=rng.uniform(5, 50, 8))
    ds = load(tmp_path, "keras:boston_housing")
    assert ds.n_rows == 38 and ds.features.shape == (38, 13)
    assert list(ds.targets) == ["price"]
    assert ds.targets["price"].dtype.kind == "f"
    assert ds.source_test.tolist() == list(range(30, 38))


def test_keras_fashion_mnist_reads_the_gz_idx_files(keras_cache, tmp_path):
    folder = keras_cache / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(2)
    parts = {"train": (rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), np.arange(12, dtype=np.uint8) % 10),
             "t10k": (rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), np.array([9, 8, 7, 6], dtype=np.uint8))}
    for prefix, (images, labels) in parts.items():
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as handle:
            handle.write((2049).to_bytes(4, "big") + len(labels).to_bytes(4, "big") + labels.tobytes())
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as handle:
            header = b"".join(v.to_bytes(4, "big") for v in (2051, len(images), 28, 28))
            handle.write(header + images.tobytes())
    ds = load(tmp_path, "keras:fashion_mnist")
    assert ds.n_rows == 16
    assert ds.features.shape == (16, 28, 28)
    assert ds.source_test.tolist() == [12, 13, 14, 15]
    np.testing.assert_array_equal(ds.features[:12], parts["train"][0])
    np.testing.assert_array_equal(ds.features[ds.source_test], parts["t10k"][0])
    assert ds.targets["label"][ds.source_test].tolist() == [9, 8, 7, 6]


def write_imdb(folder: Path, train: list[list[int]], test: list[list[int]]) -> None:
    np.savez(folder / "imdb.npz", x_train=object_array(train), y_train=np.array([i % 2 for i in range(len(train))]),
             x_test=object_array(test), y_test=np.array([i % 2 for i in range(len(test))]), allow_pickle=True)


def test_keras_imdb_multi_hot_rows_have_num_words_columns(keras_cache, tmp_path):
    write_imdb(keras_cache, [[1, 4, 4, 7], [2, 30, 3], [5]], [[9, 1], [45, 6]])
    ds = load(tmp_path, "keras:imdb", num_words=10)
    assert ds.features.shape == (5, 10)
    assert ds.source_test.tolist() == [3, 4]
    assert set(np.unique(ds.features)) <= {0.0, 1.0}
    # as keras.datasets does: rows shuffled (seed 113) within each part, a start mark 1, ranks
    # shifted by 3, and words at or beyond num_words become the out-of-vocabulary id 2
    rows = lambda part: sorted(tuple(np.flatnonzero(r).tolist()) for r in part)
    assert rows(ds.features[:3]) == sorted([(1, 2, 4, 7), (1, 2, 5, 6), (1, 8)])
    assert rows(ds.features[3:]) == sorted([(1, 2, 4), (1, 2, 9)])


def test_keras_imdb_sequence_rows_are_padded_int_sequences_of_maxlen(keras_cache, tmp_path):
    write_imdb(keras_cache, [[1, 4, 5], [3, 1, 4, 1, 5, 9, 2, 6]], [[7]])
    ds = load(tmp_path, "keras:imdb", num_words=100, vectorize="sequence", maxlen=5)
    assert ds.features.shape == (3, 5)
    assert ds.features.dtype.kind == "i"
    # Keras's ids: start mark 1, ranks + 3; zero-padded in front; long rows keep their last maxlen ids
    assert sorted(r.tolist() for r in ds.features[:2]) == sorted([[0, 1, 4, 7, 8], [4, 8, 12, 5, 9]])
    assert ds.features[2].tolist() == [0, 0, 0, 1, 10]
    assert ds.source_test.tolist() == [2]


def test_keras_imdb_out_of_vocabulary_word_never_shares_an_id_with_a_real_word(keras_cache, tmp_path):
    write_imdb(keras_cache, [[2, 50], [3, 4]], [[5]])
    ds = load(tmp_path, "keras:imdb", num_words=10, vectorize="sequence", maxlen=4)
    in_vocab, out_of_vocab = ds.features[0][-2], ds.features[0][-1]   # word rank 2, word rank 50 (>= num_words)
    assert in_vocab != out_of_vocab


def test_keras_reuters_single_array_file_is_split_80_20(keras_cache, tmp_path):
    np.savez(keras_cache / "reuters.npz", x=object_array([[i + 1] for i in range(10)]), y=np.arange(10) % 3,
             allow_pickle=True)
    ds = load(tmp_path, "keras:reuters", num_words=20)
    assert ds.n_rows == 10 and ds.features.shape == (10, 20)
    assert ds.source_test.tolist() == [8, 9]


@pytest.mark.slow  # a fresh Python process (its Keras reads KERAS_HOME at import)
def test_keras_source_with_empty_cache_and_no_network_names_cache_folder_and_file(tmp_path):
    """Runs in a child process: its Keras reads KERAS_HOME at import, and a proxy on a closed
    local port makes the download fail at once even on a machine with network access."""
    keras_home = tmp_path / "keras_home"
    code = textwrap.dedent("""
        from pathlib import Path
        from dlrun.data.sources import load_dataset
        from dlrun.errors import DataError
        from dlrun.spec.models import DataSpec
        try:
            load_dataset(DataSpec(source="keras:boston_housing"), Path("."))
        except DataError as exc:
            print("DATAERROR:", exc)
        else:
            print("LOADED")
    """)
    env = dict(os.environ, KERAS_HOME=str(keras_home), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
               https_proxy="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9", NO_PROXY="", no_proxy="")
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=90)
    except subprocess.TimeoutExpired:
        pytest.skip("the download attempt of a keras dataset did not fail within 90 s")
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("DATAERROR:")), None)
    assert line is not None, proc.stdout[-2000:]
    assert "keras:boston_housing" in line
    assert "'boston_housing.npz'" in line
    assert str(keras_home / "datasets") in line
