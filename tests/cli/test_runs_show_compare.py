"""dlrun runs / show / compare / evaluate through the command line (CliRunner), on fabricated
run folders for the listing commands and on two tiny trained runs for compare and evaluate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dlrun import cli
from dlrun.cli import app
from tests.support import ROOT, TINY_IRIS

runner = CliRunner()


def fabricate(runs_dir: Path, run_id: str, *, name: str, status: str = "completed", started: str,
              accuracy: float | None = 0.9, learning_rate: float = 0.001, error: str | None = None) -> Path:
    """A run folder as training leaves it, reduced to what the listing commands read."""
    folder = runs_dir / run_id
    folder.mkdir(parents=True)
    info = {"run_id": run_id, "name": name, "status": status, "started": started, "kind": "train",
            "finished": started.replace("T10:", "T11:"), "seconds": 42.0, "seed": 1,
            "data": {"source": "sklearn:iris", "rows": 150, "split": {"train": 90, "validation": 30, "test": 30}},
            "runtime": {"device": "cpu", "deterministic": False}}
    if error:
        info["error"] = error
    if accuracy is not None:
        info.update(epochs_run=5, best_epoch=4, headline={"name": "test_accuracy", "value": accuracy})
        metrics = {"run_id": run_id, "part": "test",
                   "test": {"task": "multiclass", "target": "target", "n": 30, "accuracy": accuracy,
                            "balanced_accuracy": accuracy - 0.01, "f1_macro": accuracy - 0.02,
                            "baseline": {"kind": "always predict the training majority class 'setosa'",
                                         "accuracy": 0.3333}, "margin_over_baseline": accuracy - 0.3333},
                   "validation_at_best": {"val_loss": 0.25, "val_accuracy": accuracy + 0.01},
                   "fit": {"verdict": "good fit", "flags": []}, "audit": {"flags": []}}
        (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps(info), encoding="utf-8")
    config = {"name": "iris", "seed": 1, "data": {"source": "sklearn:iris", "scale": "standard"},
              "optimizer": {"name": "adam", "learning_rate": learning_rate},
              "training": {"epochs": 5, "batch_size": 32}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


A = "20260301-100000-iris-aaaa"
B = "20260301-100500-iris-bbbb"
C = "20260301-101000-wine-cccc"


@pytest.fixture
def fake_runs(runs_dir):
    fabricate(runs_dir, A, name="iris", started="2026-03-01T10:00:00+00:00", accuracy=0.9, learning_rate=0.001)
    fabricate(runs_dir, B, name="iris", started="2026-03-01T10:05:00+00:00", accuracy=0.8, learning_rate=0.01)
    fabricate(runs_dir, C, name="wine", status="failed", started="2026-03-01T10:10:00+00:00", accuracy=None,
              error="data.target names column 'kind', which is not there")
    return runs_dir


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Rich wraps tables at 80 columns when it is not writing to a terminal; make room for whole ids."""
    monkeypatch.setattr(cli.out, "width", 250)
    monkeypatch.setattr(cli.err, "width", 250)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


# ---- runs ----------------------------------------------------------------------------------------

def test_runs_lists_every_run_in_a_table(fake_runs):
    result = invoke("runs", "--runs-dir", fake_runs)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "3 run(s)" in out
    for run_id in (A, B, C):
        assert run_id in out
    assert out.index(A) < out.index(B) < out.index(C)  # oldest first
    assert "test_accuracy 0.9000" in out and "test_accuracy 0.8000" in out
    assert "failed" in out and "completed" in out
    assert "42.0s" in out  # duration from run.json seconds


