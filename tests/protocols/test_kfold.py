"""dlrun kfold, end to end: real (tiny) Keras training per fold, real run directories.

Every run here is small on purpose (2-3 epochs, a few folds, a handful of units); the
expensive ones are made once per module and only read by the tests that share them. Those
runs train 3 to 5 models each, so the tests that use them are marked slow; `make test-fast`
keeps the 2-fold command-line run and the checks that refuse a spec before any training.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import SpecError, UserError
from dlrun.inference.evaluate import evaluate_any
from dlrun.protocols.kfold import kfold
from dlrun.report.cv_summary import average_curves, describe
from dlrun.train.monitor import chosen_epochs
from dlrun.runs.rundir import RunDir
from dlrun.spec import load_spec
from tests.support import CONFIGS

IRIS_KFOLD = CONFIGS / "iris_kfold.yaml"
DIABETES_KFOLD = CONFIGS / "diabetes_kfold.yaml"
# the iris k-fold config made small: 3 stratified folds, 2 epochs, each fold's model kept
IRIS_FAST = ["training.epochs=2", "split.folds=3", "training.batch_size=16", "output.plots=false",
             "output.fold_models=true"]

runner = CliRunner()


def _read(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _history(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _digest(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under folder: (mtime in ns, sha256); the writer lock (which names its last holder) left out."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "run.lock"}


def _iris_kfold(runs_dir: Path, *more: str, **kwargs):
    return kfold(load_spec(IRIS_KFOLD, [f"output.runs_dir={runs_dir}", *IRIS_FAST, *more]), **kwargs)


def _fold_dirs(run: Path) -> list[Path]:
    return sorted(p for p in (run / "folds").iterdir() if p.is_dir())


def _iris_features() -> np.ndarray:
    from sklearn.datasets import load_iris

    return load_iris().data.astype(np.float64)


def _comparable(summary: dict) -> dict:
    """A summary without what differs between two runs of the same spec (ids)."""
    return {k: v for k, v in summary.items() if k != "run_id"}


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    """Stratified 3-fold iris, run once (jobs=1) for every test that only reads it."""
    return _iris_kfold(tmp_path_factory.mktemp("iris") / "runs")


@pytest.fixture(scope="module")
def iris_pristine(iris_run, tmp_path_factory):
    """A copy of the iris run taken before any test writes into it (evaluations)."""
    copy = tmp_path_factory.mktemp("pristine") / iris_run.run.path.name
    shutil.copytree(iris_run.run.path, copy)
    return copy


# ---- what a k-fold run writes ---------------------------------------------------------------------

@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_stratified_kfold_writes_a_complete_folder_per_fold(iris_run, iris_pristine):
    run = iris_run.run.path
    folds = _fold_dirs(run)
    assert [p.name for p in folds] == ["01", "02", "03"]
    for number, folder in enumerate(folds, start=1):
        for name in ("history.csv", "metrics.json", "splits.json", "preprocessing.json", "run.json",
                     "config.yaml", "model.keras"):
            assert (folder / name).is_file() and (folder / name).stat().st_size > 0, f"{folder.name}/{name}"
        info = _read(folder / "run.json")
        assert info["status"] == "completed" and info["kind"] == "fold"
        assert info["fold"] == number and info["repeat"] == 1 and info["epochs_run"] == 2
        assert [int(r["epoch"]) for r in _history(folder / "history.csv")] == [1, 2]
        metrics = _read(folder / "metrics.json")
        assert metrics["part"] == "test" and metrics["test"]["n"] == 50
        splits = _read(folder / "splits.json")
        assert splits["protocol"] == "stratified_kfold" and splits["fold"] == number
        assert len(splits["test"]) == 50 and len(splits["train"]) == 100 and splits["validation"] == []


@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_root_run_json_is_a_completed_kfold_run_with_the_cv_headline(iris_run):
    info = _read(iris_run.run.path / "run.json")
    assert info["status"] == "completed" and info["kind"] == "kfold"
    assert info["protocol"] == "stratified_kfold" and info["n_folds"] == 3
    assert info["data"]["cv_rows"] == 150 and info["data"]["test_rows"] == 0
    accuracy = iris_run.summary["stats"]["accuracy"]
    assert info["headline"] == {"name": "cv_accuracy", "value": accuracy["mean"]}
    assert info["summary"] == {"cv_accuracy_mean": accuracy["mean"], "cv_accuracy_std": accuracy["std"]}
    assert {"started", "finished", "seconds", "versions"} <= set(info)


@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_summary_json_holds_each_fold_and_mean_std_ci95_of_them(iris_run):
    run = iris_run.run.path
    summary = _read(run / "summary.json")
    assert summary["protocol"] == "stratified_kfold" and summary["n_folds"] == 3 and summary["repeats"] == 1
    assert [row["fold"] for row in summary["folds"]] == [1, 2, 3]
    per_fold = [_read(folder / "metrics.json")["test"] for folder in _fold_dirs(run)]
    assert [row["accuracy"] for row in summary["folds"]] == [m["accuracy"] for m in per_fold]
    assert [row["baseline_accuracy"] for row in summary["folds"]] == [m["baseline"]["accuracy"] for m in per_fold]
    for key in ("accuracy", "balanced_accuracy", "log_loss", "baseline_accuracy"):
        stats = summary["stats"][key]
        values = [row[key] for row in summary["folds"]]
        assert stats["n"] == 3
        assert stats["mean"] == pytest.approx(np.mean(values))
        assert stats["std"] == pytest.approx(np.std(values, ddof=1))
        half = 4.303 * np.std(values, ddof=1) / np.sqrt(3)
        assert stats["ci95"] == pytest.approx([np.mean(values) - half, np.mean(values) + half], abs=1e-4)
    assert summary["best_epochs"] == [_read(f / "run.json")["best_epoch"] for f in _fold_dirs(run)]
    assert [row["epoch"] for row in summary["average_curves"]] == [1, 2]
    assert "final_model" not in summary
    assert (run / "report.md").read_text().count("| **95% CI** |") == 1


@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_root_splits_json_lists_disjoint_stratified_held_out_parts(iris_run):
    splits = _read(iris_run.run.path / "splits.json")
    assert splits["protocol"] == "stratified_kfold" and splits["n_rows"] == 150 and splits["test"] == []
    held = [f["held_out"] for f in splits["folds"]]
    assert sorted(sum(held, [])) == list(range(150))
    from sklearn.datasets import load_iris

    target = load_iris().target
    for fold, folder in zip(splits["folds"], _fold_dirs(iris_run.run.path)):
        assert np.bincount(target[fold["held_out"]]).tolist() in ([17, 17, 16], [17, 16, 17], [16, 17, 17])
        assert not set(fold["train"]) & set(fold["held_out"])
        assert _read(folder / "splits.json")["test"] == sorted(fold["held_out"])


# ---- no leakage of preprocessing statistics ------------------------------------------------------------

@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_each_fold_standardizes_with_its_own_training_rows_only(iris_run):
    features = _iris_features()
    centers = []
    for folder in _fold_dirs(iris_run.run.path):
        saved = _read(folder / "preprocessing.json")["features"]
        train = _read(folder / "splits.json")["train"]
        assert saved["scale"] == "standard"
        np.testing.assert_allclose(saved["center"], features[train].mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(saved["spread"], features[train].std(axis=0), rtol=1e-12)
        centers.append(tuple(saved["center"]))
    assert len(set(centers)) == 3, "every fold must fit its own statistics"


@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_a_planted_leak_of_all_rows_statistics_is_caught(iris_run):
    features = _iris_features()
    leaked_center, leaked_spread = features.mean(axis=0), features.std(axis=0)  # fitted on every row
    for folder in _fold_dirs(iris_run.run.path):
        saved = _read(folder / "preprocessing.json")["features"]
        held_out = _read(folder / "splits.json")["test"]
        assert not np.allclose(saved["center"], leaked_center, rtol=1e-6), folder.name
        assert not np.allclose(saved["spread"], leaked_spread, rtol=1e-6), folder.name
        # and neither do they include the fold's own held-out rows in any other way
        assert not np.allclose(saved["center"], features[held_out].mean(axis=0), rtol=1e-6)


@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_each_fold_baseline_comes_from_its_training_rows(iris_run):
    from sklearn.datasets import load_iris

    target = load_iris().target
    for folder in _fold_dirs(iris_run.run.path):
        splits = _read(folder / "splits.json")
        baseline = _read(folder / "preprocessing.json")["baselines"]["target"]
        counts = np.bincount(target[splits["train"]])
        assert baseline["majority"] == int(counts.argmax())
        held = target[splits["test"]]
        assert _read(folder / "metrics.json")["test"]["baseline"]["accuracy"] == pytest.approx(
            float(np.mean(held == baseline["majority"])))


# ---- group and time-series protocols on CSV files ------------------------------------------------------

GROUP_SPEC = """
name: grouped
seed: 4
data: {source: "csv:grouped.csv", target: y}
split: {protocol: group_kfold, group: site, folds: 4, validation: 0.25, test: 0.2, final_model: true}
model:
  layers:
    - Dense: {units: 4, activation: relu}
    - Dense: {units: 1, activation: sigmoid}
