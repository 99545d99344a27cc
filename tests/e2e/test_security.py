"""Security rules: a spec, a saved model, a data file or a run id never runs code or reaches
files it should not. Real YAML files, real Keras models, real training, no mocks; each
"never executed" claim is proved by a side effect (a marker file) that would appear if it ran."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import DataError, RunLookupError, SpecError, UserError
from dlrun.runs.artifacts import read_info
from dlrun.runs.lookup import resolve_run
from dlrun.runs.rundir import RunDir
from dlrun.spec import load_spec
from tests.support import ROOT, TINY_IRIS

runner = CliRunner()
DLRUN = ROOT / "dlrun"


def _env() -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# ---- YAML: Python tags are malformed YAML, never code --------------------------------------------

# {cmd} is a shell command and {argv} its argv list: both create the marker file if ever run.
PYTHON_TAGS = {
    "apply_on_a_scalar_value": 'description: !!python/object/apply:os.system ["{cmd}"]',
    "apply_with_mapping_args": 'description: !!python/object/apply:os.system {{args: ["{cmd}"]}}',
    "apply_subprocess_without_shell": "description: !!python/object/apply:subprocess.check_call [{argv}]",
    "new_on_a_scalar_value": 'description: !!python/object/new:os.system ["{cmd}"]',
    "apply_inside_a_list": 'metrics: [!!python/object/apply:os.system ["{cmd}"]]',
    "apply_as_a_mapping_key": '? !!python/object/apply:os.system ["{cmd}"]\n: 1',
    "apply_behind_an_alias": 'description: &boom !!python/object/apply:os.system ["{cmd}"]\noutput: {{runs_dir: *boom}}',
    "apply_with_state": 'description: !!python/object/apply:os.system {{args: ["{cmd}"], state: {{a: 1}}}}',
    "name_on_a_scalar": "loss: !!python/name:os.system",
    "module_on_a_scalar": "loss: !!python/module:os",
    "object_on_a_scalar": "description: !!python/object:argparse.Namespace",
    "object_on_a_mapping": 'split: !!python/object:argparse.Namespace {{test: 0.2}}',
    "object_on_a_list": "metrics: !!python/object:builtins.list [accuracy]",
    "tuple_on_a_list": "metrics: !!python/tuple [accuracy]",
}


def _tagged_spec(tmp_path: Path, line: str) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    text = TINY_IRIS.lstrip("\n") + line.format(cmd=f"touch {marker}", argv=json.dumps(["touch", str(marker)])) + "\n"
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path, marker


@pytest.mark.parametrize("line", PYTHON_TAGS.values(), ids=PYTHON_TAGS.keys())
def test_python_yaml_tags_are_malformed_yaml_and_never_executed(tmp_path, line):
    path, marker = _tagged_spec(tmp_path, line)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert "malformed YAML" in message and "no Python object tags" in message, message
    assert re.search(r"spec\.yaml:\d+:\d+", message), message  # located
    assert not marker.exists()


@pytest.mark.parametrize("command", ["validate", "train"])
def test_python_yaml_tag_through_the_cli_exits_2_without_running_it(tmp_path, command):
    path, marker = _tagged_spec(tmp_path, PYTHON_TAGS["apply_on_a_scalar_value"])
    result = runner.invoke(app, [command, str(path), *(["--runs-dir", str(tmp_path / "runs")] if command == "train" else [])])
    assert result.exit_code == 2, result.output
    assert "malformed YAML" in result.stderr and "Traceback" not in result.output
    assert not marker.exists()
    assert not (tmp_path / "runs").exists()


def test_python_yaml_tag_in_an_extended_parent_spec_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    _write(tmp_path / "base.yaml", f'description: !!python/object/apply:os.system ["touch {marker}"]\n')
    child = _write(tmp_path / "child.yaml", "extends: base.yaml\n" + TINY_IRIS)
    with pytest.raises(SpecError) as caught:
        load_spec(child)
    assert "base.yaml:1:" in str(caught.value) and "malformed YAML" in str(caught.value)
    assert not marker.exists()


def test_python_yaml_tag_in_a_set_override_stays_a_plain_string(tmp_path):
    marker = tmp_path / "pwned"
    path = _write(tmp_path / "spec.yaml", TINY_IRIS)
    raw = f'!!python/object/apply:os.system ["touch {marker}"]'
    loaded = load_spec(path, [f"description={raw}"])
    assert loaded.spec.description == raw
    assert not marker.exists()


# ---- saved models: Keras safe mode, no embedded code ---------------------------------------------

@pytest.fixture(scope="module")
def iris_run(trained_run) -> RunDir:
    """One tiny trained iris run; tests copy it before changing anything in it."""
    run = trained_run().run
    assert read_info(run.path)["status"] == "completed"
    return run


def _copy_run(run: RunDir, runs_dir: Path) -> RunDir:
    target = runs_dir / run.run_id
    shutil.copytree(run.path, target)
    return RunDir(target)


def _iris_csv(run: RunDir, path: Path) -> Path:
    columns = json.loads(run.file("preprocessing.json").read_text())["features"]["columns"]
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    path.write_text(",".join(columns) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


def _lambda_model_in(run: RunDir, marker: Path) -> None:
    """Replace the run's model.keras with one whose Lambda layer touches `marker` when called."""
    import keras

    touch = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")  # noqa: S307
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(touch),
                              keras.layers.Dense(3, activation="softmax")])
    model.save(run.file("model.keras"))
    marker.unlink(missing_ok=True)  # building the model called the lambda once, symbolically


