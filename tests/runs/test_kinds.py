"""The run-kinds table: which folder's model stands for a run (evaluate, predict and export agree),
and which resumes are refused."""

from __future__ import annotations

import json

import pytest

from dlrun.errors import UserError
from dlrun.runs import artifacts
from dlrun.runs.kinds import kind_of, models_of, the_model


def _run(folder, kind: str, *models: str):
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"kind": kind, "status": "completed"}))
    for where in models:
        (folder / where).mkdir(parents=True, exist_ok=True)
        (folder / where / "model.keras").write_bytes(b"stand-in")
    return folder


def test_a_kfold_run_is_stood_for_by_its_final_model_else_its_fold_models(tmp_path):
    both = _run(tmp_path / "both", "kfold", "final", "folds/01", "folds/02")
    assert models_of(both, {"kind": "kfold"}) == [artifacts.final_folder(both)]
    assert the_model(both, {"kind": "kfold"}) == artifacts.final_folder(both)
    folds = _run(tmp_path / "folds", "kfold", "folds/01", "folds/02")
    assert models_of(folds, {"kind": "kfold"}) == artifacts.fold_folders(folds)
    with pytest.raises(UserError, match="no final model to export .*folds/01"):
        the_model(folds, {"kind": "kfold"}, "export")


def test_a_sweep_is_stood_for_by_its_retrained_best_only(tmp_path):
    sweep = _run(tmp_path / "sweep", "sweep", "trials/000")
    with pytest.raises(UserError, match="retrain_best: true makes one; or name its best trial: SWEEP:best"):
        models_of(sweep, {"kind": "sweep"})
    (sweep / "best").mkdir()
    (sweep / "best" / "model.keras").write_bytes(b"stand-in")
    assert the_model(sweep, {"kind": "sweep"}, "predict with") == artifacts.best_folder(sweep)


def test_a_train_run_without_its_model_says_why(tmp_path):
    run = _run(tmp_path / "run", "train")
    with pytest.raises(UserError, match="kept no model.*output.save_model was off"):
        models_of(run, {"kind": "train"})
    dropped = {"kind": "train", "model_dropped_because": "sweep.keep: best"}
    with pytest.raises(UserError, match="sweep trial whose model was not kept"):
        the_model(run, dropped)


@pytest.mark.parametrize("kind, wanted, message", [
    ("train", "kfold", "is not a k-fold run but a `dlrun train` run"),
    ("fold", "kfold", "is not a k-fold run but one fold of a k-fold run"),
    ("kfold", "sweep", "is not a sweep but a k-fold run"),
])
def test_resuming_with_the_wrong_command_names_the_right_one(kind, wanted, message):
    with pytest.raises(UserError, match=message):
        kind_of({"kind": kind}).refuse_resume({"status": "interrupted"}, "RUN", wanted)


def test_a_completed_run_is_not_resumed():
    with pytest.raises(UserError, match="k-fold run RUN already completed"):
        kind_of({"kind": "kfold"}).refuse_resume({"status": "completed"}, "RUN", "kfold")
