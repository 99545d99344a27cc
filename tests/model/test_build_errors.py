"""Any failure while making or calling a layer the spec names is a located spec error (exit 2),
pointing at the argument when that can be told, with no traceback and no run folder."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from dlrun.cli import app

runner = CliRunner()

BAD_PADDING = """
data: {source: "sklearn:digits", reshape: [8, 8, 1]}
model:
  layers:
    - Conv2D: {filters: 4, kernel_size: 3, padding: {a: same}}
    - Flatten: {}
    - Dense: {units: 10, activation: softmax}
training: {epochs: 1}
"""


def _invoke(command: list[str], spec, tmp_path):
    extra = ["--runs-dir", str(tmp_path / "runs")] if command == ["train"] else []
    return runner.invoke(app, [*command, str(spec), *extra])


def _assert_located(result, tmp_path, where: str):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert where in result.output, result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("command", [["validate", "--build"], ["train"]])
def test_a_mapping_where_keras_wants_a_string_points_at_the_argument(write_spec, tmp_path, command):
    result = _invoke(command, write_spec(BAD_PADDING), tmp_path)
    _assert_located(result, tmp_path, "spec.yaml:4:")
    assert "model.layers[0].Conv2D.padding: " in result.output
    message = next(line for line in result.output.splitlines() if "Conv2D.padding" in line)
    assert len(message) < 420  # one short line, not Keras's whole story


def test_a_graph_node_with_a_bad_argument_is_located_at_the_node(write_spec, tmp_path):
    spec = write_spec("""
    data: {source: "sklearn:iris"}
    model:
      inputs:
        features: {columns: ["*"]}
      nodes:
        - {name: hidden, inputs: features, Dense: {units: 4, activation: {a: relu}}}
        - {name: out, inputs: hidden, Dense: {units: 3, activation: softmax}}
      outputs:
        - {node: out}
    """)
    result = _invoke(["validate", "--build"], spec, tmp_path)
    # an error placed elsewhere (at `columns`, say) is the failure this test exists to catch
    _assert_located(result, tmp_path, "spec.yaml:6:")
    assert "model.nodes[0].Dense.activation: " in result.output, result.output


def _custom_module(folder, fails_in: str) -> str:
    """A registered layer that raises a RuntimeError (not TypeError/ValueError) for mode: bad."""
    name = f"dlrun_build_err_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(f'''
import keras


@keras.saving.register_keras_serializable(package="{name}")
class Picky(keras.layers.Layer):
    def __init__(self, mode="good", scale=1.0, **kwargs):
        super().__init__(**kwargs)
        if "{fails_in}" == "init" and mode == "bad":
            raise RuntimeError("this layer cannot work that way")
        self.mode, self.scale = mode, scale

    def call(self, x):
        if self.mode == "bad":
            raise RuntimeError("this layer cannot work that way")
        return x * self.scale
''', encoding="utf-8")
    return name


@pytest.mark.parametrize("fails_in", ["init", "call"])
@pytest.mark.parametrize("command", [["validate", "--build"], ["train"]])
def test_any_exception_from_a_custom_layer_is_located_at_its_argument(write_spec, tmp_path, fails_in, command):
    module = _custom_module(tmp_path, fails_in)
    spec = write_spec(f"""
    imports: [{module}]
    data: {{source: "sklearn:iris"}}
    model:
      layers:
        - Picky: {{mode: bad, scale: 2.0}}
        - Dense: {{units: 3, activation: softmax}}
    training: {{epochs: 1}}
    """)
    result = _invoke(command, spec, tmp_path)
    _assert_located(result, tmp_path, "spec.yaml:5:")
    assert "model.layers[0].Picky.mode: " in result.output
    assert "this layer cannot work that way" in result.output


def test_a_shape_mismatch_still_points_at_the_layer(write_spec, tmp_path):
    spec = write_spec("""
    data: {source: "sklearn:digits"}
    model:
      layers:
        - Conv2D: {filters: 4, kernel_size: 3, padding: same}
        - Flatten: {}
        - Dense: {units: 10, activation: softmax}
    """)
    result = _invoke(["validate", "--build"], spec, tmp_path)
    _assert_located(result, tmp_path, "spec.yaml:4:")
    assert "model.layers[0].Conv2D: Conv2D cannot take input of shape" in result.output
