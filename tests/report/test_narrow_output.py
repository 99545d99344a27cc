"""At 80 columns (and narrower) the runs table, the k-fold summary and the model summary wrap, drop
low-priority columns or transpose: no cell is cut to '…', and the key words appear whole."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from dlrun.report.cv_summary import summarize
from dlrun.report.model_summary import ModelSummary, summary_table
from dlrun.report.runs_view import kfold_card, runs_table

TARGETS = ("Weight", "Waist", "Pulse")  # sklearn:linnerud's three targets


def rendered(renderable, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


def assert_readable(text: str, width: int, *words: str) -> None:
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= width, text
    for word in words:
        assert word in text, f"{word!r} is not shown whole:\n{text}"


# ---- dlrun runs ------------------------------------------------------------------------------------

RUNS = [{"run_id": f"20260301-1200{i:02d}-digits-mlp-wide-search-{i:04x}", "name": "digits-mlp-wide-search",
         "status": status, "backend": "tensorflow", "started": f"2026-03-01T12:00:{i:02d}+00:00", "seconds": 73.5,
         "headline": {"name": "test_balanced_accuracy", "value": 0.91234}}
        for i, status in enumerate(("completed", "interrupted", "failed", "diverged"))]


@pytest.mark.parametrize("width", [80, 100, 60])
def test_the_runs_table_keeps_ids_and_statuses_whole_and_names_what_it_left_out(width):
    text = rendered(runs_table(RUNS), width)
    assert_readable(text, width, "id", "status", *(r["run_id"] for r in RUNS), "interrupted", "diverged")
    assert "not shown at this width:" in text


def test_at_80_columns_the_runs_table_still_shows_the_headline_metric():
    text = rendered(runs_table(RUNS), 80)
    assert_readable(text, 80, "headline", "test_balanced_accuracy 0.9123")
    assert "started" in text.split("not shown at this width:")[1]  # the run id begins with the start


def test_short_run_ids_leave_room_for_the_duration_at_80_columns():
    runs = [{**run, "run_id": f"20260301-1200{i:02d}-iris-{i:04x}"} for i, run in enumerate(RUNS)]
    text = rendered(runs_table(runs), 80)
    assert_readable(text, 80, "duration", "73.5s", "test_balanced_accuracy", *(r["run_id"] for r in runs))


def test_a_very_narrow_console_stacks_status_and_headline_under_the_id():
    text = rendered(runs_table(RUNS), 50)
    assert_readable(text, 50, *(r["run_id"] for r in RUNS), "interrupted", "test_balanced_accuracy")


def test_a_wide_console_shows_every_column_on_one_line_per_run():
    text = rendered(runs_table(RUNS), 200)
    assert_readable(text, 200, "name", "backend", "started", "2026-03-01 12:00:00", "test_balanced_accuracy 0.9123")
    assert "not shown" not in text
    assert len(text.splitlines()) == 5 + len(RUNS)  # title, 3 header rules and names, a line per run, bottom


def test_no_runs_is_an_empty_table():
    assert_readable(rendered(runs_table([]), 80), 80, "0 run(s)")


# ---- the k-fold summary ----------------------------------------------------------------------------

def _regression(seed: int) -> dict:
    return {"task": "regression", "mae": 10.0 + seed, "mse": 150.5 * seed, "rmse": 12.25 + seed, "r2": -3.5 + seed,
            "baseline": {"mae": 20.0 - seed}}


def _summary(folds: list[dict]) -> dict:
    return {"protocol": "kfold", "n_folds": len(folds), **summarize(folds)}


def test_a_kfold_summary_of_several_targets_is_one_block_per_target_at_80_columns():
    folds = [{"fold": i, "repeat": 0, "metrics": {t: _regression(i + j) for j, t in enumerate(TARGETS)}}
             for i in range(1, 4)]
    text = rendered(kfold_card({"run_id": "20260301-120000-linnerud-kfold-ab12", "status": "completed"},
                               _summary(folds)), 80)
    assert_readable(text, 80, *TARGETS, "baseline_mae", "rmse", "mean", "std", "95% CI", "13.2500")
    assert "Weight.mae" not in text and not re.search(r"\bmse\b", text)  # the target titles its block; mse: rmse²
    assert text.index("Weight") < text.index("Waist") < text.index("Pulse")


def test_many_classification_metrics_and_ten_folds_turn_to_metrics_as_rows():
    metrics = {"task": "multiclass", "accuracy": 0.9, "balanced_accuracy": 0.8875, "f1_macro": 0.88,
               "roc_auc_ovr": 0.97, "log_loss": 0.3312, "baseline": {"accuracy": 0.3333}}
    folds = [{"fold": i, "repeat": 0, "metrics": {**metrics, "accuracy": 0.8 + i / 100}} for i in range(1, 11)]
    text = rendered(kfold_card({"run_id": "r", "status": "completed"}, _summary(folds)), 80)
    assert_readable(text, 80, "balanced_accuracy", "baseline_accuracy", "roc_auc_ovr", "folds 1–10", "0.8100",
                    "0.9000")
    header = next(line for line in text.splitlines() if "metric" in line)
    assert "mean" in header and "std" in header  # transposed: the statistics are the columns


def test_a_wide_console_keeps_folds_as_rows():
    folds = [{"fold": i, "repeat": 0, "metrics": _regression(i)} for i in range(1, 4)]
    text = rendered(kfold_card({"run_id": "r", "status": "completed"}, _summary(folds)), 120)
    header = next(line for line in text.splitlines() if "fold" in line and "mae" in line)
    assert "baseline_mae" in header and "metric" not in text


# ---- validate --build: the model summary -----------------------------------------------------------

LAYERS = ModelSummary("reviews", [
    {"layer": "words", "type": "InputLayer", "output shape": "(None, 12)", "parameters": 0},
    {"layer": "pooled_embedding_of_the_words", "type": "GlobalAveragePooling1D", "output shape": "(None, 8)",
     "parameters": 0},
    {"layer": "stars_head", "type": "Dense", "output shape": "(None, 12, 12, 1)", "parameters": 1234567},
], trainable=1234000, non_trainable=567)


@pytest.mark.parametrize("width", [80, 60])
def test_the_model_summary_is_a_table_of_layers_with_totals(width):
    text = rendered(summary_table(LAYERS), width)
    assert_readable(text, width, "pooled_embedding_of_the_words", "GlobalAveragePooling1D", "1,234,567",
                    "trainable 1,234,000", "non-trainable", "parameters: 1,234,567")
    assert "Total params" not in text  # not Keras's own printed text
