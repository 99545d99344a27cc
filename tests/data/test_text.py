"""`source: text:FOLDER` on small folders of .txt files the tests write: rows and labels, a
TextVectorization adapted on the training files only, tf-idf and sequence models, k-fold, evaluate,
predict, export, and the bad inputs named with their file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlrun.data.sources import load_dataset
from dlrun.errors import DataError, SpecError, UserError
from dlrun.spec import load_spec
from dlrun.spec.models import DataSpec
from tests.support import config_tool, only_problem, write_dedented

make_news = config_tool("make_news")

NEWS = """
name: tiny-news
seed: 4
data: {source: "text:news", vectorize: VECTORIZE, num_words: 60, maxlen: 24}
model:
  layers: LAYERS
training: {epochs: 3, batch_size: 16}
"""
DENSE = "[{Dense: {units: 8, activation: relu}}, {Dense: {units: 3, activation: softmax}}]"
EMBEDDING = ("[{Embedding: {input_dim: 60, output_dim: 8}}, {GlobalAveragePooling1D: {}}, "
             "{Dense: {units: 3, activation: softmax}}]")


@pytest.fixture(scope="module")
def news_dir(tmp_path_factory):
    place = tmp_path_factory.mktemp("text")
    make_news.write_news(place / "news", per_class=20, seed=1)
    return place


def spec_file(place, vectorize: str, layers: str = DENSE):
    text = NEWS.replace("VECTORIZE", vectorize).replace("LAYERS", layers)
    return write_dedented(place / f"{vectorize}.yaml", text)


@pytest.fixture(scope="module")
def tfidf_run(news_dir, trained_run):
    return trained_run(spec_file(news_dir, "tf_idf")).run


def test_each_file_is_a_row_labelled_by_its_folder(news_dir):
    dataset = load_dataset(DataSpec(source="text:news"), news_dir)
    assert dataset.n_rows == 60 and dataset.name == "text:news"
    assert sorted(set(dataset.targets["label"])) == ["food", "sport", "tech"]
    assert dataset.features[0] == (news_dir / "news" / "food" / "food_000.txt").read_text(encoding="utf-8")


def test_the_vocabulary_is_learned_from_the_training_files_only(tfidf_run, news_dir):
    import keras

    pre = json.loads((tfidf_run.path / "preprocessing.json").read_text())["features"]
    splits = json.loads((tfidf_run.path / "splits.json").read_text())
    texts = load_dataset(DataSpec(source="text:news"), news_dir).features
    own = keras.layers.TextVectorization(max_tokens=60, output_mode="tf_idf")
    own.adapt(np.asarray(texts[splits["train"]], dtype=str))
    assert pre["kind"] == "text" and pre["text"]["vocabulary"] == [str(w) for w in own.get_vocabulary()]
    assert len(pre["text"]["idf"]) == len(pre["text"]["vocabulary"]) == pre["sample_shape"][0]
    everything = keras.layers.TextVectorization(max_tokens=60, output_mode="tf_idf")
    everything.adapt(np.asarray(texts, dtype=str))
    assert np.asarray(everything._lookup_layer.idf_weights).tolist() != pre["text"]["idf"]  # test rows not counted


def test_evaluate_a_folder_and_predict_files_and_folders(tfidf_run, tmp_path):
    from dlrun.inference.evaluate import evaluate
    from dlrun.inference.predict import predict

    make_news.write_news(tmp_path / "new", per_class=3, seed=7)
    result = evaluate(tfidf_run, data=tmp_path / "new")
    assert result.document["data"]["n"] == 9
    one = tmp_path / "new" / "tech" / "tech_000.txt"
    table = predict(tfidf_run, [tmp_path / "new" / "food", one])
    assert list(table.columns)[:2] == ["file", "label_predicted"] and len(table) == 4
    assert table["file"].iloc[-1] == str(one)
    for topic in ("food", "sport"):
        for path in (tmp_path / "new" / topic).iterdir():
            path.unlink()
        (tmp_path / "new" / topic).rmdir()
    assert evaluate(tfidf_run, data=tmp_path / "new").document["data"]["n"] == 3  # one class is enough to score


def test_word_sequences_feed_an_embedding_and_kfold_runs(news_dir):
    from dlrun.protocols.kfold import kfold

    spec = spec_file(news_dir, "sequence", EMBEDDING)
    result = kfold(load_spec(spec, [f"output.runs_dir={news_dir / 'folds'}", "split.protocol=stratified_kfold",
                                    "split.folds=2", "training.epochs=1"]))
    assert result.run.read_info()["status"] == "completed"
    for fold in ("01", "02"):  # each fold's vocabulary from its own training files
        pre = json.loads((result.run.path / "folds" / fold / "preprocessing.json").read_text())["features"]
        assert pre["sample_shape"] == [24] and pre["text"]["vectorize"] == "sequence"


def test_a_text_run_exports_to_string_formats_only(tfidf_run):
    from dlrun.inference.export import export, parse_formats

    result = export(tfidf_run, parse_formats("keras,savedmodel", "none"))
    assert result.report["passed"], result.report
    assert result.manifest["formats"]["keras"]["inputs"] == [{"name": "text", "kind": "text", "dtype": "string",
                                                               "shape": []}]
    with pytest.raises(UserError, match="onnx cannot take strings"):
        export(tfidf_run, parse_formats("onnx", "none"))


def test_bad_text_folders_are_named(tmp_path):
    make_news.write_news(tmp_path / "news", per_class=2)
    (tmp_path / "news" / "food" / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.txt: not UTF-8 text \(invalid continuation byte at byte 3\)"):
        load_dataset(DataSpec(source="text:news"), tmp_path)
    (tmp_path / "news" / "food" / "latin1.txt").unlink()
    (tmp_path / "news" / "empty").mkdir()
    with pytest.raises(DataError, match="the class folder 'empty' holds no text files"):
        load_dataset(DataSpec(source="text:news"), tmp_path)


def test_tf_idf_outside_a_text_source_is_refused_at_its_line(tmp_path):
    spec = write_dedented(tmp_path / "spec.yaml", """
        name: wrong
        data:
          source: sklearn:iris
          vectorize: tf_idf
        model:
          layers: [{Dense: {units: 3, activation: softmax}}]
    """)
    with pytest.raises(SpecError) as excinfo:
        load_spec(spec)
    problem = only_problem(excinfo)
    assert problem.path == "data.vectorize" and problem.line == 4