def test_evaluate_refuses_a_model_with_a_lambda_layer_in_safe_mode(iris_run, tmp_path):
    from dlrun.inference.evaluate import evaluate

    run = _copy_run(iris_run, tmp_path / "runs")
    marker = tmp_path / "lambda_ran"
    _lambda_model_in(run, marker)
    with pytest.raises(UserError) as caught:
        evaluate(run)
    assert "safe mode" in str(caught.value) and "Lambda" in str(caught.value)
    assert not marker.exists()
    assert not run.file("evaluations").exists() or not any(run.file("evaluations").iterdir())


def test_predict_cli_refuses_a_model_with_a_lambda_layer_exit_2(iris_run, tmp_path):
    run = _copy_run(iris_run, tmp_path / "runs")
    marker = tmp_path / "lambda_ran"
    _lambda_model_in(run, marker)
    data = _iris_csv(run, tmp_path / "new.csv")
    out = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["predict", run.run_id, str(data), "--runs-dir", str(run.path.parent), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "safe mode" in result.stderr and "Traceback" not in result.output
    assert not marker.exists()
    assert not out.exists()


def test_the_lambda_marker_would_appear_if_the_model_were_loaded_unsafely(iris_run, tmp_path):
    """The control for the two tests above: the marker mechanism works when code does run."""
    import keras

    run = _copy_run(iris_run, tmp_path / "runs")
    marker = tmp_path / "lambda_ran"
    _lambda_model_in(run, marker)
    assert not marker.exists()
    keras.models.load_model(run.file("model.keras"), compile=False, safe_mode=False)
    assert marker.exists()


def test_model_config_naming_a_function_outside_keras_is_refused_and_its_module_never_imported(
        iris_run, tmp_path, monkeypatch):
    from dlrun.inference.evaluate import evaluate

    run = _copy_run(iris_run, tmp_path / "runs")
    gadget = f"dlrun_gadget_{uuid.uuid4().hex[:8]}"
    imported, called = tmp_path / "gadget_imported", tmp_path / "gadget_called"
    _write(tmp_path / "gadgets" / f"{gadget}.py", f"""
        from pathlib import Path
        Path({str(imported)!r}).touch()
        def boom(x):
            Path({str(called)!r}).touch()
            return x
        """)
    monkeypatch.syspath_prepend(str(tmp_path / "gadgets"))  # importable: the worst case
    path = run.file("model.keras")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = members["config.json"].decode()
    assert '"activation": "softmax"' in config
    evil = json.dumps({"module": gadget, "class_name": "function", "config": "boom", "registered_name": "boom"})
    members["config.json"] = config.replace('"activation": "softmax"', f'"activation": {evil}').encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    with pytest.raises(UserError) as caught:
        evaluate(run)
    assert "cannot be loaded" in str(caught.value) and "safe mode" in str(caught.value)
    assert gadget not in sys.modules
    assert not imported.exists() and not called.exists()


# ---- imports: only the listed modules, found next to the spec ------------------------------------

def _layer_module(folder: Path, module: str, log: Path, register: bool = True) -> None:
    """A module with a custom layer `Doubler` that appends a line to `log` each time it is imported."""
    decorator = f"@keras.saving.register_keras_serializable(package={module!r})" if register else ""
    _write(folder / f"{module}.py", f"""
        import keras
        with open({str(log)!r}, "a") as handle:
            handle.write("imported\\n")

        {decorator}
        class Doubler(keras.layers.Layer):
            def call(self, x):
                return x * 2.0
        """)


def _custom_spec(folder: Path, imports: list[str] | None, layer: str = "Doubler") -> Path:
    """An iris spec whose first layer is `layer`; `imports:` on line 3 when given."""
    listed = f"imports: {json.dumps(imports)}\n" if imports is not None else ""
    text = ("name: custom-layer\nseed: 2\n" + listed + 'data: {source: "sklearn:iris"}\n'
            "model:\n  layers:\n"
            f"    - {layer}: {{}}\n"
            "    - Dense: {units: 3, activation: softmax}\n"
            "training: {epochs: 1, batch_size: 16}\n")
    path = folder / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def custom_run(trained_run, tmp_path_factory):
    """A run trained with a custom layer from a module next to the spec (listed), beside a
    module that is not listed; each module logs every import of it."""
    folder = tmp_path_factory.mktemp("custom")
    module = f"dlrun_sec_layers_{uuid.uuid4().hex[:8]}"
    unlisted = f"dlrun_sec_unlisted_{uuid.uuid4().hex[:8]}"
    log, unlisted_log = folder / "imports.log", folder / "unlisted.log"
    _layer_module(folder, module, log)
    _layer_module(folder, unlisted, unlisted_log)
    spec = _custom_spec(folder, [module])
    path_before = list(sys.path)
    result = trained_run(spec, runs_dir=folder / "runs")
    return {"result": result, "module": module, "unlisted": unlisted, "log": log, "unlisted_log": unlisted_log,
            "folder": folder, "path_before": path_before, "path_after": list(sys.path)}


def test_custom_layer_from_a_module_listed_under_imports_trains(custom_run):
    result = custom_run["result"]
    assert json.loads(result.run.file("run.json").read_text())["status"] == "completed"
    with zipfile.ZipFile(result.run.file("model.keras")) as archive:
        config = json.loads(archive.read("config.json"))
    classes = [layer["class_name"] for layer in config["config"]["layers"]]
    assert "Doubler" in classes
    assert custom_run["log"].read_text().count("imported") == 1


def test_only_listed_modules_are_imported(custom_run):
    assert custom_run["module"] in sys.modules
    assert custom_run["unlisted"] not in sys.modules
    assert not custom_run["unlisted_log"].exists()


def test_the_spec_folder_is_taken_off_sys_path_after_the_imports(custom_run):
    assert str(custom_run["folder"]) not in custom_run["path_after"]
    assert custom_run["path_after"] == custom_run["path_before"]


@pytest.mark.slow  # dlrun evaluate in a fresh process
def test_evaluate_of_a_custom_layer_run_imports_the_module_again_in_a_fresh_process(custom_run, tmp_path):
    run = custom_run["result"].run
    elsewhere = tmp_path / "elsewhere"  # not the spec's folder: the module is found through the run
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, "-m", "dlrun", "evaluate", run.run_id, "--runs-dir", str(run.path.parent),
                           "--json"], cwd=elsewhere, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    assert 0.0 <= document["test"]["accuracy"] <= 1.0
    assert custom_run["log"].read_text().count("imported") == 2  # once in training, once to load
    assert not custom_run["unlisted_log"].exists()


