"""Does the model's output fit the task? Fill in what the user left to the task, reject the rest.

The usual table: binary → 1 unit, sigmoid, binary_crossentropy; multiclass →
one unit per class, softmax, (sparse_)categorical_crossentropy; regression → linear
units, mse (or another regression loss). This module does not import TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dlrun.data.targets import TargetEncoder
from dlrun.spec.catalog import is_known
from dlrun.spec.model_forms import NodeParts, layer_entry

BINARY_LOSSES = {"binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"}
CLASS_LOSSES = {"sparse_categorical_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy",
                "categorical_hinge", "kl_divergence", "kld"}
REGRESSION_ACTIVATIONS = {None, "linear", "relu", "softplus", "exponential", "elu", "selu"}
MULTILABEL_LOSSES = {"binary_crossentropy", "binary_focal_crossentropy"}
BOUNDED_REGRESSION_LOSSES = {"mse", "mean_squared_error", "binary_crossentropy"}  # a sigmoid output, targets in [0, 1]
DEFAULT_LOSS = {"binary": "binary_crossentropy", "multiclass": "sparse_categorical_crossentropy",
                "multilabel": "binary_crossentropy", "regression": "mse"}
DEFAULT_METRICS = {"binary": ["accuracy"], "multiclass": ["accuracy"], "multilabel": ["binary_accuracy"],
                   "regression": ["mae"]}

Found = list[tuple[tuple, str]]


@dataclass
class Head:
    """One output: the layer that produces it (path into the spec data) and its target."""

    output: str                  # output name (graph node name, or "output" for Sequential)
    layer_path: tuple            # e.g. ("model", "layers", 2) or ("model", "nodes", 4)
    layer_name: str              # e.g. Dense
    args: dict                   # that layer's arguments, inside the spec data (resolve_for_data fills defaults in)
    activation: Any              # the effective activation (own, or a following Activation layer)
    activation_path: tuple | None  # where the activation is written (None: nowhere yet)
    target: TargetEncoder
    loss: str | None
    loss_path: tuple


def expected(target: TargetEncoder) -> str:
    if target.task == "binary":
        return "Dense(units: 1, activation: sigmoid) with loss binary_crossentropy"
    if target.task == "multiclass":
        return (f"Dense(units: {target.n_classes}, activation: softmax) with loss sparse_categorical_crossentropy")
    if target.task == "multilabel":
        return f"Dense(units: {target.n_classes}, activation: sigmoid) with loss binary_crossentropy"
    return f"Dense(units: {target.steps or 1}) with a linear activation and loss mse (or mae, huber)"


def default_activation(head: Head) -> str:
    """The output activation the head's task fills in when the spec gives none."""
    task, units = head.target.task, head.args.get("units")
    if (task == "binary" and units in (1, None)) or task == "multilabel":
        return "sigmoid"
    return "softmax" if task != "regression" else "linear"


def default_loss(head: Head) -> str:
    """The loss the head's task fills in when the spec gives none (a 2-unit binary head counts classes)."""
    if head.target.task == "binary" and head.args.get("units") == 2:
        return "sparse_categorical_crossentropy"
    return DEFAULT_LOSS[head.target.task]


def with_defaults(head: Head) -> Head:
    """A copy of the head with what its task fills in when the spec leaves it out: the output
    activation (when none is written anywhere) and the loss. The head itself is not changed;
    `resolve_for_data` writes the filled-in values into its copy of the spec data."""
    activation = head.activation
    if activation is None and head.activation_path is None:
        activation = default_activation(head)
    return replace(head, activation=activation, loss=head.loss or default_loss(head))


def check_head(head: Head) -> Found:
    """Problems with one head (its defaults already filled in by `with_defaults`); nothing is changed.

    A custom loss from `imports:` is not checked: its fit to the task is the author's call."""
    where = _Where.of(head)
    task = head.target.task
    if task == "binary":
        found = _binary(head, where)
    elif task == "multilabel":
        found = _multilabel(head, where)
    elif task == "multiclass":
        found = _multiclass(head, where)
    elif head.activation == "sigmoid" and head.loss in BOUNDED_REGRESSION_LOSSES and head.target.outside_unit is not None:
        found = _bounded_regression(head, where)
    else:
        found = _regression(head, where)
    if not is_known("loss", head.loss):
        found = [problem for problem in found if problem[0] != head.loss_path]
    return found


