"""Shared fixtures: a quiet TensorFlow, small spec files written on the fly, and trained runs.

`trained_run` is the one way tests get a finished holdout run: real Keras training on tiny
data, done once per session for a given spec and copied for each caller.
"""

from __future__ import annotations

import copy
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from tests.support import TINY_IRIS

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture
def write_spec(tmp_path):
    """write_spec(text, name="spec.yaml") -> Path of a YAML file in tmp_path (text is dedented)."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    return tmp_path / "runs"


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """trained_run(spec=TINY_IRIS, *sets, files=None, smoke=False, runs_dir=None) -> TrainResult.

    `spec` is YAML text (dedented and written to a fresh folder, with `files` — {name: text} —
    beside it) or the Path of a spec file; `sets` are `--set` overrides.

    Without `runs_dir`, each distinct (spec, sets, files, smoke) is trained once per session and
    every call gets its own copy of the finished run, alone in a runs directory of its own: a test
    may write into it (evaluations/) or resolve `latest` without seeing another test's runs.
    With `runs_dir`, a new run is trained into that directory on every call, for tests that
    compare two trainings or look at what a training left in the runs directory.
    """
    from dlrun.protocols.holdout import train
    from dlrun.runs.rundir import RunDir
    from dlrun.spec import load_spec

    finished: dict[tuple, object] = {}

    def spec_file(spec: str | Path, files: dict[str, str] | None) -> Path:
        if isinstance(spec, Path):
            assert not files, "files go next to a spec given as text"
            return spec
        folder = tmp_path_factory.mktemp("spec")
        for name, text in (files or {}).items():
            (folder / name).write_text(text, encoding="utf-8")
        path = folder / "spec.yaml"
        path.write_text(textwrap.dedent(spec).lstrip("\n"), encoding="utf-8")
        return path

    def run(spec: str | Path = TINY_IRIS, *sets: str, files: dict[str, str] | None = None, smoke: bool = False,
            runs_dir: Path | None = None):
        if runs_dir is not None:
            return train(load_spec(spec_file(spec, files), [f"output.runs_dir={runs_dir}", *sets]), smoke=smoke)
        source = (str(spec.resolve()), spec.read_text(encoding="utf-8")) if isinstance(spec, Path) else spec
        key = (source, sets, tuple(sorted((files or {}).items())), smoke)
        if key not in finished:
            folder = tmp_path_factory.mktemp("trained")
            finished[key] = train(load_spec(spec_file(spec, files), [f"output.runs_dir={folder / 'runs'}", *sets]),
                                  smoke=smoke)
        original = finished[key]
        target = tmp_path_factory.mktemp("run") / "runs" / original.run.run_id
        shutil.copytree(original.run.path, target)
        result = copy.deepcopy(original)
        result.run = RunDir(target)
        return result

    return run