def test_custom_layer_not_listed_under_imports_is_an_unknown_layer_at_validation(tmp_path):
    module = f"dlrun_sec_layers_{uuid.uuid4().hex[:8]}"
    log = tmp_path / "imports.log"
    _layer_module(tmp_path, module, log)
    spec = _custom_spec(tmp_path, None)
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    message = str(caught.value)
    assert "spec.yaml:6:7  model.layers[0].Doubler" in message, message
    assert "unknown layer 'Doubler'" in message and "imports:" in message
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2 and "unknown layer 'Doubler'" in result.stderr
    assert module not in sys.modules and not log.exists()


@pytest.mark.parametrize("command", [["validate", "--build"], ["train"]])
def test_imports_naming_a_missing_module_is_a_located_error_exit_2(tmp_path, command):
    missing = f"no_such_module_{uuid.uuid4().hex[:8]}"
    spec = _custom_spec(tmp_path, [missing])
    extra = ["--runs-dir", str(tmp_path / "runs")] if command == ["train"] else []
    result = runner.invoke(app, [*command, str(spec), *extra])
    assert result.exit_code == 2, result.output
    assert f"spec.yaml:3:11  imports[0]: module '{missing}' is not found" in result.stderr, result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["os; rm", "../x", "a/b", "my_layers/x", "-x", "", "a..b", "1abc", "a.",
                                  "__import__('os')", "x y", "os\nimport sys"])