@dataclass(frozen=True)
class _Where:
    """Where a head's problems point, and how its target is described in them."""

    units: tuple        # the output layer's units argument
    activation: tuple   # where the activation is (or would be) written
    what: str           # "target 'y' is multiclass with 3 classes"

    @classmethod
    def of(cls, head: Head) -> _Where:
        target, task = head.target, head.target.task
        kind = "labels" if task == "multilabel" else "classes"
        what = f"target '{target.name}' is {task}" + (f" with {target.n_classes} {kind}" if task != "regression" else
                                                       f", forecast {target.steps} steps ahead" if target.steps else "")
        return cls((*head.layer_path, head.layer_name, "units"),
                   head.activation_path or (*head.layer_path, head.layer_name, "activation"), what)


def _wrong_units(head: Head, where: _Where) -> tuple[tuple, str]:
    return where.units, f"{where.what}: the output layer has {head.args.get('units')} units; use {expected(head.target)}"


def _binary(head: Head, where: _Where) -> Found:
    units, activation, loss, what = head.args.get("units"), head.activation, head.loss, where.what
    if units not in (1, 2):
        return [_wrong_units(head, where)]
    found: Found = []
    if units == 1:
        if activation != "sigmoid":
            found.append((where.activation, f"{what}: a 1-unit output needs activation sigmoid, not {activation}; "
                                             f"use {expected(head.target)}"))
        if loss not in BINARY_LOSSES:
            found.append((head.loss_path, f"{what}: loss {loss} does not fit a 1-unit sigmoid output; "
                                          f"use binary_crossentropy"))
        return found
    if activation != "softmax":
        found.append((where.activation, f"{what}: a 2-unit output needs activation softmax, not {activation}"))
    if loss not in CLASS_LOSSES:
        found.append((head.loss_path, f"{what}: loss {loss} does not fit a 2-unit softmax output; "
                                      f"use sparse_categorical_crossentropy"))
    return found


def _multilabel(head: Head, where: _Where) -> Found:
    target, what = head.target, where.what
    labels = ", ".join(map(str, target.classes))
    checks = [(head.args.get("units") == target.n_classes, where.units,
               f"{what} ({labels}): the output layer has {head.args.get('units')} units; use {expected(target)}"),
              (head.activation == "sigmoid", where.activation,
               f"{what}: each label is a yes/no answer, so the output needs activation sigmoid, not {head.activation}"),
              (head.loss in MULTILABEL_LOSSES, head.loss_path,
               f"{what}: loss {head.loss} does not fit it; use binary_crossentropy")]
    return [(path, message) for fits, path, message in checks if not fits]


def _multiclass(head: Head, where: _Where) -> Found:
    found: Found = []
    if head.args.get("units") != head.target.n_classes:
        path, message = _wrong_units(head, where)
        if all(isinstance(value, (int, float)) for value in head.target.classes):
            message += ("; or, if these whole numbers are measurements rather than classes, set "
                        "data.task: regression")
        found.append((path, message))
    if head.activation != "softmax":
        found.append((where.activation, f"{where.what}: the output needs activation softmax, not {head.activation}"))
    if head.loss not in CLASS_LOSSES:
        found.append((head.loss_path, f"{where.what}: loss {head.loss} does not fit it; use "
                                      f"sparse_categorical_crossentropy (integer labels) or categorical_crossentropy"))
    return found


def _regression(head: Head, where: _Where) -> Found:
    found: Found = []
    if head.args.get("units") != (head.target.steps or 1):  # a forecast: one unit per step ahead
        found.append(_wrong_units(head, where))
    if head.activation not in REGRESSION_ACTIVATIONS:
        found.append((where.activation, f"{where.what}: activation {head.activation} squashes the output; "
                                        f"use linear (or leave it out)"))
    if head.loss in BINARY_LOSSES | CLASS_LOSSES:
        found.append((head.loss_path, f"{where.what}: {head.loss} is a classification loss; use mse, mae or huber"))
    return found


def _bounded_regression(head: Head, where: _Where) -> Found:
    """A sigmoid output regresses a target that lies in [0, 1] (a rate, a share); any other target is refused."""
    found: Found = []
    target = head.target
    if head.args.get("units") != 1:
        found.append(_wrong_units(head, where))
    if target.outside_unit:
        found.append((where.activation, f"{where.what}: activation sigmoid limits the output to [0, 1], but "
                                        f"{target.outside_unit} target value(s) fall outside it (min {target.low:g}, "
                                        f"max {target.high:g}); use linear (or leave it out), or scale the target "
                                        f"into [0, 1]"))
    return found


def _layer_of(item: dict) -> tuple[str, dict] | None:
    """The layer of a raw layer item or node, its arguments a mapping inside `item` (so that
    defaults filled in land in the data)."""
    entry = layer_entry(item)
    if entry is None:
        return None
    name, args = entry
    if args is None:
        args = item[name] = {}
    return name, args


