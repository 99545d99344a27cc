"""Golden output of `dlrun validate` for invalid specs: exit 2, no traceback, and the exact
problem lines a user sees (file:line:col, dotted field path, message).

Each case is a small spec written into tmp_path and validated through the CLI. The output,
with the tmp path replaced by `<tmp>`, must equal tests/golden/<case>.txt.

Regenerate the golden files after an intended change of wording, then read the diff:

    DLRUN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/spec/test_errors_golden.py
"""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from tests.support import ANSI, combined_output

GOLDEN = Path(__file__).resolve().parents[1] / "golden"  # tests/golden, shared by the suite
UPDATE = os.environ.get("DLRUN_UPDATE_GOLDEN") == "1"
# One problem line: two spaces, the place (file:line:col, or --set), two spaces, field: message.
PROBLEM_LINE = re.compile(r"^  (?P<where><tmp>/[^ ]+\.yaml:\d+:\d+|--set)  (?P<field>[A-Za-z_][\w.\[\]]*): (?P<msg>.+)$")


@dataclass
class Case:
    spec: str
    args: list[str] = field(default_factory=list)
    others: dict[str, str] = field(default_factory=dict)   # further files next to the spec
    has_field: bool = True                                  # every problem line names a field


VALID = """
    data: {source: sklearn:digits}
    model:
      layers:
        - Dense: {units: 10, activation: softmax}
"""


def plus(extra: str) -> str:
    """The valid spec above followed by more lines."""
    return textwrap.dedent(VALID).lstrip("\n") + textwrap.dedent(extra).lstrip("\n")


CASES: dict[str, Case] = {
    "nested_key_typo": Case("""
        data:
          source: sklearn:digits
          scal: standard
        model:
          layers:
            - Dense: {units: 10, activation: softmax}
    """),
    "wrong_type": Case(plus("""
        training:
          epochs: abc
    """)),
    "out_of_range": Case("""
        data: {source: sklearn:digits}
        split:
          test: 1.5
        model:
          layers:
            - Dense: {units: 10, activation: softmax}
    """),
    "unknown_layer": Case("""
        data: {source: sklearn:digits}
        model:
          layers:
            - Dense: {units: 64, activation: relu}
            - Dropot: {rate: 0.3}
            - Dense: {units: 10, activation: softmax}
    """),
    "unknown_layer_argument": Case("""
        data: {source: sklearn:digits}
        model:
          layers:
            - Dense: {untis: 64}
            - Dense: {units: 10, activation: softmax}
    """),
    "unknown_activation": Case("""
        data: {source: sklearn:digits}
        model:
          layers:
            - Dense: {units: 64, activation: rleu}
            - Dense: {units: 10, activation: softmax}
    """),
    "unknown_optimizer": Case(plus("""
        optimizer:
          name: adma
    """)),
    "unknown_optimizer_argument": Case(plus("""
        optimizer:
          name: sgd
          momentun: 0.9
    """)),
    "unknown_data_source": Case("""
        data: {source: sklearn:digitz}
        model:
          layers:
            - Dense: {units: 10, activation: softmax}
    """),
    "bad_set_key": Case(VALID, args=["--set", "training.epochz=3"]),
    "malformed_set": Case(VALID, args=["--set", "foo"]),
    "missing_extends": Case("""
        extends: base_missing.yaml
        training: {epochs: 3}
    """),
    "extends_cycle": Case("extends: other.yaml\n", others={"other.yaml": "extends: spec.yaml\n"}),
    "problem_in_extended_file": Case("""
        extends: base.yaml
        training: {batch_size: 16}
    """, others={"base.yaml": plus("""
        training: {epochs: abc}
    """)}),
    "malformed_yaml": Case("""
        data: {source: sklearn:digits}
        model:
          layers: [{Dense: {units: 10}}
        training: {epochs: 3}
    """, has_field=False),
    "duplicate_key": Case("""
        data:
          source: sklearn:digits
          scale: minmax
          scale: standard
        model:
          layers:
            - Dense: {units: 10, activation: softmax}
    """),
    "not_a_mapping": Case("""
        - Dense: {units: 10}
        - Dense: {units: 1}
    """, has_field=False),
    "schedule_with_reduce_lr": Case(plus("""
        optimizer:
          name: sgd
          schedule: {type: step, drop: 0.5, epochs_drop: 5}
        callbacks:
          reduce_lr_on_plateau: {patience: 2}
    """)),
    "many_problems": Case("""
        name: many-problems
        seed: -1
        data:
          source: sklearn:digitz
          scale: unit
        split: {test: 0.2, validation: 0.2, stratfy: true}
        model:
          layers:
            - Dense: {units: 64, activation: rleu}
            - Dropot: {rate: 0.3}
            - Dense: {untis: 10, activation: softmax}
        optimizer: {name: adma, learning_rate: -0.1}
        loss: sparse_categorical_crossentropi
        training: {epochs: 0, batch_size: 32}
    """),
}