def test_imports_that_are_not_module_names_are_rejected_at_validation(tmp_path, name):
    spec = _custom_spec(tmp_path, [name])
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert "is not a module name" in str(caught.value)
    assert re.search(r"spec\.yaml:3:\d+  imports", str(caught.value))


def test_bad_import_name_through_the_cli_exits_2(tmp_path):
    result = runner.invoke(app, ["validate", str(_custom_spec(tmp_path, ["os; rm -rf x"]))])
    assert result.exit_code == 2
    assert "'os; rm -rf x' is not a module name" in result.stderr


def test_run_with_an_unregistered_custom_layer_is_either_refused_at_training_or_evaluable(tmp_path, trained_run):
    from dlrun.inference.evaluate import evaluate

    module = f"dlrun_sec_unreg_{uuid.uuid4().hex[:8]}"
    _layer_module(tmp_path, module, tmp_path / "imports.log", register=False)
    spec = _custom_spec(tmp_path, [module])
    try:
        result = trained_run(spec, runs_dir=tmp_path / "runs")
    except UserError as exc:  # refusing at training, naming the fix, is one acceptable answer
        assert "register_keras_serializable" in str(exc)
        return
    assert read_info(result.run.path)["status"] == "completed"
    evaluate(result.run)  # the other: the run it wrote can be evaluated


# ---- run names and run ids stay inside the runs directory ----------------------------------------

@pytest.mark.parametrize("name", ["../evil", "a/b", "/tmp/evil", "..", ".hidden", "a\\b", "ok/../../evil", "-x", ""])
def test_run_name_that_could_leave_the_runs_dir_is_rejected(tmp_path, name):
    spec = _write(tmp_path / "spec.yaml", TINY_IRIS)
    runs = tmp_path / "deep" / "runs"
    result = runner.invoke(app, ["train", str(spec), "--name", name, "--runs-dir", str(runs)])
    assert result.exit_code == 2, result.output
    assert "is not a usable run name" in result.stderr
    assert not (tmp_path / "deep").exists() and not (tmp_path / "evil").exists()


def test_kfold_run_name_with_a_slash_is_rejected(tmp_path):
    spec = _write(tmp_path / "spec.yaml", TINY_IRIS)
    result = runner.invoke(app, ["kfold", str(spec), "--name", "../evil", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "is not a usable run name" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_spec_name_with_a_slash_is_a_located_error(tmp_path):
    spec = _write(tmp_path / "spec.yaml", TINY_IRIS.replace("name: tiny-iris", "name: ../../evil"))
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert "spec.yaml:1:" in str(caught.value) and "not a usable run name" in str(caught.value)


def test_created_run_folder_is_a_direct_child_of_the_runs_dir(tmp_path):
    runs = tmp_path / "runs"
    for name in ("a", "a.b", "a_b-c", "x" * 64):
        run = RunDir.create(runs, name)
        assert run.path.parent == runs and run.path.resolve().parent == runs.resolve()


def _fake_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"status": "completed", "started": "2030-01-01T00:00:00+00:00"}))
    return folder


