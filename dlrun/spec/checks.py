"""Checks of the free-form parts of a spec (layers, graph nodes, optimizer arguments)
against the Keras catalog, each problem with its exact dotted path.

They read the raw YAML data, so they run even when other parts of the spec are invalid
and every problem is reported at once.
"""

from __future__ import annotations

from typing import Any

from dlrun.spec.catalog import catalog, suggest, unknown_name
from dlrun.spec.piece_checks import check_pieces
from dlrun.spec.transfer import APPLICATION, MANAGED_APPLICATION_ARGS, ApplicationLayer, transfer_problems
from dlrun.spec.model_forms import NOT_A_NODE, NodeParts, unknown_feed, unknown_shared

REGULARIZER_KEYS = ("l1", "l2")
MULTILABEL_JOIN = "+"  # data/multilabel.py JOIN: 0/1 columns gathered into one target are named a+b+c

Found = list[tuple[tuple, str]]  # (path, message)


def _check_arg_value(path: tuple, arg: str, value: Any, found: Found) -> None:
    cat = catalog()
    if arg == "activation" and isinstance(value, str) and value not in cat["activations"]:
        found.append(((*path, arg), unknown_name("activation", value, cat["activations"])))
    elif arg.endswith("_regularizer") and isinstance(value, dict):
        for key in value:
            if key not in REGULARIZER_KEYS and key not in cat["regularizers"]:
                found.append(((*path, arg, key), f"unknown regularizer '{key}'"
                              f"{suggest(key, [*REGULARIZER_KEYS, *cat['regularizers']])} — write e.g. {{l2: 0.001}}"))
    elif arg.endswith("_initializer") and isinstance(value, str) and value not in cat["initializers"]:
        lowered = {n.lower(): n for n in cat["initializers"]}
        if value.replace("_", "").lower() not in lowered:
            found.append(((*path, arg), unknown_name("initializer", value, cat["initializers"])))


def check_layer(path: tuple, layer: str, args: Any, found: Found, custom_allowed: bool = False) -> None:
    """Check one `{LayerName: {arg: value}}` against the catalog. With `imports:` in the spec, a
    name Keras does not have may be a custom layer: it is checked when the modules are imported."""
    layers = catalog()["layers"]
    if layer == APPLICATION:
        _check_application((*path, layer), args, found)
        return
    if layer not in layers:
        if not custom_allowed:
            message = unknown_name("layer", layer, list(layers))
            if "did you mean" not in message:
                message += "; a custom layer needs its module listed under `imports:`"
            found.append(((*path, layer), message))
        return
    if args is None:
        args = {}
    if not isinstance(args, dict):
        found.append(((*path, layer), f"the arguments of {layer} must be a mapping like {{units: 64}}, "
                                      f"not {type(args).__name__}"))
        return
    known = layers[layer]["args"]
    for arg, value in args.items():
        if arg not in known:
            found.append(((*path, layer, arg), f"unknown argument of {layer}{suggest(arg, known)}"))
        else:
            _check_arg_value((*path, layer), arg, value, found)
    for arg in layers[layer]["required"]:
        if arg not in args:
            found.append(((*path, layer), f"{layer} needs `{arg}:`"))


def _check_application(path: tuple, args: Any, found: Found) -> None:
    """`{Application: {name: MobileNetV2, ...}}`: its fields, and the name among keras.applications'."""
    from pydantic import ValidationError

    try:
        spec = ApplicationLayer.model_validate(args or {})
    except ValidationError as exc:
        for error in exc.errors():
            found.append(((*path, *error["loc"]), error["msg"].removeprefix("Value error, ")))
        return
    known = catalog().get("applications", {})
    if spec.name not in known:
        found.append(((*path, "name"), unknown_name("keras.applications model", spec.name, list(known))))
        return
    own = [a for a in known[spec.name]["args"] if a not in MANAGED_APPLICATION_ARGS]
    for arg in spec.args:
        if arg not in own:
            found.append(((*path, "args", arg), f"unknown argument of {spec.name}{suggest(arg, own)}"
                          + (" (set by dlrun: it has a field of its own or comes from the data)"
                             if arg in MANAGED_APPLICATION_ARGS else "")))


def _check_sequential(items: list, found: Found, custom: bool) -> None:
    for index, item in enumerate(items):
        path = ("model", "layers", index)
        if not isinstance(item, dict) or len(item) != 1:
            found.append((path, "each layer is a one-key mapping like {Dense: {units: 64}}"))
            continue
        (layer, args), = item.items()
        check_layer(path, layer, args, found, custom)


