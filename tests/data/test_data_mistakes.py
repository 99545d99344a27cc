"""Data mistakes that used to pass silently or with a misleading message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dlrun.data.sources import load_dataset
from dlrun.errors import DataError
from dlrun.spec.models import DataSpec

ROWS = "".join(f"{i % 7},{(i * 3) % 5},{i % 2}\n" for i in range(40))


def load(tmp_path: Path, name: str, **fields):
    return load_dataset(DataSpec(source=f"csv:{name}", target="y", **fields), tmp_path)


def test_two_columns_of_the_same_name_are_refused(tmp_path):
    (tmp_path / "d.csv").write_text("x,x,y\n" + ROWS, encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.csv: column 'x' appears more than once in the header"):
        load(tmp_path, "d.csv")


def test_a_directory_as_the_data_file_is_named_as_one(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(DataError, match="folder.csv: is a directory"):
        load(tmp_path, "folder.csv")


def test_a_device_as_the_data_file_is_not_a_regular_file(tmp_path):
    if not Path("/dev/null").exists():
        pytest.skip("no /dev/null")
    with pytest.raises(DataError, match="/dev/null: is not a regular file"):
        load_dataset(DataSpec(source="csv:/dev/null", target="y"), tmp_path)


@pytest.mark.parametrize("mark", [";", "\t", "|"])
def test_the_delimiter_is_detected(tmp_path, mark):
    (tmp_path / "d.csv").write_text(f"a{mark}b{mark}y\n" + ROWS.replace(",", mark), encoding="utf-8")
    dataset = load(tmp_path, "d.csv")
    assert list(dataset.features.columns) == ["a", "b"] and len(dataset.targets["y"]) == 40


def test_data_delimiter_is_used_when_given(tmp_path):
    (tmp_path / "d.csv").write_text("a;b;y\n" + ROWS.replace(",", ";"), encoding="utf-8")
    assert list(load(tmp_path, "d.csv", delimiter=";").features.columns) == ["a", "b"]


def test_a_wrong_delimiter_is_named_when_the_target_is_missing(tmp_path):
    (tmp_path / "d.csv").write_text("a;b;y\n" + ROWS.replace(",", ";"), encoding="utf-8")
    with pytest.raises(DataError, match=r"seems to separate fields with a semicolon — set data.delimiter: \";\""):
        load(tmp_path, "d.csv", delimiter=",")


def test_an_all_missing_training_column_is_flagged_in_the_audit():
    import numpy as np
    import pandas as pd

    from dlrun.report.analysis import audit_data

    frame = pd.DataFrame({"a": np.arange(10.0), "empty": [np.nan] * 8 + [1.0, 2.0]})
    audit = audit_data(frame, {"train": np.arange(8), "test": np.arange(8, 10)}, None, None)
    assert audit["empty_in_train"] == ["empty"]
    assert any("'empty' is missing on every training row: filled with 0" in f for f in audit["flags"])


@pytest.mark.slow
def test_cli_refusals_exit_2_and_an_empty_column_is_a_train_note(write_spec, tmp_path):
    (tmp_path / "dup.csv").write_text("x,x,y\n" + ROWS, encoding="utf-8")
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "empty.csv").write_text("a,e,y\n" + "".join(f"{i % 7},,{i % 2}\n" for i in range(40)),
                                        encoding="utf-8")
    body = "model:\n  layers:\n    - Dense: {units: 1, activation: sigmoid}\ntraining: {epochs: 1}\n"
    for name, expected in (("dup.csv", "appears more than once"), ("dir.csv", "is a directory")):
        spec = write_spec(f"data: {{source: 'csv:{name}', target: y}}\n{body}", f"{name}.yaml")
        done = subprocess.run([sys.executable, "-m", "dlrun", "train", str(spec), "--set",
                               f"output.runs_dir={tmp_path / 'runs'}"], capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert expected in done.stdout + done.stderr and "Traceback" not in done.stderr
    spec = write_spec(f"data: {{source: 'csv:empty.csv', target: y}}\n{body}", "empty.yaml")
    done = subprocess.run([sys.executable, "-m", "dlrun", "train", str(spec), "--set",
                           f"output.runs_dir={tmp_path / 'runs'}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "'e' is missing on every training row" in " ".join((done.stdout + done.stderr).split())
