"""`dlrun validate --build`: the model is built as training would build it, shape errors located."""

from __future__ import annotations

from typer.testing import CliRunner

from dlrun.cli import app
from tests.support import CONFIGS


def test_build_prints_the_model_summary_and_parameter_count():
    result = CliRunner().invoke(app, ["validate", str(CONFIGS / "digits_cnn.yaml"), "--build"])
    assert result.exit_code == 0, result.output
    assert "Conv2D" in result.output and "parameters:" in result.output
    assert "sparse_categorical_crossentropy" in result.output  # the task default, filled in


def test_shape_error_is_located_at_the_layer_before_training(write_spec):
    path = write_spec("""
    data: {source: "sklearn:digits"}
    model:
      layers:
        - Conv2D: {filters: 4, kernel_size: 3}
        - Flatten: {}
        - Dense: {units: 10, activation: softmax}
    """)
    result = CliRunner().invoke(app, ["validate", str(path), "--build"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "spec.yaml:4:" in result.output and "model.layers[0].Conv2D" in result.output
    assert "cannot take input of shape" in result.output
