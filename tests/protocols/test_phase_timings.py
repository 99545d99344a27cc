"""Phase timings: every run's run.json says where its time went (runs/timing.py), and `dlrun train`
prints them at the end."""

from __future__ import annotations

import json

from dlrun.runs.timing import ORDER, PhaseClock, phase_line
from tests.support import TINY_IRIS


def test_a_train_run_records_every_phase_in_order(trained_run):
    run = trained_run(TINY_IRIS).run
    info = json.loads((run.path / "run.json").read_text())
    phases = info["phases"]
    assert list(phases) == list(ORDER)
    assert all(seconds >= 0 for seconds in phases.values())
    assert sum(phases.values()) <= info["seconds"] + 0.5  # the phases are parts of the whole command
    assert phases["fit"] >= sum(info["epoch_seconds"]) * 0.9


def test_the_clock_adds_up_repeated_phases_and_the_line_shows_seconds_per_epoch():
    clock = PhaseClock()
    for _ in range(2):
        with clock.phase("fit"):
            pass
    with clock.phase("load"):
        pass
    assert list(clock.record()) == ["load", "fit"]
    assert phase_line({"load": 1.0, "fit": 3.0}, epochs=3) == "load 1.00 s · fit 3.00 s (1.00 s/epoch)"


def test_each_fold_records_its_phases(tmp_path):
    from dlrun.protocols.kfold import kfold
    from dlrun.spec import load_spec
    from tests.support import write_dedented

    spec = write_dedented(tmp_path / "k.yaml", TINY_IRIS + "split: {protocol: kfold, folds: 2}\n")
    result = kfold(load_spec(spec, [f"output.runs_dir={tmp_path / 'runs'}", "output.plots=false"]))
    for fold in sorted(result.run.path.glob("folds/*/run.json")):
        phases = json.loads(fold.read_text())["phases"]
        assert {"preprocess", "backend", "build", "fit", "evaluate", "report", "write"} <= set(phases)
