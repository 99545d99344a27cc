"""One rule for new rows, on a real tiny run of coded survey answers: `dlrun predict RUN train.csv` and
`dlrun evaluate RUN --data train.csv` both take the training file itself (its target and its unused
`year` ignored, with a note), both refuse a file without a feature column (exit 2, naming it); a
category training never had is counted and said, a missing one has its own '<missing>' column; and the
run's report says the repeats among coded answers are expected, not leakage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.data.preprocess import MISSING_CATEGORY
from dlrun.errors import DataError
from dlrun.inference.evaluate import evaluate
from dlrun.inference.predict import predict
from dlrun.runs import artifacts
from tests.support import ANSI, assert_refused, combined_output

SURVEY = """
name: tiny-survey
seed: 11
data: {source: "csv:survey.csv", target: satisfied, features: [q1, q2, q3, town], categorical: [q1, town]}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 1, activation: sigmoid}
training: {epochs: 1, batch_size: 32}
"""


def survey_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Coded answers (1-4, some left blank), a town (some blank), the survey's year (not a feature)
    and whether the person was satisfied."""
    rng = np.random.default_rng(seed)
    q = rng.integers(1, 5, size=(n, 3)).astype(float)
    q[rng.random(n) < 0.08, 0] = np.nan
    town = rng.choice(["north", "south", "east"], size=n).astype(object)
    town[rng.random(n) < 0.05] = None
    satisfied = (q[:, 1] + q[:, 2] + rng.integers(0, 2, n) > 5).astype(int)
    return pd.DataFrame({"year": rng.choice([2019, 2020], n), "q1": q[:, 0], "q2": q[:, 1], "q3": q[:, 2],
                         "town": town, "satisfied": satisfied})


@pytest.fixture(scope="module")
def survey(trained_run):
    return trained_run(SURVEY, files={"survey.csv": survey_frame().to_csv(index=False)})


@pytest.fixture
def train_csv(tmp_path):
    path = tmp_path / "train.csv"
    survey_frame().to_csv(path, index=False)
    return path


def dlrun(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result, ANSI.sub("", combined_output(result))


def test_missing_categories_get_their_own_column_and_the_report_says_so(survey):
    pre = json.loads((survey.run.path / "preprocessing.json").read_text(encoding="utf-8"))["features"]
    assert pre["categories"]["q1"] == ["1", "2", "3", "4", MISSING_CATEGORY]
    assert pre["categories"]["town"][-1] == MISSING_CATEGORY and pre["missing_category"] == "indicator"
    audit = json.loads((survey.run.path / "metrics.json").read_text(encoding="utf-8"))["audit"]
    assert set(audit["missing_categories"]) == {"q1", "town"}
    assert all(entry["indicator"] for entry in audit["missing_categories"].values())
    report = artifacts.report_path(survey.run.path).read_text(encoding="utf-8")
    assert "missing categories: 'q1' (" in report and f"its own category '{MISSING_CATEGORY}'" in report
    # 400 people answering three questions of four codes and a town: repeats are expected, not leakage
    assert audit["feature_space"]["repeats_expected"] is True
    assert "repeated rows:" in report and "drop duplicates" not in report


def test_predict_and_evaluate_both_take_the_training_file_itself(survey, train_csv):
    table = predict(survey.run, train_csv)
    assert len(table) == 400
    assert table.attrs["notes"] == [f"{train_csv}: ignored column(s) the model was not trained on: year, satisfied"]
    result = evaluate(survey.run, train_csv)
    assert result.notes == [f"{train_csv}: ignored column(s) the model was not trained on: year"]
    assert result.document["data"]["n"] == 400


def test_the_command_line_prints_the_notes(survey, train_csv):
    runs_dir = survey.run.path.parent
    result, output = dlrun("predict", survey.run.run_id, train_csv, "--runs-dir", runs_dir)
    assert result.exit_code == 0, output
    assert "note: " in output and "ignored column(s) the model was not trained on: year, satisfied" in output
    result, output = dlrun("evaluate", survey.run.run_id, "--data", train_csv, "--runs-dir", runs_dir, "--json")
    assert result.exit_code == 0, output
    assert "the model was not trained on: year" in json.loads(result.stdout)["notes"][0]


def test_a_missing_feature_column_is_refused_by_both(survey, tmp_path):
    path = tmp_path / "no_q2.csv"
    survey_frame(n=30, seed=2).drop(columns=["q2"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"no_q2.csv: missing column\(s\) the model was trained on: q2"):
        predict(survey.run, path)
    with pytest.raises(DataError, match=r"no_q2.csv: missing column\(s\) the model was trained on: q2"):
        evaluate(survey.run, path)
    runs_dir = survey.run.path.parent
    for args in (("predict", survey.run.run_id, path), ("evaluate", survey.run.run_id, "--data", path)):
        result, output = dlrun(*args, "--runs-dir", runs_dir)
        assert_refused(result, output, "missing column(s) the model was trained on: q2")


def test_an_identifier_column_of_text_is_ignored_by_evaluate(survey, tmp_path):
    frame = survey_frame(n=40, seed=3)
    frame.insert(0, "respondent", [f"R{i:03d}" for i in range(40)])  # text, in no data.categorical
    path = tmp_path / "with_ids.csv"
    frame.to_csv(path, index=False)
    result = evaluate(survey.run, path)
    assert result.notes == [f"{path}: ignored column(s) the model was not trained on: respondent, year"]


def test_unseen_and_uncategorised_values_are_counted_and_said(survey, tmp_path):
    frame = survey_frame(n=20, seed=4).drop(columns=["satisfied", "year"])
    frame.loc[[0, 3, 5], "town"] = ["west", "west", "harbour"]
    frame["q1"] = frame["q1"].fillna(2.0).astype(int)  # read back as integers: still the codes 1-4
    frame.loc[7, "q1"] = 9
    path = tmp_path / "new.csv"
    frame.to_csv(path, index=False)
    table = predict(survey.run, path)
    assert table.attrs["categories"] == {"q1": {"unseen": 1, "examples": ["9"], "missing": 0},
                                         "town": {"unseen": 3, "examples": ["west", "harbour"], "missing": 0}}
    result, output = dlrun("predict", survey.run.run_id, path, "--runs-dir", survey.run.path.parent)
    assert result.exit_code == 0, output
    assert ("note: categorical column 'town': a value no training row had on 3 rows (e.g. 'west', 'harbour') — "
            "given no category (all zeros)") in output
    assert "categorical column 'q1': a value no training row had on 1 row (e.g. '9')" in output