def _check_graph(model: dict, found: Found, custom: bool) -> None:
    inputs = model.get("inputs") if isinstance(model.get("inputs"), dict) else {}
    known: list[str] = list(inputs)
    nodes = model.get("nodes") if isinstance(model.get("nodes"), list) else []
    for index, node in enumerate(nodes):
        path = ("model", "nodes", index)
        if not isinstance(node, dict):
            found.append((path, NOT_A_NODE))
            continue
        parts = NodeParts.of(node)
        found.extend((path, message) for message in parts.problems())
        name = parts.name if isinstance(parts.name, str) and parts.name else None
        if name in known:
            found.append(((*path, "name"), f"the name '{name}' is already used by an input or an earlier node"))
        for feed in parts.feeds or []:
            if feed not in known:
                found.append(((*path, "inputs"), unknown_feed(feed, known)))
        if parts.shared is not None:
            if not parts.layer_keys and (parts.shared not in known or parts.shared in inputs):
                found.append(((*path, "shared"), unknown_shared(parts.shared, known)))
        elif len(parts.layer_keys) == 1:
            layer = parts.layer_keys[0]
            check_layer(path, layer, node[layer], found, custom)
        if name:
            known.append(name)
    outputs = model.get("outputs") if isinstance(model.get("outputs"), list) else []
    node_names = known[len(inputs):]
    for index, output in enumerate(outputs):
        if isinstance(output, dict) and isinstance(output.get("node"), str) and output["node"] not in node_names:
            found.append((("model", "outputs", index, "node"),
                          f"'{output['node']}' is not a node{suggest(output['node'], node_names)}"))


def _check_optimizer(optimizer: Any, found: Found) -> None:
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("name", "adam"), str):
        return
    entry = catalog()["optimizers"].get(optimizer.get("name", "adam").lower())
    if entry is None:
        return  # the name itself is reported by the pydantic model
    ours = ("name", "learning_rate", "schedule", "clipnorm", "clipvalue")
    allowed = [*ours, *entry["args"]]
    for key in optimizer:
        if key not in allowed:
            found.append((("optimizer", key), f"unknown argument of {entry['class']}{suggest(key, allowed)}"))


def check_free_form(data: dict) -> Found:
    """Problems in the layers, graph nodes and optimizer arguments of raw spec data."""
    found: Found = []
    model = data.get("model")
    custom = bool(data.get("imports"))
    if isinstance(model, dict):
        if isinstance(model.get("layers"), list):
            _check_sequential(model["layers"], found, custom)
        if "nodes" in model:
            _check_graph(model, found, custom)
    _check_optimizer(data.get("optimizer"), found)
    found += check_pieces(data)  # callbacks.custom, a keras schedule's arguments, model.model_class
    return found


def check_combinations(spec) -> Found:
    """Settings that are each valid but cannot work together, placed at the setting to change."""
    found: Found = []
    if spec.optimizer.schedule is not None and spec.callbacks.reduce_lr_on_plateau is not None:
        found.append((("callbacks", "reduce_lr_on_plateau"), "optimizer.schedule and reduce_lr_on_plateau both set "
                                                             "the learning rate; keep one of them"))
    if spec.split.validation == 0:
        for name, monitor in spec.callbacks.monitors().items():
            if monitor.startswith("val_"):
                found.append((("callbacks", name, "monitor"),
                              f"monitors '{monitor}' but split.validation is 0, so there is no validation data; "
                              f"set split.validation (e.g. 0.2) or monitor a training quantity"))
    if spec.data.task == "regression":
        if spec.training.class_weight is not None:
            found.append((("training", "class_weight"), "class weights need classes, but data.task is regression; "
                                                        "remove training.class_weight"))
        if spec.data.resample != "none":
            found.append((("data", "resample"), "resampling balances classes, but data.task is regression; "
                                                "remove data.resample"))
    training = spec.training
    if training.distribute == "mirrored" and training.backend != "tensorflow":
        found.append((("training", "distribute"), f"mirrored is TensorFlow's MirroredStrategy; it does not run on "
                                                  f"{training.backend} (set training.backend: tensorflow)"))
    if training.cpu_replicas > 1 and training.distribute != "mirrored":
        found.append((("training", "cpu_replicas"), "cpu_replicas splits the CPU for distribute: mirrored; set "
                                                    "training.distribute: mirrored or remove cpu_replicas"))
    found.extend(_streaming_problems(spec))
    found.extend(_window_problems(spec))
    found.extend(transfer_problems(spec))
    found.extend(target_problems(spec))
    if spec.model.is_graph and spec.loss is not None:
        found.append((("loss",), "a graph model sets `loss:` on each of model.outputs, not at the top level"))
    return found


