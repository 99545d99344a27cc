"""Does the model's output fit the task? Fill in what the user left to the task, reject the rest.

The table the seeds teach: binary → 1 unit, sigmoid, binary_crossentropy; multiclass →
one unit per class, softmax, (sparse_)categorical_crossentropy; regression → linear
units, mse (or another regression loss). This module does not import TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    args: dict                   # that layer's arguments (mutable: defaults are filled in here)
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
    return "Dense(units: 1) with a linear activation and loss mse (or mae, huber)"


def check_head(head: Head) -> tuple[Found, str]:
    """Problems with one head, and the loss to use (the default for its task when none is given)."""
    found: Found = []
    target, task = head.target, head.target.task
    units = head.args.get("units")
    unit_path = (*head.layer_path, head.layer_name, "units")
    kind = "labels" if task == "multilabel" else "classes"
    what = f"target '{target.name}' is {task}" + (f" with {target.n_classes} {kind}" if task != "regression" else "")
    if head.activation is None and head.activation_path is None:
        fill = "sigmoid" if (task == "binary" and units in (1, None)) or task == "multilabel" else \
            "softmax" if task != "regression" else "linear"
        head.args["activation"] = fill
        head.activation = fill
    activation = head.activation
    loss = head.loss or (DEFAULT_LOSS[task] if not (task == "binary" and units == 2) else "sparse_categorical_crossentropy")
    act_path = head.activation_path or (*head.layer_path, head.layer_name, "activation")
    if task == "binary":
        if units not in (1, 2):
            found.append((unit_path, f"{what}: the output layer has {units} units; use {expected(target)}"))
        elif units == 1:
            if activation != "sigmoid":
                found.append((act_path, f"{what}: a 1-unit output needs activation sigmoid, not {activation}; "
                                        f"use {expected(target)}"))
            if loss not in BINARY_LOSSES:
                found.append((head.loss_path, f"{what}: loss {loss} does not fit a 1-unit sigmoid output; "
                                              f"use binary_crossentropy"))
        else:
            if activation != "softmax":
                found.append((act_path, f"{what}: a 2-unit output needs activation softmax, not {activation}"))
            if loss not in CLASS_LOSSES:
                found.append((head.loss_path, f"{what}: loss {loss} does not fit a 2-unit softmax output; "
                                              f"use sparse_categorical_crossentropy"))
    elif task == "multilabel":
        labels = ", ".join(map(str, target.classes))
        checks = [(units == target.n_classes, unit_path,
                   f"{what} ({labels}): the output layer has {units} units; use {expected(target)}"),
                  (activation == "sigmoid", act_path,
                   f"{what}: each label is a yes/no answer, so the output needs activation sigmoid, not {activation}"),
                  (loss in MULTILABEL_LOSSES, head.loss_path,
                   f"{what}: loss {loss} does not fit it; use binary_crossentropy")]
        found.extend((path, message) for fits, path, message in checks if not fits)
    elif task == "multiclass":
        if units != target.n_classes:
            found.append((unit_path, f"{what}: the output layer has {units} units; use {expected(target)}"))
        if activation != "softmax":
            found.append((act_path, f"{what}: the output needs activation softmax, not {activation}"))
        if loss not in CLASS_LOSSES:
            found.append((head.loss_path, f"{what}: loss {loss} does not fit it; use sparse_categorical_crossentropy "
                                          f"(integer labels) or categorical_crossentropy"))
    elif activation == "sigmoid" and loss in BOUNDED_REGRESSION_LOSSES and target.outside_unit is not None:
        found.extend(_bounded_regression(head, what, unit_path, act_path))
    else:
        if units != 1:
            found.append((unit_path, f"{what}: the output layer has {units} units; use {expected(target)}"))
        if activation not in REGRESSION_ACTIVATIONS:
            found.append((act_path, f"{what}: activation {activation} squashes the output; use linear (or leave it out)"))
        if loss in BINARY_LOSSES | CLASS_LOSSES:
            found.append((head.loss_path, f"{what}: {loss} is a classification loss; use mse, mae or huber"))
    if not is_known("loss", loss):  # a custom loss from `imports:`: its fit to the task is the author's call
        found = [problem for problem in found if problem[0] != head.loss_path]
    return found, loss


def _bounded_regression(head: Head, what: str, unit_path: tuple, act_path: tuple) -> Found:
    """A sigmoid output regresses a target that lies in [0, 1] (a rate, a share); any other target is refused."""
    found: Found = []
    target, units = head.target, head.args.get("units")
    if units != 1:
        found.append((unit_path, f"{what}: the output layer has {units} units; use {expected(target)}"))
    if target.outside_unit:
        found.append((act_path, f"{what}: activation sigmoid limits the output to [0, 1], but {target.outside_unit} "
                                f"target value(s) fall outside it (min {target.low:g}, max {target.high:g}); use "
                                f"linear (or leave it out), or scale the target into [0, 1]"))
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
        problems, loss = check_head(head)
        found.extend(problems)
        task = head.target.task
        if data["model"].get("layers") is not None:
            data["loss"] = loss
            if data.get("metrics") is None:
                data["metrics"] = list(DEFAULT_METRICS[task])
        else:
            output = next(o for o in data["model"]["outputs"] if o["node"] == head.output)
            output["loss"] = loss
            if output.get("target") is None:
                output["target"] = head.target.name
            if output.get("metrics") is None:
                output["metrics"] = list(DEFAULT_METRICS[task])
    return data, found
