"""`dlrun smoke`: which files are specs, each spec run the way its kind says, statuses and exit codes
(2 for an invalid spec, 1 for a failed run, 0 when everything passed or was skipped), the table at
80 columns, and the JUnit XML a CI system reads (parsed back here)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.protocols.smoke_find import find_specs
from dlrun.report.junit import junit_xml
from dlrun.report.smoke_view import SmokeResult, smoke_table
from tests.support import ANSI, CONFIGS, ROOT, TINY_IRIS, child_env, combined_output, write_dedented

runner = CliRunner()

# a misspelt layer argument: `activaton` for `activation`, on line 6, column 25
BROKEN = """
name: broken
seed: 5
data: {source: "sklearn:iris"}
model:
  layers:
    - Dense: {units: 8, activaton: relu}
    - Dense: {units: 3, activation: softmax}
"""

# a custom layer (from the spec's `imports:`) that builds fine and raises in a training step
BOOM_MODULE = '''
import keras


@keras.saving.register_keras_serializable(package="{name}")
class Boom(keras.layers.Layer):
    def call(self, inputs, training=None):
        if training:
            raise RuntimeError("planted failure in a training step")
        return inputs
'''

FAILING = """
name: failing
seed: 5
imports: [{module}]
data: {{source: "sklearn:iris"}}
model:
  layers:
    - Dense: {{units: 8, activation: relu}}
    - Boom: {{}}
    - Dense: {{units: 3, activation: softmax}}
training: {{epochs: 3, batch_size: 16}}
"""

OFFLINE = """
name: offline-mnist
data: {source: "keras:mnist", reshape: [784]}
model:
  layers:
    - Dense: {units: 10, activation: softmax}
"""

KFOLD = TINY_IRIS.replace("name: tiny-iris", "name: tiny-kfold") + \
    "split: {protocol: stratified_kfold, folds: 5, validation: 0.0, curves: false}\n"

SWEEP = TINY_IRIS.replace("name: tiny-iris", "name: tiny-sweep") + """
sweep:
  algorithm: random
  trials: 6
  seed: 1
  params:
    optimizer.learning_rate: {loguniform: [0.001, 0.1]}
"""


def failing_folder(folder: Path) -> Path:
    """A folder with one spec whose run fails in its first training step (its module named uniquely,
    so that each test imports its own)."""
    module = f"dlrun_smoke_boom_{uuid.uuid4().hex[:8]}"
    write_dedented(folder / f"{module}.py", BOOM_MODULE.format(name=module))
    return write_dedented(folder / "failing.yaml", FAILING.format(module=module)).parent


def smoke(*args) -> tuple[int, str]:
    """The exit code and the output, its whitespace collapsed (the console wraps at 80 columns)."""
    result = runner.invoke(app, ["smoke", *map(str, args)])
    output = ANSI.sub("", combined_output(result))
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    return result.exit_code, " ".join(output.split())


def junit_cases(path: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    """The <testsuite> of a JUnit file and its testcases by name."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite.get("name") == "dlrun smoke"
    return suite, {case.get("name"): case for case in suite.findall("testcase")}


# ---- which files are specs -----------------------------------------------------------------------

def test_specs_are_found_recursively_and_other_files_are_left_alone(tmp_path):
    write_dedented(tmp_path / "a.yaml", TINY_IRIS)
    write_dedented(tmp_path / "sub" / "b.yml", TINY_IRIS)
    write_dedented(tmp_path / "sub" / "child.yaml", "extends: ../a.yaml\nname: child\n")
    write_dedented(tmp_path / "sub" / "broken.yaml", "data: {source: sklearn:iris\nmodel: [\n")  # not YAML: still a spec
    write_dedented(tmp_path / "ci.yml", "on: push\njobs: {smoke: {runs-on: ubuntu-latest}}\n")  # a workflow
    write_dedented(tmp_path / "data_only.yaml", "data: {source: sklearn:iris}\n")
    write_dedented(tmp_path / "notes.txt", TINY_IRIS)
    write_dedented(tmp_path / ".hidden" / "c.yaml", TINY_IRIS)
    run = tmp_path / "runs" / "20260101-000000-x-abcd"
    write_dedented(run / "config.yaml", TINY_IRIS)  # a run's resolved spec
    (run / "run.json").write_text("{}")
    specs, ignored = find_specs([tmp_path, tmp_path / "a.yaml", tmp_path / "ci.yml"])
    assert [p.relative_to(tmp_path).as_posix() for p in specs] == ["a.yaml", "sub/b.yml", "sub/broken.yaml",
                                                                   "sub/child.yaml"]
    assert ignored == [tmp_path / "ci.yml"]