def _window_problems(spec) -> Found:
    """data.window turns a time-ordered csv or parquet table into windows for a Sequential model; only
    the time_series protocol cross-validates them (any other fold would train on the future)."""
    data = spec.data
    if data.window is None:
        return []
    checks = [(not data.kind.windowed, ("data", "window"),
               f"windows are made from a csv or parquet table, not a {data.scheme}: source"),
              (data.streaming, ("data", "streaming"), "windows over a streamed table are not supported yet; "
                                                      "remove data.streaming"),
              (spec.model.is_graph, ("model",), "windows (data.window) feed a Sequential model (layers:); graph "
                                                "models over windows are not supported yet"),
              (spec.split.protocol not in ("holdout", "time_series"), ("split", "protocol"),
               f"windows are cross-validated with protocol time_series, which walks forward in time; "
               f"{spec.split.protocol} would train on windows later than the ones it tests")]
    return [(path, message) for failed, path, message in checks if failed]


def _streaming_problems(spec) -> Found:
    """data.streaming reads CSV and Parquet tables in chunks, fed to TensorFlow through tf.data."""
    data = spec.data
    if not data.streaming:
        return []
    if not data.kind.streamable:
        return [(("data", "streaming"), f"streaming reads csv: and parquet: tables chunk by chunk; a {data.scheme}: "
                                        f"source is read {data.kind.whole_note} — remove data.streaming")]
    found: Found = []
    if spec.training.backend != "tensorflow":
        found.append((("training", "backend"), f"a streamed table feeds the model through tf.data; it does not run "
                                               f"on {spec.training.backend} yet (set training.backend: tensorflow)"))
    if data.resample != "none":
        found.append((("data", "resample"), "resampling repeats or drops rows in memory; with data.streaming use "
                                            "training.class_weight: balanced instead"))
    if spec.training.distribute == "mirrored":
        found.append((("training", "distribute"), "a streamed table is read by one process; MirroredStrategy is not "
                                                  "supported with data.streaming yet"))
    return found


def declared_targets(data) -> list[str] | None:
    """The targets the run will see, as far as the spec tells them: data.target's columns, or the one
    multilabel target they are gathered into (data/multilabel.py group_multilabel). None without
    data.target: then the source names its one target (sklearn, npz, images, text, keras), which only
    the data tells."""
    columns = data.targets()
    if not columns or data.label_separator is not None:
        return columns or None
    if len(columns) > 1 and data.task == "multilabel":
        return [MULTILABEL_JOIN.join(columns)]
    return columns


def target_problems(spec) -> Found:
    """Targets the model cannot take, known from the spec before any data is read; train finds the
    same once it has read the data (model/heads.py find_heads, data/multilabel.py)."""
    data, model = spec.data, spec.model
    columns = data.targets()
    if data.label_separator is not None and len(columns) > 1:
        return [(("data", "label_separator"), f"data.label_separator reads the label sets of ONE target column, "
                                              f"but data.target names {len(columns)} ({', '.join(columns)})")]
    if data.task == "multilabel" and len(columns) < 2 and data.label_separator is None:
        single = f"target column '{columns[0]}'" if columns else "target"
        return [(("data", "task"), f"data.task is multilabel but there is a single {single}; name several 0/1 "
                                   f"columns in data.target, or set data.label_separator for a column of label "
                                   f"sets such as 'sports|tech'")]
    targets = declared_targets(data)
    if targets is None:
        return []
    if not model.is_graph:
        if len(targets) == 1 or data.task == "auto":
            return []  # auto: several 0/1 columns are one multilabel target, which the data tells
        return [(("model", "layers"), f"a Sequential model has one output but data.target names {len(targets)} "
                                      f"targets ({', '.join(targets)}) and data.task is {data.task}; use a graph "
                                      f"model with one output per target (or data.task: multilabel for 0/1 columns "
                                      f"that are labels of one set)")]
    return _output_target_problems(model.outputs, targets, columns)


def _output_target_problems(outputs, targets: list[str], columns: list[str]) -> Found:
    found: Found = []
    grouped = "" if targets == columns else f" — data.task multilabel gathers {', '.join(columns)} into one"
    for index, output in enumerate(outputs):
        if output.target is None and len(targets) > 1:
            found.append((("model", "outputs", index), f"say which target this output predicts: target: one of "
                                                       f"{', '.join(targets)}"))
        elif output.target is not None and output.target not in targets:
            found.append((("model", "outputs", index, "target"),
                          f"'{output.target}' is not a target of the data (targets: {', '.join(targets)}{grouped})"
                          f"{suggest(output.target, targets)}"))
    return found
