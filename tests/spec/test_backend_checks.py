"""training.backend in the spec: its default, its values, and the environment checks load_spec
makes (the backend's package installed; TensorBoard on JAX needs TensorFlow), each reported at the
spec line to change. Also: a process already running Keras on TensorFlow refuses to switch.

A package is made to look uninstalled with `sys.modules[name] = None` (importlib.util.find_spec
then raises ValueError, which dlrun.spec.backends.installed reads as "not installed"); load_spec
itself is the real one.
"""

from __future__ import annotations

import os
import sys

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.errors import SpecError, UserError
from dlrun.spec import load_spec
from dlrun.spec.backends import BACKENDS, backend_problems, installed, missing_backend
from tests.support import ANSI, combined_output, only_problem


SPEC = """
    name: backends
    data: {source: "sklearn:iris"}
    model:
      layers:
        - Dense: {units: 3, activation: softmax}
    training:
      epochs: 2
      backend: jax
    callbacks:
      tensorboard: true
"""
BACKEND_LINE, TENSORBOARD_LINE = 8, 10  # 1-based lines of `backend: jax` and `tensorboard: true` above

PLAIN = """
    data: {source: "sklearn:iris"}
    model:
      layers:
        - Dense: {units: 3, activation: softmax}
"""


def hide(monkeypatch, *modules: str) -> None:
    """Make `modules` look uninstalled for the rest of the test."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


# --- the field --------------------------------------------------------------------------------


def test_backend_defaults_to_tensorflow(write_spec):
    spec = load_spec(write_spec(PLAIN)).spec
    assert spec.training.backend == "tensorflow"
    assert BACKENDS == ("tensorflow", "jax")


def test_backend_jax_by_set_is_valid(write_spec):
    loaded = load_spec(write_spec(PLAIN), ["training.backend=jax"])
    assert loaded.spec.training.backend == "jax"
    assert backend_problems(loaded.spec) == []


def test_backend_jax_in_the_file_is_valid(write_spec):
    path = write_spec(SPEC)
    assert load_spec(path).spec.training.backend == "jax"


@pytest.mark.parametrize("value", ["torch", "theano", "TensorFlow"])
def test_an_unknown_backend_is_a_located_spec_error(write_spec, value):
    path = write_spec(SPEC.replace("backend: jax", f"backend: {value}"))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    problem = only_problem(caught)
    assert problem.path == "training.backend"
    assert (problem.file, problem.line) == (str(path), BACKEND_LINE)
    assert "tensorflow" in problem.message and "jax" in problem.message


def test_an_unknown_backend_by_set_is_located_at_the_set(write_spec):
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(PLAIN), ["training.backend=torch"])
    problem = only_problem(caught)
    assert (problem.file, problem.path) == ("--set", "training.backend")


# --- the backend's package must be installed ---------------------------------------------------


def test_installed_sees_the_real_packages_and_a_hidden_one(monkeypatch):
    assert installed("tensorflow") and installed("jax")
    assert not installed("dlrun_no_such_package")
    hide(monkeypatch, "jax")
    assert not installed("jax")
    assert missing_backend("tensorflow") is None


def test_missing_backend_says_which_extra_to_install(monkeypatch):
    assert missing_backend("jax") is None
    hide(monkeypatch, "jax")
    message = missing_backend("jax")
    assert 'pip install "dlrun[jax]"' in message and "jax is not installed" in message
    assert "not one dlrun runs on" in missing_backend("torch")


def test_jax_not_installed_is_a_spec_error_at_the_backend_line(write_spec, monkeypatch):
    path = write_spec(SPEC)
    hide(monkeypatch, "jax")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    problem = only_problem(caught)  # the tensorboard check is not reached: one thing to fix at a time
    assert problem.path == "training.backend"
    assert (problem.file, problem.line) == (str(path), BACKEND_LINE)
    assert 'pip install "dlrun[jax]"' in problem.message
    assert f"{path}:{BACKEND_LINE}:" in str(caught.value)


def test_jax_not_installed_by_set_is_located_at_the_set(write_spec, monkeypatch):
    hide(monkeypatch, "jax")
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(PLAIN), ["training.backend=jax"])
    problem = only_problem(caught)
    assert (problem.file, problem.path) == ("--set", "training.backend")
    assert "dlrun[jax]" in problem.message


def test_a_missing_jax_does_not_matter_to_a_tensorflow_spec(write_spec, monkeypatch):
    hide(monkeypatch, "jax")
    assert load_spec(write_spec(PLAIN)).spec.training.backend == "tensorflow"


def test_validate_exits_2_naming_the_backend_line_and_the_extra(write_spec, monkeypatch):
    path = write_spec(SPEC)
    hide(monkeypatch, "jax")
    result = CliRunner().invoke(app, ["validate", str(path)], env={"COLUMNS": "300"})
    output = ANSI.sub("", combined_output(result))
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert f"{path}:{BACKEND_LINE}:" in output
    assert "training.backend" in output and "dlrun[jax]" in output
    assert "is valid" not in output


def test_validate_accepts_the_jax_spec_when_jax_is_installed(write_spec):
    result = CliRunner().invoke(app, ["validate", str(write_spec(SPEC))], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "is valid" in ANSI.sub("", result.output)


# --- TensorBoard on JAX needs TensorFlow --------------------------------------------------------


def test_tensorboard_on_jax_without_tensorflow_is_an_error_at_the_tensorboard_line(write_spec, monkeypatch):
    path = write_spec(SPEC)
    hide(monkeypatch, "tensorflow")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    problem = only_problem(caught)
    assert problem.path == "callbacks.tensorboard"
    assert (problem.file, problem.line) == (str(path), TENSORBOARD_LINE)
    assert "TensorFlow" in problem.message and "callbacks.tensorboard: false" in problem.message


def test_tensorboard_on_jax_with_tensorflow_installed_is_fine(write_spec):
    spec = load_spec(write_spec(SPEC)).spec
    assert (spec.training.backend, bool(spec.callbacks.tensorboard)) == ("jax", True)


def test_jax_without_tensorboard_does_not_need_tensorflow(write_spec, monkeypatch):
    path = write_spec(SPEC.replace("tensorboard: true", "tensorboard: false"))
    hide(monkeypatch, "tensorflow")
    assert load_spec(path).spec.training.backend == "jax"


# --- one backend per process --------------------------------------------------------------------


def test_activate_jax_in_a_tensorflow_process_is_a_user_error():
    from dlrun.model.backend import activate, import_keras, running_backend

    activate("tensorflow")  # what every in-process training of the suite does first (a no-op once
    #                         Keras is imported, as it is when another module imported it already)
    keras = import_keras()
    assert keras.backend.backend() == running_backend() == "tensorflow"
    with pytest.raises(UserError, match="already running on tensorflow") as caught:
        activate("jax")
    assert "fresh process" in str(caught.value)
    assert os.environ.get("KERAS_BACKEND") != "jax"  # the refused switch changed nothing
    assert running_backend() == "tensorflow"
    assert isinstance(activate("tensorflow"), list)  # the running backend itself is still fine
