"""A user mistake never shows a traceback.

Bad YAML, bad data, a bad option or a bad run id: dlrun prints a clear message naming the
file / line / field / column / value at fault and exits 2, and no run is left marked
`completed` (for mistakes found before training, no run directory is created at all).

Every case goes through the real command line (`typer.testing.CliRunner`) with
`--runs-dir <tmp>/runs` on tiny files written to tmp_path. Only the cases that need an
existing run (predict, evaluate, --resume) use one, trained once for 1 epoch.

The last group holds inputs that used to end in a traceback (or exit 1); each is now a
located error like the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from tests.support import ANSI, assert_refused

runner = CliRunner()


# ---- helpers -------------------------------------------------------------------------------------

def dlrun(*args):
    """Run the CLI in-process; (result, output with stdout and stderr, no colour codes)."""
    result = runner.invoke(app, [str(a) for a in args])
    return result, ANSI.sub("", result.output or "")


def completed_runs(runs_dir: Path) -> set[Path]:
    """Every run.json (runs, folds, final models) under runs_dir whose status is completed."""
    found = set()
    if not runs_dir.exists():
        return found
    for path in runs_dir.rglob("run.json"):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if info.get("status") == "completed":
            found.add(path)
    return found


def assert_user_mistake(result, output: str, *fragments: str, runs_dir: Path,
                        completed_before: set[Path] = frozenset(), no_run_dir: bool = True) -> None:
    """The rule: exit 2, no crash, no traceback, a message naming the place at fault,
    no run marked completed by this command (and, by default, no run directory at all)."""
    assert_refused(result, output, *fragments)
    assert completed_runs(runs_dir) == set(completed_before), "a run was marked completed"
    if no_run_dir:
        made = [p for p in runs_dir.iterdir()] if runs_dir.is_dir() else []
        assert not [p for p in made if p not in {c.parent for c in completed_before}], \
            f"a run directory was created for a mistake found before training: {made}"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def iris_rows(n: int = 45, seed: int = 0) -> str:
    """An iris-like CSV: four numeric columns and a text class (3 classes, balanced)."""
    rng = np.random.default_rng(seed)
    lines = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    for i in range(n):
        c = i % 3
        values = rng.normal(loc=[5.0 + c, 3.0, 1.5 + 2 * c, 0.2 + c], scale=0.2)
        lines.append(",".join(f"{v:.2f}" for v in values) + f",{('setosa', 'versicolor', 'virginica')[c]}")
    return "\n".join(lines) + "\n"


IRIS_SPEC = """\
name: tiny-iris
seed: 1
data: {source: "csv:iris.csv", target: species}
model:
  layers:
    - Dense: {units: 3, activation: softmax}
training: {epochs: 1, batch_size: 16}
"""

REGRESSION_SPEC = """\
name: tiny
data: {source: "csv:DATA", target: y}
model:
  layers:
    - Dense: {units: 1}
training: {epochs: 1}
"""

CLASSIFIER_SPEC = """\
name: tiny
data: {source: "sklearn:iris"}
model:
  layers:
    - Dense: {units: 3, activation: softmax}
