"""`dlrun compare --plot` on every kind of run it may be given, all real and tiny (iris, 2 epochs):
a sweep's trials (labelled SWEEP:NNN with their parameters), k-fold runs (their folds' mean
validation curve with a min–max band, or refused when the folds have none), a model trained
without a validation part (drawn in a training panel, never on a val_ axis), training and
validation asked together (a panel each); the hints name compare's real options; and the sweep
report's warning on importances drawn from too few trials.

What feeds the plot (comparison_panels, comparison_series) is checked, not its pixels. The module's
runs (a 3-trial sweep and two 2-fold k-fold runs) take 15-30 s to make, so its tests are marked slow.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.protocols.kfold import kfold
from dlrun.protocols.sweep import sweep_or_resume
from dlrun.report.plots import BAND, _grid, comparison_series
from dlrun.report.sweep_report import MIN_TRIALS_FOR_IMPORTANCES, importance_warning
from dlrun.runs import artifacts
from dlrun.runs.lookup import resolve_run
from dlrun.runs.overview import comparison_panels
from dlrun.spec import load_spec
from tests.support import ANSI, CONFIGS, TINY_IRIS, assert_refused, combined_output, write_dedented

pytestmark = pytest.mark.slow

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"

SWEEP = TINY_IRIS + """
split: {test: 0.2, validation: 0.2}
output: {plots: false}
sweep:
  trials: 3
  seed: 11
  pruner: none
  params:
    optimizer.learning_rate: {loguniform: [0.001, 0.1]}
    model.layers[0].Dense.units: {int: [4, 16], step: 4}