def _effective(items: list[tuple[tuple, dict]]) -> tuple[int, str, dict, Any, tuple | None] | None:
    """Walk a chain of layers backwards to the one with units, noting a later Activation layer."""
    activation, act_path = None, None
    for path, item in reversed(items):
        layer = _layer_of(item)
        if layer is None:
            return None
        name, args = layer
        if name == "Activation" and act_path is None:
            activation, act_path = args.get("activation"), (*path, name, "activation")
            continue
        if "units" in args:
            if act_path is None and "activation" in args:
                activation, act_path = args["activation"], (*path, name, "activation")
            return path, name, args, activation, act_path
        if name in ("Dropout", "Flatten", "Reshape", "BatchNormalization", "LayerNormalization", "GaussianNoise"):
            continue
        return None
    return None


def find_heads(data: dict, targets: dict[str, TargetEncoder]) -> tuple[list[Head], Found]:
    """The output heads of the raw model spec, matched to their targets."""
    model, found, heads = data["model"], [], []
    if model.get("layers") is not None:
        if len(targets) != 1:
            found.append((("model", "layers"), f"a Sequential model has one output but the data has {len(targets)} "
                                               f"targets; use a graph model with one output per target"))
            return [], found
        target = next(iter(targets.values()))
        chain = [(("model", "layers", i), item) for i, item in enumerate(model["layers"])]
        eff = _effective(chain)
        if eff is None:
            return [], found  # an unusual last layer: nothing to check against
        path, name, args, activation, act_path = eff
        heads.append(Head("output", path, name, args, activation, act_path, target, data.get("loss"), ("loss",)))
        return heads, found
    nodes = {}  # name -> (path, the node as written, the node whose layer it reuses)
    for index, raw in enumerate(model["nodes"]):
        parts = NodeParts.of(raw)
        nodes[parts.name] = (("model", "nodes", index), raw, parts.shared)
    for index, output in enumerate(model["outputs"]):
        target_name = output.get("target")
        if target_name is None:
            if len(targets) != 1:
                found.append((("model", "outputs", index), f"say which target this output predicts: "
                                                           f"target: one of {', '.join(targets)}"))
                continue
            target_name = next(iter(targets))
        if target_name not in targets:
            found.append((("model", "outputs", index, "target"),
                          f"'{target_name}' is not a target of the data (targets: {', '.join(targets)})"))
            continue
        node = nodes.get(output["node"])
        while node is not None and node[2] is not None:
            node = nodes.get(node[2])
        if node is None:
            continue
        eff = _effective([node[:2]])
        if eff is None:
            continue
        path, name, args, activation, act_path = eff
        heads.append(Head(output["node"], path, name, args, activation, act_path, targets[target_name],
                          output.get("loss"), ("model", "outputs", index, "loss")))
    return heads, found


def resolve_for_data(data: dict, targets: dict[str, TargetEncoder]) -> tuple[dict, Found]:
    """A copy of the raw spec data with the task defaults filled in (output activation,
    loss, metrics), and every head that does not fit its target's task."""
    import copy

    data = copy.deepcopy(data)
    heads, found = find_heads(data, targets)
    for head in heads:
        head = with_defaults(head)
        found.extend(check_head(head))
        _write_defaults(data, head)
    return data, found


def _write_defaults(data: dict, head: Head) -> None:
    """Write a head's filled-in defaults (`with_defaults`) into the spec data it was found in:
    the activation when none was written, the loss, the target and the task's metrics."""
    if head.activation_path is None:
        head.args["activation"] = head.activation  # the layer's own arguments, inside `data`
    task = head.target.task
    if data["model"].get("layers") is not None:
        data["loss"] = head.loss
        if data.get("metrics") is None:
            data["metrics"] = list(DEFAULT_METRICS[task])
        return
    output = next(o for o in data["model"]["outputs"] if o["node"] == head.output)
    output["loss"] = head.loss
    if output.get("target") is None:
        output["target"] = head.target.name
    if output.get("metrics") is None:
        output["metrics"] = list(DEFAULT_METRICS[task])


def output_activations(data: dict, targets: dict[str, TargetEncoder]) -> dict[str, Any]:
    """{target: the activation of the output that predicts it} in spec data whose defaults are
    filled in (`resolve_for_data`); a target whose output layer cannot be told is left out."""
    heads, _ = find_heads(data, targets)
    return {head.target.name: head.activation for head in heads}
