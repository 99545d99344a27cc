"""`dlrun compare --plot`: runs' per-epoch curves overlaid in one PNG; and the k-fold averaged
curves with a ±1 std band over folds and a line at the final model's epoch count."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.report.cv_summary import average_curves
from tests.support import TINY_IRIS

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def two_runs(trained_run, tmp_path_factory):
    """A smaller and a bigger model trained into one runs directory (as the seeds compare them)."""
    runs_dir = tmp_path_factory.mktemp("compare") / "runs"
    small = trained_run(TINY_IRIS, runs_dir=runs_dir)
    big = trained_run(TINY_IRIS.replace("units: 8", "units: 32"), runs_dir=runs_dir)
    return runs_dir, small.run.run_id, big.run.run_id


def test_compare_plot_writes_one_png_into_the_runs_directory(two_runs):
    runs_dir, small, big = two_runs
    result = runner.invoke(app, ["compare", small, big, "--runs-dir", str(runs_dir), "--plot"])
    assert result.exit_code == 0, result.output
    from pathlib import Path

    path = Path(result.output.strip())
    assert path.parent == runs_dir / "comparisons" and path.name.endswith("-val_loss.png")
    payload = path.read_bytes()
    assert payload.startswith(PNG) and len(payload) > 5000
    listed = runner.invoke(app, ["runs", "--runs-dir", str(runs_dir), "--json"])
    assert listed.exit_code == 0 and "comparisons" not in listed.output  # the folder is not a run


def test_compare_plot_with_a_metric_and_an_output_file(two_runs, tmp_path):
    runs_dir, small, big = two_runs
    target = tmp_path / "out" / "acc.png"
    result = runner.invoke(app, ["compare", small, big, "--runs-dir", str(runs_dir), "--plot", "--metric", "accuracy",
                                 "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert str(target) in result.output.replace("\n", "")
    assert target.read_bytes().startswith(PNG)


def test_compare_plot_of_a_metric_no_run_has_is_a_clear_error(two_runs):
    runs_dir, small, big = two_runs
    before = sorted((runs_dir / "comparisons").glob("*")) if (runs_dir / "comparisons").exists() else []
    result = runner.invoke(app, ["compare", small, big, "--runs-dir", str(runs_dir), "--plot", "--metric", "val_f1"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "has no 'val_f1' per epoch" in result.output and "val_loss" in result.output
    after = sorted((runs_dir / "comparisons").glob("*")) if (runs_dir / "comparisons").exists() else []
    assert after == before  # nothing written


def test_compare_without_plot_is_unchanged(two_runs):
    runs_dir, small, big = two_runs
    result = runner.invoke(app, ["compare", small, big, "--runs-dir", str(runs_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["runs"]) == 2


def test_average_curves_gives_the_per_epoch_std_only_when_asked():
    histories = [[{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}],
                 [{"epoch": 1, "loss": 3.0}]]
    assert average_curves(histories) == [{"epoch": 1, "folds": 2, "loss": 2.0}, {"epoch": 2, "folds": 1, "loss": 0.5}]
    spread = average_curves(histories, with_std=True)
    assert spread[0]["loss_std"] == pytest.approx(2 ** 0.5)  # sample std of 1 and 3
    assert spread[1]["loss_std"] == 0.0  # one fold: no spread


def test_kfold_curve_plot_draws_the_band_and_the_final_model_marker(tmp_path):
    from dlrun.report.plots import learning_curves

    curves = [{"epoch": e, "loss": 1.0 / e, "loss_std": 0.1, "val_loss": 1.2 / e, "val_loss_std": 0.2}
              for e in range(1, 6)]
    images = learning_curves(curves, tmp_path, prefix="average_", spread=True, marker_epoch=3)
    assert [p.name for p in images] == ["average_loss.png"]  # the std columns are bands, not plots
    payload = images[0].read_bytes()
    assert payload.startswith(PNG) and len(payload) > 5000
