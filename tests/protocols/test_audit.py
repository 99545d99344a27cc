"""`dlrun audit RUN`: the nine items on real runs (the bundled digits example, a planted leakage case,
k-fold and sweep runs), the files it writes, its exit codes as a CI gate, `--reproduce`, and the files
every run now keeps for it (model summary, environment lock)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from dlrun.protocols.audit import audit
from dlrun.runs.rundir import RunDir
from dlrun.spec import load_spec
from tests.support import CONFIGS, ROOT, TINY_IRIS, child_env, write_dedented

ITEMS = ["data_integrity", "preprocessing", "data_split", "architecture", "tuning", "performance", "training",
         "monitoring", "reproducibility"]


def _items(result) -> dict:
    return {item.key: item for item in result.items}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dlrun", *args], cwd=ROOT, env=child_env(), capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_the_bundled_digits_run_passes_what_it_can_and_explains_each_warning(trained_run):
    run = trained_run(CONFIGS / "digits_mlp.yaml", "output.plots=false").run
    result = audit(run)
    items = _items(result)
    assert list(items) == ITEMS
    for key in ("preprocessing", "data_split", "architecture", "performance", "training"):
        assert items[key].status == "PASS", (key, items[key].evidence)
    assert result.worst == "WARN"
    for item in result.items:
        assert item.evidence, item.key
        if item.status != "PASS":
            assert item.fix, item.key  # every warning says what to do
    assert "no sweep chose them" in " ".join(items["tuning"].evidence)
    assert "margin over the baseline" in items["performance"].evidence[0] and "95% interval" in \
        items["performance"].evidence[0]
    written = json.loads((run.path / "audit.json").read_text())
    assert [i["key"] for i in written["items"]] == ITEMS and written["worst"] == "WARN"
    assert "| Data split | **PASS** |" in (run.path / "audit.md").read_text()
    # the files every run keeps for the audit
    assert "| dense |" in (run.path / "model_summary.txt").read_text()
    assert "## Model" in (run.path / "report.md").read_text()
    assert any(line.startswith("keras==") for line in (run.path / "environment.txt").read_text().splitlines())
    assert json.loads((run.path / "run.json").read_text())["parameters"]["total"] > 0


LEAKY = """
name: leaky
seed: 1
data: {source: "csv:rows.csv", target: label}
split: {test: 0.3, validation: 0.2, stratify: false}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 1, activation: sigmoid}
training: {epochs: 2, batch_size: 16}
output: {plots: false}
"""


def test_duplicate_rows_across_train_and_test_fail_the_split_item_and_the_ci_gate(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).round(3)
    rows = np.concatenate([x, x])  # every row twice: copies land on both sides of the split
    labels = (rows[:, 0] > 0).astype(int)
    lines = ["a,b,c,label"] + [f"{a},{b},{c},{y}" for (a, b, c), y in zip(rows, labels)]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    spec = write_dedented(tmp_path / "leaky.yaml", LEAKY)
    runs = tmp_path / "runs"
    trained = _cli("train", str(spec), "--runs-dir", str(runs))
    assert trained.returncode == 0, trained.stderr
    proc = _cli("audit", "latest", "--runs-dir", str(runs), "--fail-on", "fail")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    document = json.loads(_cli("audit", "latest", "--runs-dir", str(runs), "--json").stdout)
    split = next(i for i in document["items"] if i["key"] == "data_split")
    assert split["status"] == "FAIL" and "leakage" in " ".join(split["evidence"])
    assert "drop duplicate rows" in split["fix"]
    assert _cli("audit", "latest", "--runs-dir", str(runs), "--fail-on", "nope").returncode == 2


def test_reproduce_retrains_the_saved_spec_and_finds_the_same_history(trained_run):
    run = trained_run(TINY_IRIS).run
    result = audit(run, reproduce=True)
    assert result.reproduced["identical"] is True and result.reproduced["epochs"] == 2
    assert "identical" in " ".join(_items(result)["reproducibility"].evidence)
    assert _items(result)["reproducibility"].status != "FAIL"


def test_a_changed_history_is_a_reproducibility_failure(trained_run):
    run = trained_run(TINY_IRIS).run
    history = run.path / "history.csv"
    lines = history.read_text().splitlines()
    cells = lines[1].split(",")
    cells[2] = str(float(cells[2]) + 0.5)
    history.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    result = audit(run, reproduce=True)
    assert result.reproduced["identical"] is False
    item = _items(result)["reproducibility"]
    assert item.status == "FAIL" and "differs, by up to 0.5" in " ".join(item.evidence)


def test_a_kfold_run_is_audited_over_its_folds(tmp_path):
    from dlrun.protocols.kfold import kfold

    spec = write_dedented(tmp_path / "k.yaml", TINY_IRIS.replace("epochs: 2", "epochs: 3")
                          + "split: {protocol: stratified_kfold, folds: 2}\n")
    result = kfold(load_spec(spec, [f"output.runs_dir={tmp_path / 'runs'}"]))
    items = _items(audit(result.run))
    assert "over 2 folds" in items["performance"].evidence[0] and "baseline" in items["performance"].evidence[0]
    assert "each of the 2 folds" in " ".join(items["preprocessing"].evidence)
    assert (result.run.path / "audit.md").is_file()


@pytest.mark.slow
def test_a_sweep_is_audited_on_its_best_trial_and_the_test_rows_never_chose(tmp_path):
    from dlrun.protocols.sweep import sweep_or_resume  # noqa: F401 - the sweep entry point exists

    spec = write_dedented(tmp_path / "s.yaml", TINY_IRIS + """
    sweep:
      objective: {metric: val_loss, mode: min}
      trials: 2
      params:
        optimizer.learning_rate: {loguniform: [0.001, 0.01]}
    """.replace("\n    ", "\n"))
    proc = _cli("sweep", str(spec), "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    sweep_run = next(p for p in (tmp_path / "runs").iterdir() if p.is_dir())
    items = _items(audit(RunDir(sweep_run)))
    assert items["tuning"].status == "PASS"
    assert "2 trial(s) on val_loss" in " ".join(items["tuning"].evidence)
    assert "validation part" in " ".join(items["tuning"].evidence)
