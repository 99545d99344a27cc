"""Spec limits: only regular files of at most 10 MB are read as specs, YAML aliases may not expand
a spec past 10,000 values, and no float field takes NaN or an infinity. Each is refused with exit 2
and a located message naming the file, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import SpecError
from dlrun.spec.yamlsource import MAX_ALIAS_NODES, MAX_SPEC_BYTES, parse_located
from tests.support import ANSI, ROOT, TINY_IRIS, child_env, combined_output, finish_process, only_problem

# `dlrun ARGS` in a child process that reports its exit code, the seconds the command took and how
# much its peak memory grew over what the imports already used: a regression hangs or swells the
# child (killed after CHILD_TIMEOUT), never this test process.
CHILD = """
import json, resource, sys, time
from dlrun.cli import app
import dlrun.spec.load, dlrun.report.console
before, start, code = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter(), None
try:
    app(sys.argv[1:], prog_name="dlrun")
except SystemExit as exc:
    code = exc.code
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"exit": code, "seconds": time.perf_counter() - start,
                  "grown_mb": grown / (2**20 if sys.platform == "darwin" else 2**10)}))
"""
CHILD_TIMEOUT = 60


def dlrun_child(*args: str) -> tuple[dict, str]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=ROOT, env=child_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, out, err = finish_process(proc, CHILD_TIMEOUT)
    lines = out.strip().splitlines()
    return json.loads(lines[-1]), ANSI.sub("", "\n".join(lines[:-1]) + err)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, ANSI.sub("", combined_output(result))


def assert_refused(code: int, output: str, *expected: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output, output
    problem = next((line for line in output.splitlines() if expected[0] in line), output)
    for text in expected:
        assert text in problem, f"{text!r} not in the problem line {problem!r}:\n{output}"


def billion_laughs(levels: int = 10, fanout: int = 10) -> str:
    """`a: &a [lol, …]`, then each level a list of `fanout` aliases of the level before: fanout**levels values."""
    lines = [f"a: &a [{', '.join(['lol'] * fanout)}]"]
    for level in range(1, levels):
        before, name = chr(ord("a") + level - 1), chr(ord("a") + level)
        lines.append(f"{name}: &{name} [{', '.join([f'*{before}'] * fanout)}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_aliases_are_refused_fast_in_bounded_memory(tmp_path):
    spec = tmp_path / "laughs.yaml"
    spec.write_text(billion_laughs(), encoding="utf-8")
    report, output = dlrun_child("validate", str(spec))
    assert report["exit"] == 2, output
    assert report["seconds"] < 2, report
    assert report["grown_mb"] < 200, report
    assert_refused(2, output, "laughs.yaml:4:", "aliases", f"{MAX_ALIAS_NODES:,}")


def test_aliases_that_expand_a_little_are_still_read(write_spec):
    spec = write_spec("""
        name: shared-layers
        data: {source: "sklearn:iris"}
        model:
          layers:
            - Dense: &hidden {units: 8, activation: relu}
            - Dense: *hidden
            - Dense: {units: 3, activation: softmax}
        training: {epochs: 2, batch_size: 16}
    """)
    code, output = invoke("validate", str(spec))
    assert code == 0, output


@pytest.mark.parametrize("copies, refused", [(98, False), (100, True)])
def test_aliases_may_add_at_most_10000_values(copies, refused):
    text = "a: &a [" + ", ".join(["1"] * 100) + "]\nb: [" + ", ".join(["*a"] * copies) + "]\n"
    if not refused:  # 98 copies of 101 nodes: 9,898 added
        assert len(parse_located(text, "s.yaml").data["b"]) == copies
        return
    with pytest.raises(SpecError) as excinfo:  # 100 copies: 10,100 added
        parse_located(text, "s.yaml")
    assert str(only_problem(excinfo)).startswith("s.yaml:2:4  the YAML aliases here expand")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_not_read_as_a_spec(device):
    start = time.perf_counter()
    report, output = dlrun_child("validate", device)
    assert time.perf_counter() - start < CHILD_TIMEOUT
    assert report["seconds"] < 2, report
    assert_refused(report["exit"], output, device, "is a character device", "only regular files")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    report, output = dlrun_child("validate", str(tmp_path / "pipe.yaml"))  # no writer: reading it would block
    assert_refused(report["exit"], output, "pipe.yaml", "is a named pipe (FIFO), not a YAML file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_named_by_extends_is_refused_without_opening_it(tmp_path, write_spec):
    os.mkfifo(tmp_path / "base.yaml")
    child = write_spec("extends: base.yaml\n" + TINY_IRIS, "child.yaml")
    report, output = dlrun_child("validate", str(child))
    assert_refused(report["exit"], output, "base.yaml", "is a named pipe (FIFO)")


def test_a_directory_is_not_read_as_a_spec(tmp_path):
    folder = tmp_path / "specs.yaml"
    folder.mkdir()
    assert_refused(*invoke("validate", str(folder)), "specs.yaml", "is a directory, not a YAML file")


def test_a_spec_over_10_mb_is_refused_before_it_is_parsed(tmp_path):
    spec = tmp_path / "huge.yaml"
    padding = "# " + "x" * 97 + "\n"
    spec.write_text(TINY_IRIS + padding * (11 * 2**20 // len(padding)), encoding="utf-8")
    assert spec.stat().st_size > MAX_SPEC_BYTES
    assert_refused(*invoke("validate", str(spec)), "huge.yaml", "larger than 10 MB")


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_an_infinite_or_nan_float_is_a_located_error(write_spec, value):
    spec = write_spec(TINY_IRIS + f"optimizer:\n  name: sgd\n  learning_rate: {value}\n")
    line = TINY_IRIS.lstrip("\n").count("\n") + 3
    assert_refused(*invoke("validate", str(spec)), f"spec.yaml:{line}:", "optimizer.learning_rate", "finite number")


def test_an_infinite_float_set_on_the_command_line_is_refused(write_spec):
    code, output = invoke("validate", str(write_spec(TINY_IRIS)), "--set", "optimizer.clipnorm=.inf")
    assert_refused(code, output, "optimizer.clipnorm", "finite number")


def test_an_infinite_sweep_range_is_refused(write_spec):
    sweep = "sweep:\n  trials: 2\n  params:\n    optimizer.learning_rate: {uniform: [0.1, .inf]}\n"
    spec = write_spec(TINY_IRIS + sweep)
    assert_refused(*invoke("validate", str(spec)), "optimizer.learning_rate", "finite number")


def test_aliases_in_a_set_value_are_bounded_as_in_a_spec_file(write_spec):
    level = "[1,1,1,1,1,1,1,1,1,1]"
    value = f"[&a {level}, &b [{','.join(['*a'] * 10)}], &c [{','.join(['*b'] * 10)}], " \
            f"&d [{','.join(['*c'] * 10)}], [{','.join(['*d'] * 10)}]]"
    code, output = invoke("validate", str(write_spec(TINY_IRIS)), "--set", f"optimizer.momentum={value}")
    assert_refused(code, output, "--set", "aliases expand too far")