def _write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def normalize(text: str, tmp_path: Path) -> str:
    text = ANSI.sub("", text)
    for prefix in sorted({str(tmp_path.resolve()), str(tmp_path)}, key=len, reverse=True):
        text = text.replace(prefix, "<tmp>")
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def run_case(name: str, tmp_path: Path) -> tuple[object, str]:
    case = CASES[name]
    spec = tmp_path / "spec.yaml"
    _write(spec, case.spec)
    for other, text in case.others.items():
        _write(tmp_path / other, text)
    result = CliRunner().invoke(app, ["validate", str(spec), *case.args])
    return result, normalize(combined_output(result), tmp_path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_spec_output_matches_golden(name, tmp_path):
    result, output = run_case(name, tmp_path)
    assert "Traceback" not in output, output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, output
    assert "is valid" not in output
    golden = GOLDEN / f"{name}.txt"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(output, encoding="utf-8")
        return
    assert golden.exists(), f"no golden file {golden}; create it with DLRUN_UPDATE_GOLDEN=1"
    expected = golden.read_text(encoding="utf-8")
    assert output == expected, (f"`dlrun validate` output for case {name!r} differs from {golden.name} "
                                f"(regenerate with DLRUN_UPDATE_GOLDEN=1 if the change is intended)")


def test_every_golden_file_belongs_to_a_case():
    stray = sorted(p.stem for p in GOLDEN.glob("*.txt") if p.stem not in CASES)
    assert not stray, f"golden files without a case: {stray}"


def _problem_lines(output: str) -> list[str]:
    lines = output.splitlines()
    assert lines[0].startswith("error: ") and "in the experiment spec:" in lines[0], output
    count = int(re.search(r"(\d+) problems? in", lines[0]).group(1))
    problems = lines[1:]
    assert len(problems) == count, output
    return problems


_structure_params = [name for name in sorted(CASES) if CASES[name].has_field]


@pytest.mark.parametrize("name", _structure_params)
def test_every_problem_names_its_place_and_dotted_field(name, tmp_path):
    result, output = run_case(name, tmp_path)
    for line in _problem_lines(output):
        match = PROBLEM_LINE.match(line)
        assert match, f"not 'file:line:col  field: message': {line!r}"
        if match["where"] != "--set":
            assert not match["where"].endswith(":1:1") or match["field"] in ("extends", "seed", "name"), (
                f"problem placed at the top of the file: {line!r}")


def test_several_problems_are_all_reported_sorted_by_line(tmp_path):
    _, output = run_case("many_problems", tmp_path)
    places = [PROBLEM_LINE.match(line)["where"] for line in _problem_lines(output)]
    positions = [tuple(int(n) for n in where.rsplit(":", 2)[1:]) for where in places]
    assert len(positions) >= 10
    assert positions == sorted(positions)


def test_unclosed_bracket_points_at_the_line_that_opened_it(tmp_path):
    _, output = run_case("malformed_yaml", tmp_path)
    assert "spec.yaml:3:" in output or "3:11" in output, output