"""
KFOLD = ["training.epochs=2", "split.folds=2", "training.batch_size=16", "output.plots=false"]


class Made:
    """The runs of this module, in one runs directory."""

    def __init__(self, root: Path):
        self.runs = root / "runs"
        spec = write_dedented(root / "sweep.yaml", SWEEP)
        self.sweep = sweep_or_resume(spec, [f"output.runs_dir={json.dumps(str(self.runs))}"]).run
        self.kfold = self._kfold("split.curves=true").run          # folds scored after every epoch
        self.kfold_once = self._kfold("split.final_model=true").run  # iris_kfold.yaml: split.curves false

    def _kfold(self, *sets: str):
        return kfold(load_spec(CONFIGS / "iris_kfold.yaml", [f"output.runs_dir={self.runs}", *KFOLD, *sets]))

    def trial(self, number: int):
        return resolve_run(f"{self.sweep.run_id}:{number}", self.runs)

    def compare(self, *args: str):
        result = runner.invoke(app, ["compare", *map(str, args), "--runs-dir", str(self.runs)], env={"COLUMNS": "300"})
        return result, ANSI.sub("", combined_output(result))


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Made:
    return Made(tmp_path_factory.mktemp("compare-kinds"))


def _by_column(series: list[dict]) -> dict[str, dict]:
    return {panel["column"]: panel for panel in series}


def _comparisons(made: Made) -> list[Path]:
    folder = made.runs / artifacts.COMPARISONS
    return sorted(folder.iterdir()) if folder.is_dir() else []


# ---- sweep trials: SWEEP:NNN and their parameters -------------------------------------------------

def test_a_trial_is_labelled_by_its_sweep_and_number_with_its_parameters(made):
    trials = [made.trial(0), made.trial(1)]
    series = comparison_series(comparison_panels(trials, "val_loss"))
    assert [panel["column"] for panel in series] == ["val_loss"]
    for trial, line in zip(trials, series[0]["lines"]):
        params = artifacts.read_info(trial.path)["params"]
        name = f"{made.sweep.run_id}:{trial.path.name}"
        assert line["run"] == name and line["label"].startswith(name + " (")
        assert f"learning_rate={params['optimizer.learning_rate']:.3g}" in line["label"]
        assert f"Dense.units={params['model.layers[0].Dense.units']}" in line["label"]
        assert line["band"] is None
        assert resolve_run(line["run"], made.runs).path == trial.path  # the label is a name the CLI accepts
    assert series[0]["lines"][0]["label"] != series[0]["lines"][1]["label"]


def test_compare_plot_of_two_trials_writes_the_png(made, tmp_path):
    target = tmp_path / "trials.png"
    result, output = made.compare(f"{made.sweep.run_id}:0", f"{made.sweep.run_id}:2", "--plot", "-o", target)
    assert result.exit_code == 0, output
    assert target.read_bytes().startswith(PNG)


def test_the_sweep_itself_is_refused_with_the_trial_syntax(made):
    before = _comparisons(made)
    result, output = made.compare(made.sweep.run_id, f"{made.sweep.run_id}:1", "--plot")
    assert_refused(result, output, f"{made.sweep.run_id} is a sweep", f"{made.sweep.run_id}:N",
                   f"{made.sweep.run_id}:best")
    assert _comparisons(made) == before


# ---- k-fold runs: the folds' mean validation curve with a band --------------------------------------

def test_a_kfold_run_is_its_folds_mean_validation_curve_with_a_min_max_band(made):
    panels = comparison_panels([made.kfold, made.trial(0)], "val_loss")
    assert list(panels) == ["val_loss"]  # the k-fold run is not drawn from its final model's training loss
    curve = panels["val_loss"][0]
    folds = [artifacts.read_history(f) for f in artifacts.fold_folders(made.kfold.path)]
    assert curve.folds == len(folds) == 2
    assert curve.epochs == [1, 2]
    for index in range(2):
        values = [rows[index]["val_loss"] for rows in folds]
        assert curve.values[index] == pytest.approx(sum(values) / len(values))
        assert (curve.low[index], curve.high[index]) == (pytest.approx(min(values)), pytest.approx(max(values)))
    line = comparison_series(panels)[0]["lines"][0]
    assert line["run"] == made.kfold.run_id
    assert "mean of 2 folds" in line["label"] and BAND in line["label"] and "min–max" in BAND
    assert line["band"] == (curve.low, curve.high)


def test_a_kfold_run_whose_folds_have_no_validation_curve_is_refused_with_the_reason(made):
    before = _comparisons(made)
    result, output = made.compare(made.kfold_once.run_id, made.kfold.run_id, "--plot", "--metric", "val_accuracy")
    assert_refused(result, output, f"k-fold run {made.kfold_once.run_id}", "folds have no 'val_accuracy'",
                   "split.curves: false", "--metric")
    assert _comparisons(made) == before


def test_a_kfold_run_without_validation_curves_still_plots_its_training_curve(made, tmp_path):
    result, output = made.compare(made.kfold_once.run_id, made.kfold.run_id, "--plot", "--metric", "loss",
                                  "-o", tmp_path / "loss.png")
    assert result.exit_code == 0, output
    panels = comparison_panels([made.kfold_once, made.kfold], "loss")
    assert [c.folds for c in panels["loss"]] == [2, 2]


# ---- training and validation: never on one axis -------------------------------------------------

def test_training_and_validation_asked_together_are_two_panels_side_by_side(made, tmp_path):
    runs = [made.trial(0), made.kfold]
    series = comparison_series(comparison_panels(runs, "val_loss,loss"))
    assert [(p["column"], p["title"]) for p in series] == [("loss", "training loss per epoch"),
                                                          ("val_loss", "validation loss per epoch")]
    trial_rows = artifacts.read_history(made.trial(0).path)
    panels = _by_column(series)
    assert panels["loss"]["lines"][0]["values"] == [row["loss"] for row in trial_rows]
    assert panels["val_loss"]["lines"][0]["values"] == [row["val_loss"] for row in trial_rows]
    assert _grid(series) == (["loss"], [False, True])  # one row: training left, validation right
    result, output = made.compare(f"{made.sweep.run_id}:0", made.kfold.run_id, "--plot", "--metric", "loss,val_loss",
                                  "-o", tmp_path / "both.png")
    assert result.exit_code == 0, output
    assert (tmp_path / "both.png").read_bytes().startswith(PNG)


def test_a_run_without_validation_is_drawn_in_a_training_panel_not_on_the_val_axis(made):
    final = resolve_run(str(artifacts.final_folder(made.kfold_once.path)), made.runs)
    series = _by_column(comparison_series(comparison_panels([made.trial(0), final], "val_loss")))
    assert list(series) == ["loss", "val_loss"]
    assert [line["run"] for line in series["val_loss"]["lines"]] == [f"{made.sweep.run_id}:000"]
    (stand_in,) = series["loss"]["lines"]
    assert stand_in["run"] == f"{made.kfold_once.run_id}/final"
    assert "no val_loss" in stand_in["label"] and series["loss"]["title"] == "training loss per epoch"
    assert stand_in["values"] == [row["loss"] for row in artifacts.read_history(final.path)]


def test_one_metric_is_one_panel_as_before(made):
    result, output = made.compare(f"{made.sweep.run_id}:0", f"{made.sweep.run_id}:1", "--plot")
    assert result.exit_code == 0, output
    path = Path(output.strip())
    assert path.parent == made.runs / "comparisons" and path.name.endswith("-val_loss.png")
    assert path.read_bytes().startswith(PNG)
    series = comparison_series(comparison_panels([made.trial(0), made.trial(1)], "accuracy"))
    assert [(p["column"], p["title"]) for p in series] == [("accuracy", "accuracy per epoch")]


# ---- hints name compare's real options ----------------------------------------------------------------

def test_every_option_a_compare_error_names_is_an_option_of_compare(made):
    help_text = ANSI.sub("", runner.invoke(app, ["compare", "--help"], env={"COLUMNS": "300"}).output)
    options = set(re.findall(r"--[a-z][a-z-]*", help_text))
    trial = f"{made.sweep.run_id}:0"
    cases = [(trial, made.kfold.run_id, "--plot", "--metric", "val_f1"),
             (made.kfold_once.run_id, trial, "--plot", "--metric", "val_loss"),
             (trial, made.sweep.run_id, "--plot"),
             (trial, f"{made.sweep.run_id}:1", "--plot", "--metric", " , ")]
    for args in cases:
        result, output = made.compare(*args)
        assert_refused(result, output)
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", output))
        assert named <= options, f"{args}: {named - options} are not options of compare:\n{output}"
    result, output = made.compare(*cases[0])
    assert "--metric METRIC" in output and "--plot METRIC" not in output


# ---- the sweep report: importances from few trials ----------------------------------------------------

def test_the_sweep_report_warns_that_importances_from_3_trials_are_unreliable(made):
    report = (made.sweep.path / "report.md").read_text(encoding="utf-8")
    section = report.split("## Which parameters mattered", 1)[1]
    assert "| parameter | importance |" in section  # fANOVA did report importances ...
    assert "**Warning: only 3 completed trials" in section and "unreliable" in section  # ... and they are flagged
    assert f"fewer than {MIN_TRIALS_FOR_IMPORTANCES}" in section
    assert section.index("Warning") < section.index("| parameter |")
    assert (made.sweep.path / "plots" / "param_importances.png").read_bytes().startswith(PNG)


def test_the_importance_warning_stops_at_the_named_constant():
    assert MIN_TRIALS_FOR_IMPORTANCES == 10
    assert "only 9 completed trials" in importance_warning(9)
    assert "only 1 completed trial:" in importance_warning(1)
    assert importance_warning(MIN_TRIALS_FOR_IMPORTANCES) is None