@pytest.mark.parametrize("ref", ["../outside/victim", "..", "../outside", "./../outside/victim", "runs/../outside/victim"])
def test_relative_refs_outside_the_runs_dir_are_refused(tmp_path, monkeypatch, ref):
    _fake_run(tmp_path / "outside" / "victim")
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path / "runs" if not ref.startswith("runs/") else tmp_path)
    runs = Path(".") if not ref.startswith("runs/") else Path("runs")
    with pytest.raises(RunLookupError):
        resolve_run(ref, runs)


def test_absolute_path_outside_the_runs_dir_is_refused(tmp_path):
    victim = _fake_run(tmp_path / "outside" / "victim")
    (tmp_path / "runs").mkdir()
    with pytest.raises(RunLookupError) as caught:
        resolve_run(str(victim), tmp_path / "runs")
    assert "not a run directory inside the runs directory" in str(caught.value)


@pytest.mark.parametrize("ref", ["../x", "/etc", "..", "a/../../b"])
def test_show_and_evaluate_of_a_ref_outside_the_runs_dir_exit_2(tmp_path, ref):
    (tmp_path / "runs").mkdir()
    for command in (["show", ref], ["evaluate", ref], ["predict", ref, str(tmp_path / "x.csv")]):
        result = runner.invoke(app, [*command, "--runs-dir", str(tmp_path / "runs")])
        assert result.exit_code == 2, (command, result.output)
        assert "Traceback" not in result.output


def test_symlink_path_inside_the_runs_dir_pointing_outside_is_refused(tmp_path):
    victim = _fake_run(tmp_path / "outside" / "victim")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "link").symlink_to(victim)
    with pytest.raises(RunLookupError) as caught:
        resolve_run(str(tmp_path / "runs" / "link"), tmp_path / "runs")
    assert "not a run directory inside the runs directory" in str(caught.value)


def test_symlink_path_to_another_run_inside_the_runs_dir_resolves(tmp_path):
    real = _fake_run(tmp_path / "runs" / "20300101-000000-a-0000")
    (tmp_path / "runs" / "alias").symlink_to(real)
    assert resolve_run(str(tmp_path / "runs" / "alias"), tmp_path / "runs").path.resolve() == real.resolve()


@pytest.mark.parametrize("ref", ["link", "lin", "latest"])
def test_symlink_named_by_id_prefix_or_latest_never_resolves_outside_the_runs_dir(tmp_path, ref):
    victim = _fake_run(tmp_path / "outside" / "victim")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "link").symlink_to(victim)
    try:
        found = resolve_run(ref, tmp_path / "runs")
    except RunLookupError:
        return
    assert found.path.resolve().parent == (tmp_path / "runs").resolve(), found.path.resolve()


# ---- nothing is unpickled ------------------------------------------------------------------------

