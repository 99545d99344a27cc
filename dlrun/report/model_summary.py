"""A built Keras model's summary as plain rows (layer, type, output shape, parameters) and totals,
and their rich table: a console of any width shows it without Keras's own fixed-width text, and
the same rows can be written to a file. Takes the model object; imports no Keras itself."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.console import Group

from dlrun.report.runs_view import AtWidth, fitted_table, folded_table

COLUMNS = ("layer", "type", "output shape", "parameters")


@dataclass(frozen=True)
class ModelSummary:
    """`rows`: one dict per layer with the keys of COLUMNS (parameters an int)."""

    name: str
    rows: list[dict]
    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable


def summary_rows(model) -> list[dict]:
    """Each layer of a built model, in order: its name, class, output shape(s) and parameter count."""
    return [{"layer": layer.name, "type": type(layer).__name__, "output shape": output_shape(layer),
             "parameters": int(layer.count_params()) if layer.built else 0} for layer in model.layers]


def model_summary(model) -> ModelSummary:
    """The rows and the trainable and non-trainable parameter counts of a built model."""
    return ModelSummary(model.name, summary_rows(model), _count(model.trainable_weights),
                        _count(model.non_trainable_weights))


def _count(weights) -> int:
    return int(sum(math.prod(weight.shape) for weight in weights))


def output_shape(layer) -> str:
    """`(None, 8, 8, 4)`; a layer with several outputs, or called on several inputs (a shared layer),
    lists each; `?` where the model never called the layer."""
    try:
        return _shapes(layer.output)
    except (AttributeError, ValueError):  # a shared layer has one output per call
        nodes = getattr(layer, "_inbound_nodes", None) or []
        shapes = [_shapes(node.output_tensors) for node in nodes if getattr(node, "output_tensors", None)]
        return ", ".join(shapes) if shapes else "?"


def _shapes(outputs) -> str:
    if isinstance(outputs, dict):
        return ", ".join(f"{name}: {_shapes(value)}" for name, value in outputs.items())
    if isinstance(outputs, (list, tuple)):
        return _shapes(outputs[0]) if len(outputs) == 1 else ", ".join(_shapes(value) for value in outputs)
    return "(" + ", ".join("None" if size is None else str(size) for size in outputs.shape) + ")"


def summary_table(summary: ModelSummary) -> Group:
    """The rows as a table as wide as the console allows (cells wrap, never cut to '…'; a narrow console
    gets the layer's type under its name), then the totals."""
    return Group(AtWidth(lambda width: _layers_at(summary.rows, width)),
                 f"parameters: {summary.total:,} (trainable {summary.trainable:,}, "
                 f"non-trainable {summary.non_trainable:,})")


def _layers_at(rows: list[dict], width: int):
    cells = [[row["layer"], row["type"], row["output shape"], f"{row['parameters']:,}"] for row in rows]
    stacked = [[f"{name} ({kind})", shape, count] for name, kind, shape, count in cells]
    return fitted_table(list(COLUMNS), cells, width, ("parameters",)) or \
        fitted_table(["layer (type)", "output shape", "params"], stacked, width, ("params",)) or \
        folded_table(["layer (type)", "output shape", "params"], stacked, ("params",))


def summary_text(summary: ModelSummary) -> str:
    """The summary as a Markdown table and its totals: model_summary.txt and report.md's Model section."""
    lines = [f"Model `{summary.name}`", "", "| " + " | ".join(COLUMNS) + " |", "| --- | --- | --- | ---: |"]
    lines += [f"| {row['layer']} | {row['type']} | {row['output shape']} | {row['parameters']:,} |"
              for row in summary.rows]
    lines += ["", f"parameters: {summary.total:,} (trainable {summary.trainable:,}, "
                  f"non-trainable {summary.non_trainable:,})"]
    return "\n".join(lines) + "\n"


GRAPH_HINT = ("no picture of the model graph: keras.utils.plot_model needs pydot (pip install pydot) and "
              "Graphviz's dot program (e.g. apt install graphviz)")


def draw_graph(model, path) -> str | None:
    """plots/model.png by keras.utils.plot_model where pydot and Graphviz are installed; else (or when it
    fails) the reason, for the report."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("pydot") is None or shutil.which("dot") is None:
        return GRAPH_HINT
    try:
        import keras

        path.parent.mkdir(parents=True, exist_ok=True)
        keras.utils.plot_model(model, to_file=str(path), show_shapes=True, show_layer_names=True, dpi=72)
    except Exception as exc:  # noqa: BLE001 - a picture is never worth failing a finished run for
        return f"the model graph could not be drawn: {type(exc).__name__}: {str(exc)[:120]}"
    return None