def test_a_path_that_does_not_exist_or_holds_no_spec_is_refused(tmp_path):
    code, output = smoke(tmp_path / "missing")
    assert code == 2 and "no such file or folder" in output
    write_dedented(tmp_path / "ci.yml", "on: push\n")
    code, output = smoke(tmp_path)
    assert code == 2 and "no dlrun specs" in output


# ---- statuses without training (no backend started) -------------------------------------------------

def test_an_invalid_spec_exits_2_with_its_located_message_in_the_xml(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    folder = tmp_path / "specs"
    broken = write_dedented(folder / "broken.yaml", BROKEN)
    offline = write_dedented(folder / "offline.yaml", OFFLINE)
    junit = tmp_path / "out" / "smoke.xml"
    code, output = smoke(folder, "--junit", junit)
    assert code == 2, output
    assert "invalid" in output and "did you mean 'activation'" in output
    suite, cases = junit_cases(junit)
    assert (suite.get("tests"), suite.get("errors"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "0", "1")
    error = cases[str(broken)].find("error")
    assert error.get("message") == (f"{broken}:6:25  model.layers[0].Dense.activaton: unknown argument of Dense — "
                                    f"did you mean 'activation'?")
    assert cases[str(broken)].get("line") == "6" and cases[str(broken)].get("file") == str(broken)
    skipped = cases[str(offline)].find("skipped")
    assert skipped.get("message") == "offline: keras:mnist needs a download"
    assert "Keras cache" in skipped.text


def test_strict_fails_a_spec_that_needs_a_download(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    write_dedented(tmp_path / "offline.yaml", OFFLINE)
    assert smoke(tmp_path)[0] == 0
    code, output = smoke(tmp_path, "--strict", "--junit", tmp_path / "smoke.xml")
    assert code == 1, output
    suite, cases = junit_cases(tmp_path / "smoke.xml")
    assert suite.get("failures") == "1" and cases[str(tmp_path / "offline.yaml")].find("failure") is not None


def test_an_unwritable_junit_path_is_refused_before_any_work(tmp_path):
    write_dedented(tmp_path / "spec.yaml", TINY_IRIS)
    (tmp_path / "folder.xml").mkdir()
    code, output = smoke(tmp_path, "--junit", tmp_path / "folder.xml")
    assert code == 2 and "is a folder" in output


# ---- runs ------------------------------------------------------------------------------------------

def test_a_failing_run_exits_1_and_is_a_failure_in_the_xml(tmp_path):
    folder = failing_folder(tmp_path / "specs")
    write_dedented(folder / "good.yaml", TINY_IRIS)
    junit = tmp_path / "smoke.xml"
    code, output = smoke(folder, "--junit", junit)
    assert code == 1, output
    suite, cases = junit_cases(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    failure = cases[str(folder / "failing.yaml")].find("failure")
    assert failure.get("message") == (f"{folder / 'failing.yaml'}: training failed: RuntimeError: planted failure in "
                                      f"a training step")
    assert "Traceback" in failure.text and "raise RuntimeError" in failure.text
    passed = cases[str(folder / "good.yaml")]
    assert list(passed) == [] and float(passed.get("time")) > 0
    assert passed.get("classname") == "dlrun.smoke.train"


def test_an_invalid_spec_wins_over_a_failed_run(tmp_path):
    failing = failing_folder(tmp_path / "failing")
    write_dedented(tmp_path / "broken" / "broken.yaml", BROKEN)
    junit = tmp_path / "smoke.xml"
    code, output = smoke(tmp_path / "broken", failing, "--junit", junit)
    assert code == 2, output
    suite, cases = junit_cases(junit)
    assert (suite.get("errors"), suite.get("failures")) == ("1", "1")
    assert set(cases) == {str(tmp_path / "broken" / "broken.yaml"), str(failing / "failing.yaml")}


def test_each_kind_runs_with_smoke_settings_and_keep_leaves_the_runs(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    monkeypatch.chdir(tmp_path)
    for name, text in (("train.yaml", TINY_IRIS), ("kfold.yaml", KFOLD), ("sweep.yaml", SWEEP)):
        write_dedented(tmp_path / "specs" / name, text)
    code, output = smoke("specs", "--keep")
    assert code == 0, output
    for kind, name in (("train", "train"), ("kfold", "kfold"), ("sweep", "sweep")):
        assert f"passed {kind} specs/{name}.yaml" in output, output
    runs = {json.loads((run / "run.json").read_text())["kind"]: run for run in (tmp_path / "runs").iterdir()}
    assert set(runs) == {"train", "kfold", "sweep"}
    train = json.loads((runs["train"] / "run.json").read_text())
    assert train["smoke"] is True and train["epochs_run"] == 1
    assert json.loads((runs["kfold"] / "run.json").read_text())["n_folds"] == 2
    assert len(list((runs["sweep"] / "trials").iterdir())) == 2
    assert list(runs["train"].rglob("*.png")) == []  # no plots without --plots


def test_without_keep_the_runs_go_to_a_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_dedented(tmp_path / "spec.yaml", TINY_IRIS)
    code, output = smoke("spec.yaml")
    assert code == 0, output
    assert not (tmp_path / "runs").exists()


# ---- the table and the XML on their own -------------------------------------------------------------

RESULTS = [
    SmokeResult("configs/a_rather_long_spec_name_for_a_table.yaml", "train", "passed", 2.25),
    SmokeResult("configs/broken.yaml", "kfold", "invalid", 0.01,
                "configs/broken.yaml:7:9  model.layers[0].Dense.activaton: unknown argument of Dense — did you mean "
                "'activation'?", "1 problem in the experiment spec: …", "configs/broken.yaml", 7),
    SmokeResult("configs/failing.yaml", "sweep", "failed", 3.5,
                "configs/failing.yaml: training failed: RuntimeError: planted \x1b[1mfailure\x1b[0m\x07",
                "Traceback …\x00"),
    SmokeResult("configs/mnist.yaml", "train", "skipped", 0.0, "offline: keras:mnist needs a download"),
]


def test_the_table_is_readable_at_80_columns():
    console = Console(width=80, record=True, color_system=None)
    console.print(smoke_table(RESULTS, 5.76))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert "…" not in text, text
    assert "dlrun smoke: configs/" in text
    assert "1 passed, 1 failed, 1 invalid, 1 skipped in 5.8 s" in text
    assert "7:9" in text and "configs/broken.yaml" not in text  # the folder is in the title, the name in column 1
    assert "a_rather_long" in text and "broken.yaml" in text and "planted" in text


def test_the_junit_xml_has_the_counts_and_one_testcase_per_spec():
    root = ET.fromstring(junit_xml(RESULTS, 5.76).encode("utf-8"))
    suite = root.find("testsuite")
    for element in (root, suite):
        assert {k: element.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == \
            {"tests": "4", "failures": "1", "errors": "1", "skipped": "1", "time": "5.760"}
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [r.spec for r in RESULTS]
    assert [c.get("classname") for c in cases] == ["dlrun.smoke.train", "dlrun.smoke.kfold", "dlrun.smoke.sweep",
                                                   "dlrun.smoke.train"]
    assert cases[1].find("error").get("type") == "invalid" and cases[1].get("line") == "7"
    failure = cases[2].find("failure")
    assert failure.get("message") == "configs/failing.yaml: training failed: RuntimeError: planted failure"
    assert failure.text == "Traceback …"
    assert cases[3].find("skipped").get("message") == "offline: keras:mnist needs a download"


# ---- processes (slow) --------------------------------------------------------------------------------

@pytest.mark.slow
def test_jobs_run_the_specs_in_worker_processes_with_the_same_results(tmp_path):
    folder = failing_folder(tmp_path / "specs")
    write_dedented(folder / "good.yaml", TINY_IRIS)
    write_dedented(folder / "kfold.yaml", KFOLD)
    write_dedented(folder / "broken.yaml", BROKEN)
    code, output = smoke(folder, "--jobs", "2", "--junit", tmp_path / "smoke.xml")
    assert code == 2, output
    _, cases = junit_cases(tmp_path / "smoke.xml")
    statuses = {Path(name).name: [child.tag for child in case] for name, case in cases.items()}
    assert statuses == {"broken.yaml": ["error"], "failing.yaml": ["failure"], "good.yaml": [], "kfold.yaml": []}


@pytest.mark.slow
def test_a_spec_on_another_backend_runs_in_a_process_of_its_own(tmp_path, monkeypatch):
    pytest.importorskip("jax")
    monkeypatch.chdir(tmp_path)
    write_dedented(tmp_path / "specs" / "tf.yaml", TINY_IRIS)
    write_dedented(tmp_path / "specs" / "jax.yaml", TINY_IRIS.replace("training: {", "training: {backend: jax, "))
    code, output = smoke("specs", "--keep")
    assert code == 0, output
    assert "2 passed in" in output, output
    backends = sorted(json.loads((run / "run.json").read_text())["backend"] for run in (tmp_path / "runs").iterdir())
    assert backends == ["jax", "tensorflow"]


@pytest.mark.slow
def test_smoke_help_and_a_run_with_nothing_to_train_import_no_backend(tmp_path):
    write_dedented(tmp_path / "broken.yaml", BROKEN)
    write_dedented(tmp_path / "offline.yaml", OFFLINE)
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom dlrun.cli import app\n"
            "codes = [CliRunner().invoke(app, args).exit_code for args in "
            f"(['smoke', '--help'], ['smoke', {str(tmp_path)!r}])]\n"
            "print(codes, [m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env=child_env())
    assert proc.stdout.strip() == "[0, 2] []", proc.stdout + proc.stderr


@pytest.mark.slow
def test_dlrun_smoke_configs_passes_every_offline_config(tmp_path):
    """The command CI runs, end to end in a fresh process: every config that needs no download passes,
    the keras: ones are skipped (unless their dataset is in the Keras cache: then they pass too)."""
    junit = tmp_path / "smoke.xml"
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dlrun", "smoke", "configs/", "--jobs", "2", "--junit", str(junit)],
                          capture_output=True, text=True, cwd=ROOT, env={**child_env(), "COLUMNS": "80"}, timeout=600)
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    suite, cases = junit_cases(junit)
    configs = sorted(CONFIGS.glob("*.yaml"))
    assert sorted(Path(name).name for name in cases) == [p.name for p in configs]
    for path in configs:
        case = cases[f"configs/{path.name}"]
        children = [child.tag for child in case]
        if "keras:" in path.read_text(encoding="utf-8"):
            assert children in ([], ["skipped"]), (path.name, children)
        else:
            assert children == [], (path.name, ET.tostring(case, encoding="unicode"))
    assert suite.get("failures") == suite.get("errors") == "0"
    print(f"dlrun smoke configs/: {seconds:.1f} s")


@pytest.mark.slow
def test_a_mirrored_spec_gets_a_process_whose_cpu_devices_it_chose(tmp_path):
    """training.cpu_replicas is fixed when TensorFlow starts: such a spec cannot share a process that
    started with one CPU device, so it runs in a worker of its own."""
    write_dedented(tmp_path / "a_plain.yaml", TINY_IRIS)
    write_dedented(tmp_path / "b_mirrored.yaml", TINY_IRIS.replace(
        "training: {", "training: {distribute: mirrored, cpu_replicas: 2, "))
    code, output = smoke(tmp_path)
    assert code == 0, output
    assert "2 passed in" in output, output