class _TouchOnUnpickle:
    """Pickles as a call to open(marker, 'w'): unpickling it creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _npz_spec(tmp_path: Path, x, y) -> tuple[Path, Path]:
    np.savez(tmp_path / "data.npz", x=x, y=y)
    spec = _write(tmp_path / "spec.yaml", """
        name: npz
        data: {source: "npz:data.npz"}
        model:
          layers:
            - Dense: {units: 2, activation: softmax}
        training: {epochs: 1}
        """)
    return spec, tmp_path / "data.npz"


@pytest.mark.parametrize("which", ["x", "y"])
def test_npz_with_object_arrays_is_a_data_error_and_never_unpickled(tmp_path, which):
    from dlrun.protocols.stages import prepare

    marker = tmp_path / "unpickled"
    evil = np.empty(4, dtype=object)
    evil[:] = [_TouchOnUnpickle(marker) for _ in range(4)]
    x = evil if which == "x" else np.zeros((4, 2), dtype="float32")
    y = evil if which == "y" else np.array([0, 1, 0, 1])
    spec, _ = _npz_spec(tmp_path, x, y)
    assert not marker.exists()
    with pytest.raises(DataError) as caught:
        prepare(load_spec(spec))
    assert "data.npz" in str(caught.value) and "not a readable NPZ archive" in str(caught.value)
    assert "allow_pickle" in str(caught.value)
    assert not marker.exists()


def test_the_npz_marker_would_appear_if_the_archive_were_unpickled(tmp_path):
    """The control for the test above: loading with pickling on does run the payload."""
    marker = tmp_path / "unpickled"
    evil = np.empty(1, dtype=object)
    evil[0] = _TouchOnUnpickle(marker)
    np.savez(tmp_path / "data.npz", x=evil)
    with np.load(tmp_path / "data.npz", allow_pickle=True) as archive:
        archive["x"]
    assert marker.exists()


def test_evaluate_on_an_npz_with_object_arrays_is_refused_before_the_model(iris_run, tmp_path):
    from dlrun.inference.evaluate import evaluate

    marker = tmp_path / "unpickled"
    evil = np.empty(2, dtype=object)
    evil[:] = [_TouchOnUnpickle(marker), _TouchOnUnpickle(marker)]
    np.savez(tmp_path / "new.npz", x=evil, y=np.array([0, 1]))
    run = _copy_run(iris_run, tmp_path / "runs")
    with pytest.raises(DataError) as caught:
        evaluate(run, tmp_path / "new.npz")
    assert "allow_pickle" in str(caught.value)
    assert not marker.exists()


def _sources() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in sorted(DLRUN.rglob("*.py"))}


UNPICKLING = re.compile(r"\bpickle\.loads?\b|\bjoblib\.load\b|\bcloudpickle\b|\bdill\b|\bread_pickle\b|"
                        r"\bmarshal\.loads?\b|\bshelve\b|\btorch\.load\b|allow_pickle\s*=\s*True|"
                        r"\byaml\.(load|unsafe_load|full_load|load_all|unsafe_load_all)\s*\(|"
                        r"\b(Unsafe|Full)Loader\b|yaml\.Loader\b|enable_unsafe_deserialization|safe_mode\s*=\s*False")


def test_no_module_under_dlrun_unpickles_or_loads_yaml_unsafely():
    sources = _sources()
    assert len(sources) > 20
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}" for path, text in sources.items()
             for n, line in enumerate(text.splitlines(), 1) if UNPICKLING.search(line)]
    assert found == []


def _calls(tree: ast.AST, attr: str, owners: tuple[str, ...]):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attr:
            owner = ast.unparse(node.func.value)
            if owner in owners or owner.split(".")[-1] in owners:
                yield node


def test_every_np_load_passes_allow_pickle_false_except_the_keras_cache_reader():
    checked, exceptions = 0, []
    for path, text in _sources().items():
        tree = ast.parse(text)
        parents = {child: fn.name for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef)
                   for child in ast.walk(fn)}
        for call in _calls(tree, "load", ("np", "numpy")):
            keyword = {k.arg: k.value for k in call.keywords}.get("allow_pickle")
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if isinstance(keyword, ast.Constant) and keyword.value is False:
                checked += 1
                continue
            exceptions.append((where, parents.get(call), ast.unparse(keyword) if keyword is not None else None))
    assert checked >= 3  # sources.py, predict.py, train/resume.py
    # the one documented exception: keras.datasets' own cache of imdb/reuters word lists
    assert len(exceptions) == 1, exceptions
    where, function, value = exceptions[0]
    assert where.startswith("dlrun/data/keras_sources.py:") and function == "_read_npz" and value == "sequences"
    text = (DLRUN / "data" / "keras_sources.py").read_text()
    assert re.search(r"_read_npz\(cached, sequences=name in \(\"imdb\", \"reuters\"\)\)", text)
    assert text.count("_read_npz(") == 2  # its definition and that one call
    assert "cached = keras_cache_dir() / CACHE_FILES[name]" in text  # only the Keras cache file


def test_every_keras_load_model_passes_safe_mode_true():
    calls = [(path, call) for path, text in _sources().items() for call in _calls(ast.parse(text), "load_model", ("models", "saving"))]
    assert calls, "expected dlrun/evaluate.py to load models"
    for path, call in calls:
        keyword = {k.arg: k.value for k in call.keywords}.get("safe_mode")
        assert isinstance(keyword, ast.Constant) and keyword.value is True, f"{path}:{call.lineno}"
