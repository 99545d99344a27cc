"""The imbalance remedies end to end: class_weight finds the positives an unweighted fit misses;
resampling leaves the split and the evaluated rows as they were; the report names the remedy."""

from __future__ import annotations

import pytest

from dlrun.runs import artifacts
from tests.support import CONFIGS

EXAMPLE = CONFIGS / "imbalanced_binary.yaml"
QUICK = ("training.epochs=5", "output.plots=false", "output.save_model=false")


def positive_recall(result) -> float:
    return result.metrics[result.metrics["part"]]["per_class"]["1"]["recall"]


@pytest.mark.slow
def test_balanced_class_weight_lifts_the_positive_recall_above_zero(trained_run):
    plain = trained_run(EXAMPLE, *QUICK, "training.class_weight=null")
    weighted = trained_run(EXAMPLE, *QUICK)
    assert positive_recall(plain) == 0.0
    assert positive_recall(weighted) > 0.0
    held_out = weighted.metrics[weighted.metrics["part"]]
    assert held_out["balanced_accuracy"] > plain.metrics[plain.metrics["part"]]["balanced_accuracy"]
    remedy = artifacts.read_metrics(weighted.run.path)["imbalance_remedy"]
    assert remedy["resample"] == "none" and remedy["class_weight"]["1"] > remedy["class_weight"]["0"]
    report = artifacts.report_path(weighted.run.path).read_text(encoding="utf-8")
    assert "## Class imbalance remedy" in report and "training.class_weight" in report
    assert "balanced_accuracy" in report
    assert "training.class_weight: balanced" in " ".join(plain.metrics["audit"]["flags"])


@pytest.mark.slow
@pytest.mark.parametrize("how", ["oversample", "undersample"])
def test_resampled_training_keeps_the_split_and_the_evaluated_rows(trained_run, how):
    quick = ("training.epochs=1", "output.plots=false", "output.save_model=false", "training.class_weight=null")
    plain = trained_run(EXAMPLE, *quick)
    resampled = trained_run(EXAMPLE, *quick, f"data.resample={how}")
    before, after = artifacts.read_splits(plain.run.path), artifacts.read_splits(resampled.run.path)
    for part in ("train", "validation", "test"):   # splits.json lists the real rows
        assert before[part] == after[part]
    assert after["resample"]["method"] == how and after["resample"]["fit_rows"] != len(after["train"])
    part = plain.metrics["part"]
    assert resampled.metrics["part"] == part
    assert resampled.metrics[part]["n"] == plain.metrics[part]["n"]
    supports = [{c: v["support"] for c, v in r.metrics[part]["per_class"].items()} for r in (plain, resampled)]
    assert supports[0] == supports[1]
    assert resampled.metrics["split"] == plain.metrics["split"]
    report = artifacts.report_path(resampled.run.path).read_text(encoding="utf-8")
    assert f"data.resample: {how}" in report