training: {epochs: 1}
"""


def regression_on(write_spec, tmp_path, csv_name: str, csv_text: str | None, **replace) -> Path:
    """A one-layer regression spec reading `csv_name` (written with csv_text unless None)."""
    if csv_text is not None:
        write(tmp_path / csv_name, csv_text)
    text = REGRESSION_SPEC.replace("DATA", csv_name)
    for old, new in replace.items():
        text = text.replace(old, new)
    return write_spec(text)


@pytest.fixture
def runs(tmp_path) -> Path:
    return tmp_path / "runs"


# ---- data files ----------------------------------------------------------------------------------

def test_missing_data_file_is_named_with_its_resolved_path(write_spec, tmp_path, runs):
    spec = regression_on(write_spec, tmp_path, "missing.csv", None)
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, str(tmp_path / "missing.csv"), "data file not found", runs_dir=runs)


def test_empty_data_file_is_named(write_spec, tmp_path, runs):
    spec = regression_on(write_spec, tmp_path, "empty.csv", "")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "empty.csv", "the data file is empty", runs_dir=runs)


def test_header_only_csv_says_it_has_no_rows(write_spec, tmp_path, runs):
    spec = regression_on(write_spec, tmp_path, "header.csv", "a,b,y\n")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "header.csv", "has a header but no rows", runs_dir=runs)


def test_missing_target_column_is_named_with_a_suggestion(write_spec, tmp_path, runs):
    write(tmp_path / "iris.csv", iris_rows())
    spec = write_spec(IRIS_SPEC.replace("target: species", "target: Species"))
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "iris.csv", "data.target names column 'Species', which is not there",
                        "did you mean 'species'", runs_dir=runs)


def test_nan_in_the_target_names_the_target_and_row(write_spec, tmp_path, runs):
    spec = regression_on(write_spec, tmp_path, "nan.csv", "a,b,y\n1,2,0.5\n3,4,\n5,6,1.5\n")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "nan.csv", "target 'y' is missing on 1 row(s), first on data row 2",
                        runs_dir=runs)


def test_infinite_value_in_the_target_names_the_target_and_row(write_spec, tmp_path, runs):
    spec = regression_on(write_spec, tmp_path, "inf.csv", "a,b,y\n1,2,0.5\n3,4,inf\n5,6,1.5\n")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "inf.csv", "target 'y' holds an infinite value on data row 2", runs_dir=runs)


def test_a_single_class_target_is_refused_naming_the_class(write_spec, tmp_path, runs):
    write(tmp_path / "one.csv", "a,b,label\n1,2,cat\n3,4,cat\n5,6,cat\n7,8,cat\n")
    spec = write_spec(CLASSIFIER_SPEC.replace('"sklearn:iris"', '"csv:one.csv", target: label'))
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "one.csv", "target 'label' has a single class ('cat')", runs_dir=runs)


def test_text_in_a_feature_not_declared_categorical_names_column_value_and_line(write_spec, tmp_path, runs):
    spec = regression_on(write_spec, tmp_path, "text.csv", "a,b,y\n1,2,0.1\n3,red,1.2\n5,6,0.3\n7,8,1.4\n")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "text.csv", "column 'b' holds text", "'red'", "file line 3",
                        "data.categorical", runs_dir=runs)


@pytest.mark.parametrize("rows, fragments", [
    ("a,b,y\n1,2,0.5\n3,4,1.5,9\n5,6,2.5\n", ("rows do not all have the same number of fields", "line 3", "saw 4")),
    ("a,b,y\n1,2,0.5\n3,4\n5,6,2.5\n", ("line 3 has 2 field(s) but the header has 3",)),
], ids=["too_many_fields", "too_few_fields"])
def test_ragged_rows_name_the_file_and_the_line(write_spec, tmp_path, runs, rows, fragments):
    spec = regression_on(write_spec, tmp_path, "ragged.csv", rows)
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "ragged.csv", *fragments, runs_dir=runs)


def test_wrong_image_reshape_names_the_field_and_both_sizes(write_spec, tmp_path, runs):
    rows = "a,b,c,d,y\n" + "\n".join(f"{i},{i + 1},{i % 3},{i % 5},{i * 0.5}" for i in range(20)) + "\n"
    spec = regression_on(write_spec, tmp_path, "four.csv", rows,
                         **{"target: y}": "target: y, reshape: [3, 2]}",
                            "    - Dense: {units: 1}": "    - Flatten: {}\n    - Dense: {units: 1}"})
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "data.reshape [3, 2]", "6 values per sample", "4 features", runs_dir=runs)


def test_npz_without_the_named_array_lists_the_arrays_it_has(write_spec, tmp_path, runs):
    np.savez(tmp_path / "arrays.npz", x=np.zeros((10, 3)), labels=np.arange(10) % 2)
    spec = write_spec(REGRESSION_SPEC.replace('"csv:DATA", target: y', '"npz:arrays.npz"'))
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "arrays.npz", "data.target names array 'y', which is not in the file",
                        "arrays: x, labels", runs_dir=runs)


def test_task_binary_with_three_classes_names_the_count(write_spec, tmp_path, runs):
    spec = regression_on(write_spec, tmp_path, "three.csv", "a,y\n1,0\n2,1\n3,2\n4,0\n5,1\n6,2\n",
                         **{"target: y}": "target: y, task: binary}"})
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "three.csv", "data.task is binary but target 'y' has 3 classes",
                        runs_dir=runs)


# ---- the model against the data --------------------------------------------------------------------

def test_output_units_not_matching_the_classes_point_at_units(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC.replace("units: 3", "units: 4"))
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "spec.yaml:5:", "model.layers[0].Dense.units",
                        "multiclass with 3 classes", "has 4 units", runs_dir=runs)


def test_sigmoid_on_a_multiclass_head_points_at_activation(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC.replace("softmax", "sigmoid"))
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "spec.yaml:5:", "model.layers[0].Dense.activation",
                        "needs activation softmax, not sigmoid", runs_dir=runs)


# ---- the spec itself -------------------------------------------------------------------------------

def test_unknown_layer_argument_is_located_with_a_suggestion(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC.replace("activation: softmax", "activation: softmax, untis: 3"))
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "spec.yaml:5:46", "model.layers[0].Dense.untis",
                        "unknown argument of Dense", "did you mean 'units'", runs_dir=runs)


def test_unknown_layer_name_is_located_with_a_suggestion(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC.replace("    - Dense: {units: 3",
                                              "    - Densse: {units: 8}\n    - Dense: {units: 3"))
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "spec.yaml:5:7", "model.layers[0].Densse", "unknown layer 'Densse'",
                        "did you mean 'Dense'", runs_dir=runs)


def test_schedule_with_reduce_lr_on_plateau_is_refused_at_the_callback(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC + "optimizer: {schedule: {type: step}}\n"
                                        "callbacks: {reduce_lr_on_plateau: {patience: 2}}\n")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "spec.yaml:8:", "callbacks.reduce_lr_on_plateau",
                        "optimizer.schedule and reduce_lr_on_plateau both set the learning rate", runs_dir=runs)


def test_val_monitor_without_validation_data_is_refused_at_the_monitor(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC + "split: {validation: 0}\n"
                                        "callbacks: {early_stopping: {monitor: val_accuracy}}\n")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "spec.yaml:8:", "callbacks.early_stopping.monitor", "'val_accuracy'",
                        "split.validation is 0", runs_dir=runs)


def test_malformed_yaml_points_at_the_unclosed_brace(write_spec, runs):
    spec = write_spec("name: t\ndata: {source: sklearn:iris\nmodel:\n  layers: []\n", name="bad.yaml")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "bad.yaml:2:7", "malformed YAML", "'{' opened here is not closed",
                        runs_dir=runs)


def test_duplicate_key_points_at_the_second_one(write_spec, runs):
    spec = write_spec("name: a\n" + CLASSIFIER_SPEC)
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "spec.yaml:2:1", "name: duplicate key", runs_dir=runs)


def test_extends_of_a_missing_file_names_it(write_spec, tmp_path, runs):
    spec = write_spec("extends: base_missing.yaml\nname: child\n", name="child.yaml")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "child.yaml:1:1", "extends", "'base_missing.yaml' not found",
                        str(tmp_path / "base_missing.yaml"), runs_dir=runs)


def test_missing_config_file_is_named(tmp_path, runs):
    result, output = dlrun("train", tmp_path / "nothere.yaml", "--runs-dir", runs)
    assert_user_mistake(result, output, "nothere.yaml", "file not found", runs_dir=runs)


def test_config_that_is_a_directory_is_named(tmp_path, runs):
    result, output = dlrun("train", tmp_path, "--runs-dir", runs)
    assert_user_mistake(result, output, str(tmp_path), "is a directory, not a YAML file", runs_dir=runs)


def test_imports_module_that_does_not_exist_is_named_before_any_run_folder(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC + "imports: [no_such_module_xyz]\n")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "spec.yaml:7:", "imports[0]", "'no_such_module_xyz'", runs_dir=runs)


def test_validate_reports_an_imports_module_that_does_not_exist(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC + "imports: [no_such_module_xyz]\n")
    result, output = dlrun("validate", spec)
    assert_user_mistake(result, output, "spec.yaml:7:", "imports[0]", "'no_such_module_xyz'", runs_dir=runs)


# ---- command-line options --------------------------------------------------------------------------

def test_unknown_set_key_is_named_with_a_suggestion(write_spec, runs):
    result, output = dlrun("train", write_spec(CLASSIFIER_SPEC), "--runs-dir", runs, "--set", "trainig.epochs=1")
    assert_user_mistake(result, output, "--set", "trainig: unknown key in 'trainig.epochs=1'",
                        "did you mean 'training'", runs_dir=runs)


@pytest.mark.parametrize("override", ["training.epochs", "=3", "training..epochs=3"])
def test_malformed_set_shows_the_expected_syntax(write_spec, runs, override):
    result, output = dlrun("train", write_spec(CLASSIFIER_SPEC), "--runs-dir", runs, "--set", override)
    assert_user_mistake(result, output, "--set", override, "expected KEY.PATH=VALUE", runs_dir=runs)


def test_set_value_of_the_wrong_type_names_the_key_and_value(write_spec, runs):
    result, output = dlrun("train", write_spec(CLASSIFIER_SPEC), "--runs-dir", runs, "--set", "training.epochs=many")
    assert_user_mistake(result, output, "--set", "training.epochs", "'many'", runs_dir=runs)


def test_bad_run_name_option_is_refused(write_spec, runs):
    result, output = dlrun("train", write_spec(CLASSIFIER_SPEC), "--runs-dir", runs, "--name", "bad name!")
    assert_user_mistake(result, output, "'bad name!' is not a usable run name", runs_dir=runs)


def test_runs_dir_whose_parent_is_a_file_is_named(write_spec, tmp_path):
    blocker = write(tmp_path / "a_file", "not a directory\n")
    runs = blocker / "runs"
    result, output = dlrun("train", write_spec(CLASSIFIER_SPEC), "--runs-dir", runs)
    assert_user_mistake(result, output, f"runs directory {runs} cannot be created", "Not a directory",
                        runs_dir=runs)
    assert blocker.read_text() == "not a directory\n"


def test_train_without_a_config_says_what_to_give(runs):
    result, output = dlrun("train", "--runs-dir", runs)
    assert_user_mistake(result, output, "give a CONFIG to train", runs_dir=runs)


def test_train_of_a_cross_validation_spec_points_at_the_protocol(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC + "split: {protocol: kfold}\n")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "split.protocol", "run by `dlrun kfold`", runs_dir=runs)


def test_runs_with_an_unknown_status_lists_the_statuses(runs):
    result, output = dlrun("runs", "--runs-dir", runs, "--status", "finished")
    assert_user_mistake(result, output, "--status must be one of", "'finished'", runs_dir=runs)


# ---- k-fold ----------------------------------------------------------------------------------------

def test_kfold_with_fewer_rows_than_folds_names_both_counts(write_spec, tmp_path, runs):
    spec = regression_on(write_spec, tmp_path, "few.csv", "a,b,y\n1,2,0.5\n3,4,1.5\n5,6,2.5\n")
    write(spec, spec.read_text() + "split: {protocol: kfold, folds: 5, validation: 0}\n")
    result, output = dlrun("kfold", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "3 rows are too few for 5 folds", "split.folds", runs_dir=runs)


def test_stratified_kfold_with_a_class_rarer_than_the_folds_is_refused(write_spec, tmp_path, runs):
    rows = "a,b,kind\n" + "\n".join(f"{i},{i % 3},{'rare' if i == 0 else 'odd' if i % 2 else 'even'}"
                                    for i in range(20)) + "\n"
    write(tmp_path / "rare.csv", rows)
    spec = write_spec(CLASSIFIER_SPEC.replace('"sklearn:iris"', '"csv:rare.csv", target: kind')
                      + "split: {protocol: stratified_kfold, folds: 3, validation: 0}\n")
    result, output = dlrun("kfold", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "the rarest class has 1 rows, fewer than the 3 folds", runs_dir=runs)


def test_kfold_with_zero_jobs_is_refused(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC + "split: {protocol: kfold, validation: 0}\n")
    result, output = dlrun("kfold", spec, "--runs-dir", runs, "--jobs", "0")
    assert_user_mistake(result, output, "--jobs must be 1 or more", runs_dir=runs)


# ---- run ids ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["evaluate", "show"])
def test_unknown_run_id_is_named(command, runs):
    runs.mkdir()
    result, output = dlrun(command, "20260101-000000-nope-0000", "--runs-dir", runs)
    assert_user_mistake(result, output, "no run '20260101-000000-nope-0000'", str(runs), runs_dir=runs)


@pytest.mark.parametrize("command", ["evaluate", "show"])
def test_run_path_outside_the_runs_directory_is_refused(command, tmp_path, runs):
    (tmp_path / "x").mkdir()
    write(tmp_path / "x" / "run.json", json.dumps({"status": "completed", "kind": "train"}))  # a run-like folder
    runs.mkdir()
    result, output = dlrun(command, "../x", "--runs-dir", runs)
    assert_user_mistake(result, output, "../x: not a run directory inside the runs directory", str(runs),
                        runs_dir=runs)


@pytest.mark.parametrize("command", [("train", "--resume"), ("kfold", "--resume")])
def test_resume_latest_with_no_runs_says_so(command, runs):
    result, output = dlrun(*command, "latest", "--runs-dir", runs)
    assert_user_mistake(result, output, "no runs in", runs_dir=runs)


# ---- against a finished run ------------------------------------------------------------------------

class Trained:
    def __init__(self, folder: Path, runs_dir: Path, run_id: str):
        self.folder, self.runs_dir, self.run_id = folder, runs_dir, run_id

    @property
    def run_json(self) -> Path:
        return self.runs_dir / self.run_id / "run.json"


@pytest.fixture(scope="module")
def trained(trained_run, tmp_path_factory) -> Trained:
    """One tiny holdout run on an iris-like CSV, 1 epoch (the only training these tests need),
    beside the folder holding its spec and data."""
    folder = tmp_path_factory.mktemp("trained")
    write(folder / "iris.csv", iris_rows())
    result = trained_run(write(folder / "iris.yaml", IRIS_SPEC))
    run = result.run.path
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    return Trained(folder, run.parent, run.name)


def test_predict_with_a_csv_missing_a_training_column_names_it(trained, tmp_path):
    before = completed_runs(trained.runs_dir)
    rows = write(tmp_path / "new.csv", "sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n6.2,2.9,4.3\n")
    result, output = dlrun("predict", trained.run_id, rows, "--runs-dir", trained.runs_dir)
    assert_user_mistake(result, output, "new.csv", "missing column(s) the model was trained on: petal_width",
                        runs_dir=trained.runs_dir, completed_before=before)


def test_predict_ignores_a_column_the_model_never_saw_with_a_note_and_refuses_a_missing_one(trained, tmp_path):
    before = completed_runs(trained.runs_dir)
    rows = write(tmp_path / "new.csv", "sepal_length,sepal_width,petal_length,petal_width,colour\n5.1,3.5,1.4,0.2,red\n")
    result, output = dlrun("predict", trained.run_id, rows, "--runs-dir", trained.runs_dir)
    assert result.exit_code == 0, output
    assert "ignored column(s) the model was not trained on: colour" in output
    rows = write(tmp_path / "short.csv", "sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n")
    result, output = dlrun("predict", trained.run_id, rows, "--runs-dir", trained.runs_dir)
    assert_user_mistake(result, output, "short.csv", "petal_width", runs_dir=trained.runs_dir,
                        completed_before=before)


def test_predict_with_a_missing_data_file_names_it(trained, tmp_path):
    before = completed_runs(trained.runs_dir)
    result, output = dlrun("predict", trained.run_id, tmp_path / "absent.csv", "--runs-dir", trained.runs_dir)
    assert_user_mistake(result, output, "absent.csv", "not found", runs_dir=trained.runs_dir, completed_before=before)


def test_evaluate_with_an_unknown_split_lists_the_parts(trained):
    before = completed_runs(trained.runs_dir)
    result, output = dlrun("evaluate", trained.run_id, "--split", "holdout", "--runs-dir", trained.runs_dir)
    assert_user_mistake(result, output, "--split must be one of test, validation, train", "'holdout'",
                        runs_dir=trained.runs_dir, completed_before=before)


def test_evaluate_on_data_without_the_target_names_the_column(trained, tmp_path):
    before = completed_runs(trained.runs_dir)
    rows = write(tmp_path / "unlabelled.csv", "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n")
    result, output = dlrun("evaluate", trained.run_id, "--data", rows, "--runs-dir", trained.runs_dir)
    assert_user_mistake(result, output, "unlabelled.csv", "'species'", runs_dir=trained.runs_dir,
                        completed_before=before)


def test_kfold_resume_of_a_holdout_run_is_refused(trained):
    before = completed_runs(trained.runs_dir)
    info = trained.run_json.read_bytes()
    kfold_spec = write(trained.folder / "iris_kfold.yaml",
                       IRIS_SPEC + "split: {protocol: kfold, folds: 3, validation: 0}\n")
    result, output = dlrun("kfold", kfold_spec, "--resume", trained.run_id, "--runs-dir", trained.runs_dir)
    assert_user_mistake(result, output, f"{trained.run_id} is not a k-fold run", runs_dir=trained.runs_dir,
                        completed_before=before)
    assert trained.run_json.read_bytes() == info  # the holdout run is untouched


def test_kfold_resume_of_a_holdout_run_without_a_config_is_refused(trained):
    before = completed_runs(trained.runs_dir)
    info = trained.run_json.read_bytes()
    result, output = dlrun("kfold", "--resume", trained.run_id, "--runs-dir", trained.runs_dir)
    assert_user_mistake(result, output, f"{trained.run_id} is not a k-fold run", "dlrun train --resume",
                        runs_dir=trained.runs_dir, completed_before=before)
    assert trained.run_json.read_bytes() == info


@pytest.mark.parametrize("with_config", [False, True], ids=["run_config", "given_config"])
def test_train_resume_of_a_completed_run_is_refused(trained, with_config):
    before = completed_runs(trained.runs_dir)
    info = trained.run_json.read_bytes()
    config = [trained.folder / "iris.yaml"] if with_config else []
    result, output = dlrun("train", *config, "--resume", trained.run_id, "--runs-dir", trained.runs_dir)
    assert_user_mistake(result, output, f"run {trained.run_id} already completed; there is nothing to resume",
                        runs_dir=trained.runs_dir, completed_before=before)
    assert trained.run_json.read_bytes() == info


def test_compare_with_one_run_asks_for_two(trained):
    before = completed_runs(trained.runs_dir)
    result, output = dlrun("compare", trained.run_id, "--runs-dir", trained.runs_dir)
    assert_user_mistake(result, output, "compare needs at least two runs", runs_dir=trained.runs_dir,
                        completed_before=before)


# ---- inputs that once crashed: each is a located error now ------------------------------------------

def test_control_character_in_a_spec_is_a_located_error(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC.replace("name: tiny", "name: tiny\x0c"), name="ctl.yaml")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "ctl.yaml", runs_dir=runs)


def test_recursive_yaml_alias_is_a_located_error(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC.replace('data: {source: "sklearn:iris"}',
                                              'data: &d {source: "sklearn:iris", again: *d}'), name="alias.yaml")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "alias.yaml", runs_dir=runs)


def test_integer_with_thousands_of_digits_in_a_spec_is_a_located_error(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC.replace("epochs: 1", "epochs: 1" + "0" * 5000), name="digits.yaml")
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "digits.yaml", "training.epochs", runs_dir=runs)


def test_integer_with_thousands_of_digits_in_set_is_refused(write_spec, runs):
    result, output = dlrun("train", write_spec(CLASSIFIER_SPEC), "--runs-dir", runs,
                           "--set", "training.epochs=1" + "0" * 5000)
    assert_user_mistake(result, output, "--set", "training.epochs", runs_dir=runs)


def test_npz_source_pointing_at_an_npy_file_is_named(write_spec, tmp_path, runs):
    np.save(tmp_path / "arr.npy", np.zeros((10, 3)))
    spec = write_spec(REGRESSION_SPEC.replace('"csv:DATA", target: y', '"npz:arr.npy"'))
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "arr.npy", runs_dir=runs)


def test_npz_with_scalar_arrays_is_named(write_spec, tmp_path, runs):
    np.savez(tmp_path / "scalar.npz", x=np.float64(3.0), y=np.float64(1.0))
    spec = write_spec(REGRESSION_SPEC.replace('"csv:DATA", target: y', '"npz:scalar.npz"'))
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "scalar.npz", runs_dir=runs)


def test_corrupt_npz_archive_is_named(write_spec, tmp_path, runs):
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04garbage" * 10)
    spec = write_spec(REGRESSION_SPEC.replace('"csv:DATA", target: y', '"npz:junk.npz"'))
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "junk.npz", runs_dir=runs)


def test_data_path_with_an_unknown_home_directory_is_named(write_spec, tmp_path, runs):
    spec = regression_on(write_spec, tmp_path, "~nosuchuser_dlrun/x.csv", None)
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "~nosuchuser_dlrun", runs_dir=runs)


def test_data_path_too_long_for_the_os_is_named(write_spec, tmp_path, runs):
    spec = regression_on(write_spec, tmp_path, "a" * 5000 + ".csv", None)
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "File name too long", runs_dir=runs)


def test_bad_regularizer_value_is_a_located_error_in_validate_build(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC.replace("    - Dense: {units: 3",
                                              "    - Dense: {units: 4, kernel_regularizer: {l2: abc}}\n"
                                              "    - Dense: {units: 3"))
    result, output = dlrun("validate", spec, "--build")
    assert_user_mistake(result, output, "spec.yaml:5:", "kernel_regularizer", runs_dir=runs)


def test_bad_initializer_argument_is_a_located_error_in_train(write_spec, runs):
    spec = write_spec(CLASSIFIER_SPEC.replace("    - Dense: {units: 3",
                                              "    - Dense: {units: 4, kernel_initializer: {GlorotUniform: {bogus: 1}}}\n"
                                              "    - Dense: {units: 3"))
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "spec.yaml:5:", "kernel_initializer", runs_dir=runs, no_run_dir=False)


def test_infinite_value_in_a_feature_column_names_the_column(write_spec, tmp_path, runs):
    rows = "a,b,y\n" + "\n".join(f"{i},{'inf' if i == 3 else i},{i * 0.5 + 0.1}" for i in range(20)) + "\n"
    spec = regression_on(write_spec, tmp_path, "inffeat.csv", rows)
    result, output = dlrun("train", spec, "--runs-dir", runs)
    assert_user_mistake(result, output, "inffeat.csv", "'b'", runs_dir=runs)