training: {epochs: 2, batch_size: 16}
output: {plots: false}
"""

SERIES_SPEC = """
name: series
seed: 2
data: {source: "csv:series.csv", target: y, features: [x1, x2], task: regression}
split: {protocol: time_series, folds: 3, validation: 0.2}
model:
  layers:
    - Dense: {units: 4, activation: relu}
    - Dense: {units: 1}
training: {epochs: 2, batch_size: 16}
output: {plots: false}
"""

SITES = np.array([f"s{i % 8}" for i in range(48)])  # 8 sites of 6 rows, interleaved


@pytest.fixture(scope="module")
def grouped_run(tmp_path_factory):
    """group_kfold over a site column, with an inner validation part and a final model."""
    folder = tmp_path_factory.mktemp("grouped")
    rng = np.random.default_rng(0)
    lines = ["site,x1,x2,y"]
    for i, site in enumerate(SITES):
        x1, x2 = rng.normal(size=2) + (i % 8) / 4
        lines.append(f"{site},{x1:.4f},{x2:.4f},{int(x1 + x2 > 1.0)}")
    (folder / "grouped.csv").write_text("\n".join(lines) + "\n")
    (folder / "spec.yaml").write_text(GROUP_SPEC)
    return kfold(load_spec(folder / "spec.yaml", [f"output.runs_dir={folder / 'runs'}"])), folder


@pytest.fixture(scope="module")
def series_run(tmp_path_factory):
    """time_series over 40 time-ordered rows; no model is kept (no final model, no fold models)."""
    folder = tmp_path_factory.mktemp("series")
    rows = [f"{i},{np.sin(i / 5):.4f},{np.cos(i / 7):.4f},{i / 10 + np.sin(i / 5):.4f}" for i in range(40)]
    (folder / "series.csv").write_text("t,x1,x2,y\n" + "\n".join(rows) + "\n")
    (folder / "spec.yaml").write_text(SERIES_SPEC)
    return kfold(load_spec(folder / "spec.yaml", [f"output.runs_dir={folder / 'runs'}"]))


@pytest.mark.slow  # a k-fold run with a final model: 4-5 models
def test_group_kfold_keeps_every_group_out_of_train_and_validation_of_its_test_fold(grouped_run):
    result, _ = grouped_run
    folders = _fold_dirs(result.run.path)
    assert len(folders) == 4
    cv_rows = _read(result.run.path / "splits.json")
    tested = []
    for folder in folders:
        splits = _read(folder / "splits.json")
        assert splits["validation"], "the inner validation part exists"
        fitted_on = set(SITES[splits["train"] + splits["validation"]])
        scored_on = set(SITES[splits["test"]])
        assert not fitted_on & scored_on, f"fold {folder.name} shares {sorted(fitted_on & scored_on)}"
        tested += splits["test"]
    assert sorted(tested + cv_rows["test"]) == list(range(48))  # the folds cover every non-test row once


@pytest.mark.slow  # a k-fold run with a final model: 4-5 models
def test_group_kfold_final_test_rows_share_no_group_with_the_rows_the_final_model_trains_on(grouped_run):
    result, _ = grouped_run
    final = _read(result.run.path / "final" / "splits.json")
    assert final["test"]
    shared = set(SITES[final["train"]]) & set(SITES[final["test"]])
    assert not shared, f"sites on both sides: {sorted(shared)}"


@pytest.mark.slow  # a k-fold run with a final model: 4-5 models
def test_group_column_is_not_a_feature_and_statistics_use_training_rows_only(grouped_run):
    result, folder = grouped_run
    import pandas as pd

    frame = pd.read_csv(folder / "grouped.csv")
    values = frame[["x1", "x2"]].to_numpy(dtype=np.float64)
    for fold in _fold_dirs(result.run.path):
        saved = _read(fold / "preprocessing.json")["features"]
        assert saved["columns"] == ["x1", "x2"]  # neither the group nor the target
        splits = _read(fold / "splits.json")
        np.testing.assert_allclose(saved["center"], values[splits["train"]].mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(saved["spread"], values[splits["train"]].std(axis=0), rtol=1e-12)
        with_validation = splits["train"] + splits["validation"]
        assert not np.allclose(saved["center"], values[with_validation].mean(axis=0), rtol=1e-9)


@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_time_series_folds_train_only_on_rows_before_their_held_out_rows(series_run):
    folders = _fold_dirs(series_run.run.path)
    assert len(folders) == 3
    previous_end = -1
    for folder in folders:
        splits = _read(folder / "splits.json")
        train, validation, test = splits["train"], splits["validation"], splits["test"]
        assert train and validation and test
        assert max(train) < min(validation) <= max(validation) < min(test), folder.name  # never look ahead
        assert max(train + validation) < min(test)
        assert min(test) > previous_end
        previous_end = max(test)
    assert previous_end == 39
    assert [len(_read(f / "splits.json")["train"]) for f in folders] == sorted(
        len(_read(f / "splits.json")["train"]) for f in folders)  # the window expands
    assert _read(series_run.run.path / "run.json")["status"] == "completed"
    assert "mae" in series_run.summary["stats"] and "baseline_mae" in series_run.summary["stats"]


# ---- parallel folds ------------------------------------------------------------------------------------

@pytest.mark.slow  # --jobs 2: the folds run in a pool of worker processes
def test_jobs_2_gives_the_same_folds_as_jobs_1(iris_pristine, runs_dir):
    parallel = _iris_kfold(runs_dir, jobs=2)
    serial = iris_pristine
    for mine, theirs in zip(_fold_dirs(parallel.run.path), _fold_dirs(serial), strict=True):
        assert _read(mine / "metrics.json")["test"] == _read(theirs / "metrics.json")["test"], mine.name
        assert (mine / "history.csv").read_bytes() == (theirs / "history.csv").read_bytes(), mine.name
        assert _read(mine / "splits.json") == _read(theirs / "splits.json")
    assert _comparable(parallel.summary) == _comparable(_read(serial / "summary.json"))


# ---- resume ----------------------------------------------------------------------------------------------

def _interrupted_copy(source: Path, runs_dir: Path, how: str) -> RunDir:
    """A copy of a finished k-fold run as an interruption during its last fold leaves it."""
    copy = runs_dir / source.name
    shutil.copytree(source, copy)
    last = _fold_dirs(copy)[-1]
    if how == "fold deleted":
        shutil.rmtree(last)
    else:  # the last fold was still running: its folder is incomplete
        info = _read(last / "run.json")
        info["status"] = "running"
        (last / "run.json").write_text(json.dumps(info))
        (last / "metrics.json").unlink()
    (copy / "summary.json").unlink()
    info = _read(copy / "run.json")
    info["status"] = "interrupted"
    (copy / "run.json").write_text(json.dumps(info))
    return RunDir(copy)


@pytest.mark.slow  # retrains a fold on top of the shared 3-fold run
@pytest.mark.parametrize("how", ["fold deleted", "fold left running"])
def test_resume_skips_finished_folds_redoes_the_rest_and_matches_an_uninterrupted_run(iris_pristine, runs_dir, how):
    run = _interrupted_copy(iris_pristine, runs_dir, how)
    finished = {p.name: _digest(p) for p in _fold_dirs(run.path)[:2]}
    result = _iris_kfold(runs_dir, resume=run)
    assert result.run.path == run.path
    assert result.skipped == [1, 2]
    for name, before in finished.items():
        assert _digest(run.path / "folds" / name) == before, f"finished fold {name} was touched"
    redone = run.path / "folds" / "03"
    assert _read(redone / "run.json")["status"] == "completed"
    assert _read(redone / "metrics.json")["test"] == _read(iris_pristine / "folds/03/metrics.json")["test"]
    assert _read(run.path / "summary.json") == _read(iris_pristine / "summary.json")
    info = _read(run.path / "run.json")
    assert info["status"] == "completed" and "resumed" in info


@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_resume_with_a_changed_spec_names_the_differing_key(iris_pristine, runs_dir):
    run = _interrupted_copy(iris_pristine, runs_dir, "fold deleted")
    before = _digest(run.path)
    with pytest.raises(UserError) as caught:
        _iris_kfold(runs_dir, "optimizer.learning_rate=0.02", resume=run)
    message = str(caught.value)
    assert "optimizer.learning_rate: 0.01 → 0.02" in message
    assert "--allow-changed" in message
    assert "training.epochs" not in message and "output." not in message
    assert _digest(run.path) == before  # nothing was redone or marked
    assert _read(run.path / "run.json")["status"] == "interrupted"


@pytest.mark.slow  # trains a holdout run on top of the shared 3-fold run
def test_resume_refuses_a_run_that_is_not_a_kfold_run(iris_pristine, runs_dir, trained_run):
    holdout = trained_run(CONFIGS / "iris.yaml", "training.epochs=1", "output.plots=false")
    with pytest.raises(UserError, match="is not a k-fold run"):
        _iris_kfold(runs_dir, resume=holdout.run)
    assert _read(holdout.run.path / "run.json")["status"] == "completed"
    assert not (holdout.run.path / "folds").exists()
    with pytest.raises(UserError, match="is not a k-fold run"):  # nor a single fold of one
        _iris_kfold(runs_dir, resume=RunDir(iris_pristine / "folds" / "01"))


# ---- final model (regression) ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def diabetes_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("diabetes") / "runs"
    return kfold(load_spec(DIABETES_KFOLD, [f"output.runs_dir={runs}", "split.folds=3", "training.epochs=3",
                                            "training.batch_size=32"]))


@pytest.mark.slow  # a k-fold run with a final model: 4-5 models
def test_final_model_is_retrained_on_the_cv_rows_and_scored_once_on_the_test_rows(diabetes_run):
    run = diabetes_run.run.path
    final = run / "final"
    for name in ("model.keras", "metrics.json", "history.csv", "splits.json", "preprocessing.json", "run.json"):
        assert (final / name).is_file() and (final / name).stat().st_size > 0, name
    assert _read(final / "run.json")["status"] == "completed" and _read(final / "run.json")["kind"] == "final"
    summary = _read(run / "summary.json")
    chosen = chosen_epochs(average_curves([r["history"] for r in diabetes_run.folds]), "val_loss", "min", 3, 3)
    assert summary["final_model"]["epochs"] == chosen
    assert len(_history(final / "history.csv")) == chosen
    assert summary["final_model"]["test_rows"] == round(442 * 0.2) == 88
    metrics = _read(final / "metrics.json")
    assert summary["final_model"]["test"] == metrics["test"]
    assert metrics["test"]["n"] == 88 and np.isfinite(metrics["test"]["mae"])
    assert diabetes_run.final == summary["final_model"]


@pytest.mark.slow  # a k-fold run with a final model: 4-5 models
def test_final_test_rows_are_never_seen_by_any_fold(diabetes_run):
    run = diabetes_run.run.path
    root = _read(run / "splits.json")
    test = set(root["test"])
    assert len(test) == 88
    final_splits = _read(run / "final" / "splits.json")
    assert set(final_splits["test"]) == test and final_splits["validation"] == []
    assert sorted(final_splits["train"] + final_splits["test"]) == list(range(442))
    for folder in _fold_dirs(run):
        splits = _read(folder / "splits.json")
        assert not test & set(splits["train"] + splits["validation"] + splits["test"]), folder.name
    from sklearn.datasets import load_diabetes

    features = load_diabetes().data
    saved = _read(run / "final" / "preprocessing.json")["features"]
    np.testing.assert_allclose(saved["center"], features[final_splits["train"]].mean(axis=0), rtol=1e-9, atol=1e-15)


@pytest.mark.slow  # a k-fold run with a final model: 4-5 models
def test_regression_kfold_writes_the_averaged_mae_curve_plot(diabetes_run):
    run = diabetes_run.run.path
    plot = run / "plots" / "average_mae.png"
    assert plot.is_file() and plot.stat().st_size > 1000
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = _read(run / "summary.json")["average_curves"]
    assert [row["epoch"] for row in curves] == [1, 2, 3]
    assert all(row["folds"] == 3 and "val_mae" in row and "mae" in row for row in curves)
    assert curves[0]["val_mae"] == pytest.approx(np.mean([r["history"][0]["val_mae"] for r in diabetes_run.folds]))
    assert _read(run / "summary.json")["stats"]["mae"] == describe([r["mae"] for r in diabetes_run.summary["folds"]])


# ---- evaluate_any ------------------------------------------------------------------------------------

@pytest.mark.slow  # a k-fold run with a final model: 4-5 models
def test_evaluate_any_on_a_kfold_run_with_a_final_model_evaluates_the_final_model(diabetes_run):
    results = evaluate_any(diabetes_run.run)
    assert len(results) == 1
    (result,) = results
    assert result.run.path == diabetes_run.run.path / "final"
    assert result.folder.parent == diabetes_run.run.path / "final" / "evaluations"
    recorded = _read(diabetes_run.run.path / "final" / "metrics.json")["test"]
    assert result.document["test"]["n"] == 88
    assert result.document["test"]["mae"] == pytest.approx(recorded["mae"], rel=1e-5)


@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_evaluate_any_with_fold_models_evaluates_each_fold_on_its_held_out_rows(iris_run):
    results = evaluate_any(iris_run.run)
    folds = _fold_dirs(iris_run.run.path)
    assert [r.run.path for r in results] == folds
    for result, folder in zip(results, folds):
        recorded = _read(folder / "metrics.json")["test"]
        assert result.document["test"]["n"] == 50
        assert result.document["test"]["accuracy"] == recorded["accuracy"]
        assert result.document["test"]["confusion_matrix"] == recorded["confusion_matrix"]
        assert result.folder.parent == folder / "evaluations"


@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_evaluate_any_on_a_kfold_run_without_kept_models_is_a_user_error(series_run):
    assert not list(series_run.run.path.rglob("model.keras"))
    with pytest.raises(UserError) as caught:
        evaluate_any(series_run.run)
    message = str(caught.value)
    assert "kept no model" in message and "split.final_model" in message and "output.fold_models" in message


# ---- the command line --------------------------------------------------------------------------------

def test_cli_kfold_prints_each_fold_and_the_fold_table(runs_dir):
    result = _invoke("kfold", IRIS_KFOLD, "--set", "split.folds=2", "--set", "training.epochs=1",
                     "--set", "output.plots=false", "--set", "training.batch_size=32", "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    assert "fold 1/2  accuracy=" in result.stdout and "fold 2/2  accuracy=" in result.stdout
    for text in ("mean", "std", "95% CI", "stratified_kfold", "completed", "accuracy"):
        assert text in result.stdout, text
    (run,) = list(runs_dir.iterdir())
    assert _read(run / "run.json")["status"] == "completed"
    summary = _read(run / "summary.json")
    assert f"{summary['stats']['accuracy']['mean']:.4f}" in result.stdout


def test_cli_kfold_on_a_holdout_spec_exits_2_naming_split_protocol(runs_dir):
    result = _invoke("kfold", CONFIGS / "iris.yaml", "--runs-dir", runs_dir)
    assert result.exit_code == 2
    assert "split.protocol" in result.output and "holdout" in result.output
    assert "Traceback" not in result.output
    assert not runs_dir.exists() or not list(runs_dir.iterdir())


def test_kfold_on_a_holdout_spec_is_a_spec_error_at_split_protocol():
    loaded = load_spec(CONFIGS / "iris.yaml")
    with pytest.raises(SpecError) as caught:
        kfold(loaded)
    assert "split.protocol" in str(caught.value) and "stratified_kfold" in str(caught.value)


def test_cli_stratified_kfold_on_a_regression_target_exits_2_with_a_message(runs_dir):
    result = _invoke("kfold", DIABETES_KFOLD, "--set", "split.protocol=stratified_kfold", "--runs-dir", runs_dir)
    assert result.exit_code == 2, (result.exit_code, repr(result.exception))
    assert "stratified_kfold" in result.output and "regression" in result.output


@pytest.mark.slow  # a shared 3-fold run: 3 models
def test_cli_show_of_a_kfold_run_shows_the_fold_table(iris_pristine):
    result = _invoke("show", iris_pristine.name, "--runs-dir", iris_pristine.parent)
    assert result.exit_code == 0, result.output
    summary = _read(iris_pristine / "summary.json")
    for text in ("stratified_kfold", "completed", "mean", "std", "95% CI", "accuracy"):
        assert text in result.stdout, text
    for row in summary["folds"]:
        assert f"{row['accuracy']:.4f}" in result.stdout
    assert f"{summary['stats']['accuracy']['mean']:.4f}" in result.stdout


@pytest.mark.slow  # retrains a fold on top of the shared 3-fold run
def test_cli_kfold_resume_without_config_finishes_the_run(iris_pristine, runs_dir):
    run = _interrupted_copy(iris_pristine, runs_dir, "fold deleted")
    result = _invoke("kfold", "--resume", run.run_id, "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    assert "fold 3/3" in result.stdout and "fold 1/3" not in result.stdout
    assert "folds 1, 2 were already finished" in result.stdout
    assert _read(run.path / "run.json")["status"] == "completed"
    assert _read(run.path / "summary.json") == _read(iris_pristine / "summary.json")
    assert sorted(p.name for p in runs_dir.iterdir()) == [run.run_id]  # no new run was started


def test_cli_kfold_without_config_or_resume_exits_2():
    result = _invoke("kfold")
    assert result.exit_code == 2
    assert "--resume" in result.output