def test_runs_json_is_every_run_json_with_its_path(fake_runs):
    result = invoke("runs", "--runs-dir", fake_runs, "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [r["run_id"] for r in listed] == [A, B, C]
    assert [r["status"] for r in listed] == ["completed", "completed", "failed"]
    assert all(Path(r["path"]) == fake_runs / r["run_id"] for r in listed)
    assert listed[0]["headline"] == {"name": "test_accuracy", "value": 0.9}


def test_runs_status_filter_keeps_only_that_status(fake_runs):
    table = invoke("runs", "--runs-dir", fake_runs, "--status", "failed")
    assert table.exit_code == 0
    assert "1 run(s)" in table.stdout and C in table.stdout and A not in table.stdout
    listed = json.loads(invoke("runs", "--runs-dir", fake_runs, "--status", "completed", "--json").stdout)
    assert [r["run_id"] for r in listed] == [A, B]


def test_runs_name_filter_keeps_names_containing_the_text(fake_runs):
    listed = json.loads(invoke("runs", "--runs-dir", fake_runs, "--name", "win", "--json").stdout)
    assert [r["run_id"] for r in listed] == [C]


def test_runs_in_a_missing_runs_dir_lists_nothing(tmp_path):
    result = invoke("runs", "--runs-dir", tmp_path / "nowhere")
    assert result.exit_code == 0
    assert "0 run(s)" in result.stdout
    assert json.loads(invoke("runs", "--runs-dir", tmp_path / "nowhere", "--json").stdout) == []


# ---- show ----------------------------------------------------------------------------------------

def test_show_prints_the_run_card(fake_runs):
    result = invoke("show", A, "--runs-dir", fake_runs)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert A in out and "completed" in out and "iris" in out
    assert "accuracy=0.9000" in out and "balanced_accuracy=0.8900" in out
    assert "good fit" in out
    assert "5 run, best 4" in out
    assert f"folder: {fake_runs / A}" in out.replace("\n", "")


def test_show_json_has_run_metrics_and_path(fake_runs):
    result = invoke("show", B, "--runs-dir", fake_runs, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert set(shown) == {"run", "metrics", "path"}
    assert shown["run"]["run_id"] == B
    assert shown["metrics"]["test"]["accuracy"] == 0.8
    assert Path(shown["path"]) == fake_runs / B


def test_show_accepts_a_prefix_latest_and_a_path(fake_runs):
    assert json.loads(invoke("show", "20260301-1005", "--runs-dir", fake_runs, "--json").stdout)["run"]["run_id"] == B
    assert json.loads(invoke("show", "latest", "--runs-dir", fake_runs, "--json").stdout)["run"]["run_id"] == C
    assert json.loads(invoke("show", fake_runs / A, "--runs-dir", fake_runs, "--json").stdout)["run"]["run_id"] == A


def test_show_failed_run_shows_its_error_and_no_metrics(fake_runs):
    result = invoke("show", C, "--runs-dir", fake_runs)
    assert result.exit_code == 0, result.output
    assert "failed — data.target names column 'kind'" in result.stdout
    assert json.loads(invoke("show", C, "--runs-dir", fake_runs, "--json").stdout)["metrics"] is None


def test_show_unknown_run_exits_2_with_a_clear_message_and_no_traceback(fake_runs):
    result = invoke("show", "nope", "--runs-dir", fake_runs)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"error: no run 'nope' in {fake_runs}" in result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_show_typo_suggests_the_close_run(fake_runs):
    result = invoke("show", A[:-1] + "b", "--runs-dir", fake_runs)
    assert result.exit_code == 2
    assert f"did you mean '{A}'?" in result.stderr


def test_show_ambiguous_prefix_exits_2_listing_the_matches(fake_runs):
    result = invoke("show", "20260301", "--runs-dir", fake_runs)
    assert result.exit_code == 2
    assert "matches 3 runs" in result.stderr and A in result.stderr and C in result.stderr


def test_show_dotdot_exits_2(fake_runs, monkeypatch):
    monkeypatch.chdir(fake_runs)
    result = invoke("show", "../etc", "--runs-dir", fake_runs)
    assert result.exit_code == 2
    assert "not a run directory" in result.stderr


# ---- compare --------------------------------------------------------------------------------------

def test_compare_shows_metrics_side_by_side_and_the_differing_config_keys(fake_runs):
    result = invoke("compare", A, B, "--runs-dir", fake_runs)
    assert result.exit_code == 0, result.output
    out = result.stdout
    metrics_part, diff_part = out.split("config differences")
    assert A in metrics_part and B in metrics_part
    accuracy_line = next(line for line in metrics_part.splitlines() if "test accuracy" in line)
    assert accuracy_line.index("0.9000") < accuracy_line.index("0.8000")
    assert "val_accuracy" in metrics_part
    lr_line = next(line for line in diff_part.splitlines() if "optimizer.learning_rate" in line)
    assert lr_line.index("0.0010") < lr_line.index("0.0100")
    assert "optimizer.name" not in diff_part and "training.epochs" not in diff_part


def test_compare_json_lists_only_the_differing_config_keys(fake_runs):
    result = invoke("compare", A, B, "--runs-dir", fake_runs, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["config_differences"] == {"optimizer.learning_rate": [0.001, 0.01]}
    assert [r["run"]["run_id"] for r in document["runs"]] == [A, B]
    assert [r["metrics"]["test"]["accuracy"] for r in document["runs"]] == [0.9, 0.8]


def test_compare_identical_configs_says_so(fake_runs):
    result = invoke("compare", A, A, "--runs-dir", fake_runs)
    assert result.exit_code == 0
    assert "(the resolved configs are identical)" in result.stdout


def test_compare_a_run_without_metrics_shows_dashes(fake_runs):
    result = invoke("compare", A, C, "--runs-dir", fake_runs)
    assert result.exit_code == 0, result.output
    accuracy_line = next(line for line in result.stdout.splitlines() if "test accuracy" in line)
    assert "0.9000" in accuracy_line and "—" in accuracy_line


def test_compare_with_one_run_exits_2(fake_runs):
    result = invoke("compare", A, "--runs-dir", fake_runs)
    assert result.exit_code == 2
    assert "compare needs at least two runs" in result.stderr
    assert "Traceback" not in result.output


def test_compare_with_an_unknown_run_exits_2(fake_runs):
    result = invoke("compare", A, "nope", "--runs-dir", fake_runs)
    assert result.exit_code == 2
    assert "no run 'nope'" in result.stderr


# ---- on real runs ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(trained_run, tmp_path_factory):
    """Two tiny iris runs in one runs directory that differ only in the learning rate."""
    runs = tmp_path_factory.mktemp("cli") / "runs"
    first = trained_run(TINY_IRIS, "optimizer.learning_rate=0.01", runs_dir=runs)
    second = trained_run(TINY_IRIS, "optimizer.learning_rate=0.05", runs_dir=runs)
    return runs, first, second


def test_compare_real_runs_shows_the_learning_rate_difference(trained):
    runs, first, second = trained
    result = invoke("compare", first.run.run_id, second.run.run_id, "--runs-dir", runs, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["config_differences"] == {"optimizer.learning_rate": [0.01, 0.05]}
    table = invoke("compare", first.run.run_id, second.run.run_id, "--runs-dir", runs)
    assert "optimizer.learning_rate" in table.stdout and "test accuracy" in table.stdout


def test_evaluate_latest_exits_0_and_prints_the_accuracy(trained):
    runs, _, second = trained
    result = invoke("evaluate", "latest", "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    accuracy = second.metrics["test"]["accuracy"]
    assert second.run.run_id in result.stdout
    assert f"{accuracy:.4f}" in next(line for line in result.stdout.splitlines() if " accuracy " in line)
    assert "report:" in result.stdout


def test_evaluate_json_prints_the_metrics_and_the_folder(trained):
    runs, first, _ = trained
    result = invoke("evaluate", first.run.run_id, "--runs-dir", runs, "--json", "--split", "validation")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["part"] == "validation"
    assert Path(document["folder"]).parent == first.run.file("evaluations")
    assert (Path(document["folder"]) / "report.md").is_file()


def test_evaluate_unknown_split_exits_2(trained):
    runs, first, _ = trained
    result = invoke("evaluate", first.run.run_id, "--runs-dir", runs, "--split", "everything")
    assert result.exit_code == 2
    assert "--split must be one of test, validation, train" in result.stderr


def test_evaluate_in_an_empty_runs_dir_exits_2(tmp_path):
    result = invoke("evaluate", "latest", "--runs-dir", tmp_path)
    assert result.exit_code == 2
    assert "no runs in" in result.stderr and "Traceback" not in result.output


def test_show_of_a_real_run_lists_its_test_metrics(trained):
    runs, first, _ = trained
    result = invoke("show", first.run.run_id, "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    assert f"accuracy={first.metrics['test']['accuracy']:.4f}" in result.stdout


# ---- in a fresh interpreter ------------------------------------------------------------------------

LISTING_WITHOUT_HEAVY_IMPORTS = """
import json, sys
from typer.testing import CliRunner
from dlrun.cli import app
runs, a, b = sys.argv[1:4]
runner = CliRunner()
for args in (["runs", "--runs-dir", runs], ["runs", "--runs-dir", runs, "--json"],
             ["runs", "--runs-dir", runs, "--status", "failed"],
             ["show", a, "--runs-dir", runs], ["show", "latest", "--runs-dir", runs, "--json"],
             ["compare", a, b, "--runs-dir", runs], ["compare", a, b, "--runs-dir", runs, "--json"],
             ["show", "nope", "--runs-dir", runs]):
    result = runner.invoke(app, args)
    assert result.exit_code == (2 if "nope" in args else 0), (args, result.output, result.exception)
print(json.dumps(sorted(m for m in ("tensorflow", "keras", "sklearn", "matplotlib") if m in sys.modules)))
"""


@pytest.mark.slow  # a fresh Python process
def test_runs_show_and_compare_do_not_import_tensorflow_keras_sklearn_or_matplotlib(fake_runs):
    proc = subprocess.run([sys.executable, "-c", LISTING_WITHOUT_HEAVY_IMPORTS, str(fake_runs), A, B],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


@pytest.mark.slow  # four fresh Python processes
def test_listing_commands_answer_for_fifty_runs(tmp_path):
    runs = tmp_path / "runs"
    ids = []
    for i in range(50):
        run_id = f"20260401-10{i // 60:02d}{i % 60:02d}-exp{i:02d}-{i:04x}"
        fabricate(runs, run_id, name=f"exp{i:02d}", started=f"2026-04-01T10:{i // 60:02d}:{i % 60:02d}+00:00",
                  accuracy=0.5 + i / 100, learning_rate=0.001 * (i + 1),
                  status="failed" if i % 10 == 0 else "completed")
        ids.append(run_id)
    env = {**os.environ, "COLUMNS": "250"}
    commands = {"runs": ["runs", "--runs-dir", str(runs)],
                "runs --json": ["runs", "--runs-dir", str(runs), "--json"],
                "show": ["show", ids[17], "--runs-dir", str(runs)],
                "compare": ["compare", ids[3], ids[47], ids[25], "--runs-dir", str(runs)]}
    timings, outputs = {}, {}
    for label, args in commands.items():
        script = ("import sys, time; t = time.perf_counter(); from dlrun.cli import app\n"
                  "try:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
                  "print(f'__seconds__ {time.perf_counter() - t:.3f}', file=sys.stderr); sys.exit(code)")
        proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=120, env=env)
        assert proc.returncode == 0, (label, proc.stderr)
        timings[label] = float(proc.stderr.rsplit("__seconds__ ", 1)[1])
        outputs[label] = proc.stdout
    print("wall seconds with 50 runs:", timings)
    assert "50 run(s)" in outputs["runs"]
    assert all(run_id in outputs["runs"] for run_id in ids)
    listed = json.loads(outputs["runs --json"])
    assert len(listed) == 50 and [r["run_id"] for r in listed] == ids
    assert ids[17] in outputs["show"] and "accuracy=0.6700" in outputs["show"]
    assert "optimizer.learning_rate" in outputs["compare"]
    accuracy_line = next(line for line in outputs["compare"].splitlines() if "test accuracy" in line)
    assert [accuracy_line.index(v) for v in ("0.5300", "0.9700", "0.7500")] == \
        sorted(accuracy_line.index(v) for v in ("0.5300", "0.9700", "0.7500"))
