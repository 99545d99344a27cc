"""Run files you can trust (issue 25): what dlrun reads back from a run is checked, a resume never
silently loses work, one process writes a run at a time, writes never follow a link out of the run,
and an output that cannot be written is refused in one line.

Every case drives the real command line (`typer.testing.CliRunner` on dlrun.cli.app, or dlrun and
Python subprocesses where a second process is the point) on a copy of one tiny trained iris run
(the session's `trained_run`), damaged or locked the way a user, a full disk or a crash would.
Each refusal: exit 2, `error:` and no traceback, the file or path at fault named, and nothing
written where it should not be (the run's files unchanged, nothing outside the run).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from tests.support import (ANSI, ROOT, TINY_IRIS, assert_refused, child_env, combined_output, killed_after_epochs,
                           write_dedented)

runner = CliRunner()


# ---- helpers -------------------------------------------------------------------------------------

def dlrun(*args):
    """Run the CLI in-process; (result, stdout and stderr without colour codes)."""
    result = runner.invoke(app, [str(a) for a in args])
    return result, ANSI.sub("", combined_output(result))


def snapshot(folder: Path, skip: tuple[str, ...] = ("run.lock",)) -> dict:
    """Every folder, file (its bytes) and link (its target) under `folder`, links not followed; files
    named in `skip` left out (a command records itself in the run's lock file before it refuses)."""
    found = {}
    for top, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(top) / name
            key = str(path.relative_to(folder))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_dir():
                found[key] = "dir"
            elif name not in skip:
                found[key] = path.read_bytes()
    return found


def set_status(run: Path, status: str) -> None:
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    (run / "run.json").write_text(json.dumps({**info, "status": status}, indent=2), encoding="utf-8")


def status_of(run: Path) -> str:
    return json.loads((run / "run.json").read_text(encoding="utf-8"))["status"]


def second_run(run: Path) -> Path:
    """A copy of `run` beside it under another id (for `compare`, which needs two runs)."""
    other = run.with_name(run.name[:-4] + "beef")
    shutil.copytree(run, other)
    info = json.loads((other / "run.json").read_text(encoding="utf-8"))
    (other / "run.json").write_text(json.dumps({**info, "run_id": other.name}), encoding="utf-8")
    return other


def rewrite_member(path: Path, member: str, payload: bytes) -> None:
    """Replace one member of the zip archive at `path` (a .keras model), leaving a valid archive."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in source.namelist():
            archive.writestr(name, payload if name == member else source.read(name))
    path.write_bytes(buffer.getvalue())


def new_rows(path: Path) -> Path:
    """Five iris rows with the training columns, for predict."""
    from sklearn.datasets import load_iris

    load_iris(as_frame=True).frame.drop(columns="target").head(5).to_csv(path, index=False)
    return path


@contextlib.contextmanager
def lock_holder(folder: Path):
    """A second Python process holding `folder`'s writer lock (runs/lock.py `hold`) until it is ended."""
    code = ("import sys\nfrom dlrun.runs.lock import hold\nwith hold(sys.argv[1]):\n"
            "    print('held', flush=True)\n    sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=ROOT, env=child_env(), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == "held", proc.communicate(timeout=30)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


@pytest.fixture
def run(trained_run) -> Path:
    """A finished tiny iris run (2 epochs), alone in a runs directory of its own inside a fresh
    temporary folder (so the folder's snapshot shows whatever a command writes, in or out of the run)."""
    return trained_run().run.path


def root_of(run: Path) -> Path:
    return run.parent.parent


# ---- 1. damaged run files are named ------------------------------------------------------------------

PREPROCESSING_DAMAGE = {"truncated": lambda text: text[:40], "list": lambda text: "[]", "empty_object": lambda text: "{}"}


@pytest.mark.parametrize("damage", PREPROCESSING_DAMAGE)
@pytest.mark.parametrize("command", ["evaluate", "predict", "export"])
def test_damaged_preprocessing_json_is_named(run, command, damage):
    path = run / "preprocessing.json"
    path.write_text(PREPROCESSING_DAMAGE[damage](path.read_text(encoding="utf-8")), encoding="utf-8")
    rows = new_rows(root_of(run) / "new.csv")
    before = snapshot(root_of(run))
    extra = [rows] if command == "predict" else []
    result, output = dlrun(command, run.name, *extra, "--runs-dir", run.parent)
    assert_refused(result, output, str(path), "damaged")
    assert snapshot(root_of(run)) == before


@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_truncated_splits_json_is_named(run, command):
    path = run / "splits.json"
    path.write_text(path.read_text(encoding="utf-8")[:40], encoding="utf-8")
    before = snapshot(root_of(run))
    result, output = dlrun(command, run.name, "--runs-dir", run.parent)
    assert_refused(result, output, str(path), "not valid JSON", "damaged")
    assert snapshot(root_of(run)) == before


HISTORY_DAMAGE = {
    "text": lambda rows: [rows[0], rows[1], rows[2].replace(rows[2].split(",")[1], "abc", 1)],
    "extra_field": lambda rows: [rows[0], rows[1] + ",7", rows[2]],
    "nul_bytes": lambda rows: [rows[0], rows[1], rows[2][:4] + "\x00\x00" + rows[2][4:]],
}


@pytest.mark.parametrize("damage", HISTORY_DAMAGE)
@pytest.mark.parametrize("command", ["evaluate", "compare_plot"])
def test_damaged_history_csv_is_named(run, command, damage):
    path = run / "history.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3  # the header and 2 epochs
    path.write_text("\n".join(HISTORY_DAMAGE[damage](rows)) + "\n", encoding="utf-8")
    args = ["evaluate", run.name] if command == "evaluate" else ["compare", run.name, second_run(run).name, "--plot"]
    before = snapshot(root_of(run))
    result, output = dlrun(*args, "--runs-dir", run.parent)
    assert_refused(result, output, str(path), "damaged")
    assert snapshot(root_of(run)) == before  # no evaluation folder, no comparison plot


def test_garbage_run_json_is_named_as_damaged(run):
    path = run / "run.json"
    path.write_bytes(b"\x00\x01 not json {")
    before = snapshot(root_of(run))
    result, output = dlrun("evaluate", run.name, "--runs-dir", run.parent)
    assert_refused(result, output, str(path), "damaged")
    assert "data file not found" not in output, output
    assert snapshot(root_of(run)) == before


MODEL_DAMAGE = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "garbage": lambda path: path.write_bytes(b"not a model " * 20),
    "config_not_json": lambda path: rewrite_member(path, "config.json", b"{not json"),
    "weights_garbled": lambda path: rewrite_member(path, "model.weights.h5", b"not hdf5"),
}


@pytest.mark.parametrize("damage", MODEL_DAMAGE)
def test_corrupt_model_keras_is_named_as_damaged(run, damage):
    path = run / "model.keras"
    MODEL_DAMAGE[damage](path)
    before = snapshot(root_of(run))
    result, output = dlrun("evaluate", run.name, "--runs-dir", run.parent)
    assert_refused(result, output, str(path), "damaged")
    assert "Lambda" not in output, output
    assert snapshot(root_of(run)) == before


# ---- 1 and 2. a resume that cannot continue exactly is refused, the run untouched ----------------------

def _drop_history_rows(run: Path) -> None:
    path = run / "history.csv"
    path.write_text("\n".join(path.read_text(encoding="utf-8").splitlines()[:2]) + "\n", encoding="utf-8")


RESUME_DAMAGE = {  # what is damaged -> (the damage, the file named, what the message says)
    "splits_deleted": (lambda run: (run / "splits.json").unlink(), "splits.json", "missing"),
    "arrays_truncated": (lambda run: (run / "checkpoints" / "resume-0002.npz").write_bytes(
        (run / "checkpoints" / "resume-0002.npz").read_bytes()[:100]), "checkpoints/resume-0002.npz", "damaged"),
    "state_deleted": (lambda run: (run / "checkpoints" / "resume.json").unlink(), "checkpoints/resume.json",
                      "holds 2 finished epoch(s)"),
    "state_damaged": (lambda run: (run / "checkpoints" / "resume.json").write_text('{"epoch": 2, "arr'),
                      "checkpoints/resume.json", "damaged"),
    "history_short": (_drop_history_rows, "history.csv", "holds 1 epoch(s), but the saved state is at epoch 2"),
    "history_deleted": (lambda run: (run / "history.csv").unlink(), "history.csv",
                        "holds 0 epoch(s), but the saved state is at epoch 2"),
}


@pytest.mark.parametrize("damage", RESUME_DAMAGE)
def test_resume_that_would_lose_work_is_refused(run, damage):
    set_status(run, "interrupted")  # the run stopped after its 2nd epoch, its resume state saved there
    spoil, name, says = RESUME_DAMAGE[damage]
    spoil(run)
    before = snapshot(root_of(run))
    result, output = dlrun("train", "--resume", run.name, "--runs-dir", run.parent)
    assert_refused(result, output, str(run / name), says)
    assert snapshot(root_of(run)) == before  # history.csv, the state and the status as they were
    assert status_of(run) == "interrupted"


KILLED_IRIS = TINY_IRIS.replace("training: {epochs: 2, batch_size: 16}", "training: {epochs: 40, batch_size: 5}")


@pytest.mark.slow
def test_resume_of_a_killed_run_brings_back_a_deleted_preprocessing_json(tmp_path):
    runs = tmp_path / "runs"
    run = killed_after_epochs(write_dedented(tmp_path / "spec.yaml", KILLED_IRIS), runs, epochs=2)
    assert status_of(run) == "running"
    listed = json.loads(dlrun("runs", "--runs-dir", runs, "--json")[1])
    assert [r["status"] for r in listed] == ["stale"]  # killed while running: nobody holds its lock
    saved = json.loads((run / "preprocessing.json").read_text(encoding="utf-8"))
    (run / "preprocessing.json").unlink()
    result, output = dlrun("train", "--resume", run.name, "--runs-dir", runs)
    assert result.exit_code == 0, output
    assert status_of(run) == "completed"
    assert json.loads((run / "preprocessing.json").read_text(encoding="utf-8")) == saved
    assert len((run / "history.csv").read_text(encoding="utf-8").splitlines()) == 1 + 40
    assert sorted(p.name for p in runs.iterdir()) == [run.name]


# ---- 3. one writer per run ----------------------------------------------------------------------------

LOCKED_COMMANDS = {"train_resume": ("train", "--resume"), "evaluate": ("evaluate",), "export": ("export",)}


@pytest.mark.slow
@pytest.mark.parametrize("command", LOCKED_COMMANDS)
def test_a_run_held_by_another_process_is_refused_naming_the_holder(run, command):
    if command == "train_resume":
        set_status(run, "interrupted")
    with lock_holder(run) as holder:
        before = snapshot(root_of(run), skip=())
        result, output = dlrun(*LOCKED_COMMANDS[command], run.name, "--runs-dir", run.parent)
        assert_refused(result, output, run.name, "being written by another dlrun process", f"pid {holder.pid}")
        assert snapshot(root_of(run), skip=()) == before


@pytest.mark.slow
def test_a_running_run_whose_writer_was_killed_shows_as_stale(run):
    set_status(run, "running")
    with lock_holder(run) as holder:
        assert [r["status"] for r in json.loads(dlrun("runs", "--runs-dir", run.parent, "--json")[1])] == ["running"]
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        result, output = dlrun("runs", "--runs-dir", run.parent, "--json")
        assert result.exit_code == 0, output
        assert [(r["run_id"], r["status"]) for r in json.loads(output)] == [(run.name, "stale")]
        result, output = dlrun("show", run.name, "--runs-dir", run.parent, "--json")
        assert result.exit_code == 0, output
        assert json.loads(output)["run"]["status"] == "stale"
        assert "stale" in dlrun("runs", "--runs-dir", run.parent)[1]
    assert status_of(run) == "running"  # shown stale, the record itself left alone


# the shared tiny iris spec, searched over one trial of one epoch
SWEEP = TINY_IRIS + """
output: {plots: false}
sweep:
  algorithm: random
  trials: 1
  seed: 1
  params:
    model.layers[0].Dense.units: {choice: [4, 8]}
"""


@pytest.mark.slow
def test_a_second_sweep_resume_is_refused_while_one_holds_the_sweep(tmp_path):
    runs = tmp_path / "runs"
    result, output = dlrun("sweep", write_dedented(tmp_path / "sweep.yaml", SWEEP), "--runs-dir", runs,
                           "--set", "training.epochs=1")
    assert result.exit_code == 0, output
    (sweep,) = runs.iterdir()
    set_status(sweep, "interrupted")
    with lock_holder(sweep) as holder:
        before = snapshot(tmp_path, skip=())
        result, output = dlrun("sweep", "--resume", sweep.name, "--runs-dir", runs)
        assert_refused(result, output, sweep.name, "being written by another dlrun process", f"pid {holder.pid}")
        assert snapshot(tmp_path, skip=()) == before
    assert status_of(sweep) == "interrupted"


# ---- 4. writes never follow a link out of the run -----------------------------------------------------

@pytest.mark.parametrize("folder, command", [("export", "export"), ("evaluations", "evaluate")])
def test_a_symlinked_run_subfolder_is_refused_and_nothing_is_written_through_it(run, folder, command):
    elsewhere = root_of(run) / "elsewhere"
    elsewhere.mkdir()
    (run / folder).symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(root_of(run))
    result, output = dlrun(command, run.name, "--runs-dir", run.parent)
    assert_refused(result, output, str(run / folder), "symbolic link")
    assert list(elsewhere.iterdir()) == []
    assert snapshot(root_of(run)) == before


# ---- 5. outputs that cannot be written: one line, before any work ---------------------------------------

UNWRITABLE = {  # case -> (the command line, given the run and its temporary folder; the path named)
    "predict_to_a_folder": (lambda run, root: ["predict", run.name, root / "new.csv", "-o", root / "adir"],
                            lambda root: root / "adir"),
    "predict_into_proc": (lambda run, root: ["predict", run.name, root / "new.csv", "-o", "/proc/x/out.csv"],
                          lambda root: "/proc/x/out.csv"),
    "predict_under_a_file": (lambda run, root: ["predict", run.name, root / "new.csv", "-o", root / "afile" / "out.csv"],
                             lambda root: root / "afile" / "out.csv"),
    "export_under_a_file": (lambda run, root: ["export", run.name, "-o", root / "afile" / "exported"],
                            lambda root: root / "afile" / "exported"),
    "compare_plot_into_proc": (lambda run, root: ["compare", run.name, second_run(run).name, "--plot",
                                                  "-o", "/proc/x.png"], lambda root: "/proc/x.png"),
    "schema_into_proc": (lambda run, root: ["schema", "-o", "/proc/x.json"], lambda root: "/proc/x.json"),
}


@pytest.mark.parametrize("case", UNWRITABLE)
def test_an_unwritable_output_is_refused_in_one_line(run, case):
    root = root_of(run)
    new_rows(root / "new.csv")
    (root / "afile").write_text("a regular file\n", encoding="utf-8")
    (root / "adir").mkdir()
    command, named = UNWRITABLE[case]
    args = command(run, root)
    before = snapshot(root)
    result, output = dlrun(*args, "--runs-dir", run.parent) if args[0] != "schema" else dlrun(*args)
    assert_refused(result, output, str(named(root)))
    assert len(output.strip().splitlines()) == 1, output
    assert output.startswith("error:"), output
    assert snapshot(root) == before
    assert not Path("/proc/x.png").exists() and not Path("/proc/x.json").exists()
