"""Build a keras.Model from the model section: Sequential layers or a graph of named nodes.

`build_model(spec.model, input_specs, name)` is the only entry point. Layer classes are
looked up by name in `keras.layers`; regularizers, initializers and constraints may be
written by name or as mappings (`{l2: 0.001}`, `{GlorotUniform: {seed: 1}}`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlrun.data.inputs import InputInfo
from dlrun.errors import first_line
from dlrun.model.fixed_layers import fixed
from dlrun.spec.model_forms import layer_entry
from dlrun.spec.models import GraphModel, ModelSpec, SequentialModel
from dlrun.spec.transfer import APPLICATION


class BuildError(Exception):
    """A layer could not be made or wired; carries the spec path of the layer."""

    def __init__(self, path: tuple, message: str):
        super().__init__(message)
        self.path = path


def _object(module, value: Any, what: str):
    """`{ClassName: {args}}` -> an instance from `module`; strings and None pass through."""
    if isinstance(value, dict) and len(value) == 1:
        (name, args), = value.items()
        cls = getattr(module, name, None)
        if cls is None:
            raise ValueError(f"unknown {what} '{name}'")
        return cls(**(args or {}))
    return value


def _regularizer(value: Any):
    import keras

    if isinstance(value, dict) and set(value) <= {"l1", "l2"}:
        l1, l2 = float(value.get("l1", 0.0)), float(value.get("l2", 0.0))
        if l1 and l2:
            return keras.regularizers.L1L2(l1=l1, l2=l2)
        return keras.regularizers.L1(l1) if l1 else keras.regularizers.L2(l2)
    return _object(keras.regularizers, value, "regularizer")


def _own_args(cls) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters)


def _arg_value(key: str, value: Any):
    """One YAML argument as the Keras object it names (regularizer, initializer, constraint)."""
    import keras

    if key.endswith("_regularizer"):
        return _regularizer(value)
    if key.endswith("_initializer"):
        return _object(keras.initializers, value, "initializer")
    if key.endswith("_constraint"):
        return _object(keras.constraints, value, "constraint")
    return value


def layer_args(args: dict | None, cls=None, path: tuple = ()) -> dict:
    """Turn YAML arguments into Keras constructor arguments; a bad value names its argument."""
    own = _own_args(cls) if cls is not None else set()
    out = {}
    for key, value in (args or {}).items():
        if key in ("input_shape", "input_dim") and key not in own:
            continue  # the data decides the input shape (checked in build_model)
        try:
            out[key] = _arg_value(key, value)
        except Exception as exc:  # noqa: BLE001 - any failure is a mistake in this argument
            raise BuildError((*path, key), f"cannot be made from {value!r}: {first_line(exc)}") from None
    return out


def import_modules(names: list[str], base_dir: Path | None = None) -> list:
    """Import the spec's `imports:` modules (the spec's folder is searched first); only these."""
    import importlib
    import sys

    modules = []
    added = base_dir is not None and str(base_dir) not in sys.path
    if added:
        sys.path.insert(0, str(base_dir))
    try:
        for index, name in enumerate(names):
            try:
                modules.append(importlib.import_module(name))
            except ImportError as exc:
                raise BuildError(("imports", index), f"module '{name}' cannot be imported: {exc}") from None
    finally:
        if added:
            sys.path.remove(str(base_dir))
    return modules


def is_registered(obj: Any) -> bool:
    """Whether keras.saving can name `obj` and find it again by that name (so a saved model reloads)."""
    import keras

    try:
        return keras.saving.get_registered_object(keras.saving.get_registered_name(obj)) is obj
    except Exception:  # noqa: BLE001 - not something keras.saving can name
        return False


def layer_class(path: tuple, class_name: str, modules: list):
    """A layer class by name: keras.layers first, then the spec's imported modules."""
    import keras

    cls = getattr(keras.layers, class_name, None)
    if cls is None:
        for module in modules:
            candidate = getattr(module, class_name, None)
            if isinstance(candidate, type) and issubclass(candidate, keras.layers.Layer):
                cls = candidate
                break
    if cls is not None and not hasattr(keras.layers, class_name) and not is_registered(cls):
        raise BuildError((*path, class_name), f"custom layer '{class_name}' is not registered: decorate it with "
                                              f"@keras.saving.register_keras_serializable() so the saved model can be "
                                              f"loaded again")
    if cls is None:
        where = ", ".join(m.__name__ for m in modules) or "no modules"
        raise BuildError((*path, class_name), f"unknown layer '{class_name}': not in keras.layers nor in the "
                                              f"modules under imports: ({where})")
    return cls


def make_layer(path: tuple, class_name: str, args: dict | None, name: str | None = None, modules: list = ()):
    cls = layer_class(path, class_name, list(modules))
    kwargs = layer_args(args, cls, (*path, class_name))
    if name is not None:
        kwargs.setdefault("name", name)
    try:
        return cls(**kwargs)
    except Exception as exc:  # noqa: BLE001 - Keras and custom layers raise any kind for a bad argument
        key = _culprit(exc, kwargs, lambda kw: cls(**kw))
        if key is None:
            raise BuildError((*path, class_name), f"{class_name} cannot be made with these arguments: "
                                                  f"{first_line(exc)}") from None
        raise BuildError((*path, class_name, key), f"{class_name} cannot be made with {key}={kwargs[key]!r}: "
                                                   f"{first_line(exc)}") from None


def _culprit(exc: Exception, kwargs: dict, attempt, trust_names: bool = True) -> str | None:
    """The argument a failure is about: the one the message names (when `trust_names`), else the
    one whose removal lets `attempt(kwargs)` succeed; None when neither tells."""
    import re

    keys = [k for k in kwargs if k != "name"]
    named = [k for k in keys if re.search(rf"(?<![A-Za-z0-9_]){re.escape(k)}(?![A-Za-z0-9_])", str(exc))]
    if trust_names and len(named) == 1:
        return named[0]
    for key in named or keys:
        try:
            attempt({k: v for k, v in kwargs.items() if k != key})
        except Exception:  # noqa: BLE001 - still failing: not this argument
            continue
        return key
    return None


def _declared_shape(class_name: str, args: dict | None) -> tuple | None:
    import keras

    args = args or {}
    own = _own_args(getattr(keras.layers, class_name))
    if "input_shape" in args and "input_shape" not in own:
        return tuple(args["input_shape"])
    if "input_dim" in args and "input_dim" not in own:
        return (int(args["input_dim"]),)
    return None


UNITS_LAYER = "in_target_units"   # a Sequential model's scaled output: the layer that undoes the scaling


def units_layer(name: str, units: int = 1):
    """The fixed layer that turns a scaled regression output back into the target's units: a
    Dense of the output's width that is never trained (model/output_init.py sets its kernel to the
    scale on the diagonal and its bias to the offset), in float32 even under mixed precision. A plain Keras layer, so a saved or
    exported model needs nothing of dlrun's to load."""
    import keras

    return fixed(keras.layers.Dense(units, trainable=False, dtype="float32", name=name))


def snake_name(class_name: str) -> str:
    """A layer class's name as Keras names its first instance: Conv2D -> conv2d, BatchNormalization ->
    batch_normalization."""
    import re

    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _stable_names(layers: list) -> list[str | None]:
    """The name of each Sequential layer: the one its arguments give, else the class's snake name with
    _1, _2 ... for later ones of the class, as Keras names them in a fresh process. Set explicitly, so a
    model built twice in one process (k-fold, tests) and a warm start's parent have the same names."""
    names: list[str | None] = []
    taken: set[str] = set()
    for item in layers:
        class_name, args = layer_entry(item)
        given = (args or {}).get("name") if isinstance(args, dict) else None
        if class_name == APPLICATION:
            given = None  # the backbone is named by pretrained.backbone_name
        base = given or snake_name(class_name)
        name, count = base, 0
        while name in taken and not given:
            count += 1
            name = f"{base}_{count}"
        taken.add(name)
        names.append(None if class_name == APPLICATION else name)
    return names


def _application(path: tuple, args: dict | None, x, name: str | None, base_dir: Path | None):
    """A keras.applications backbone (model/pretrained.py) applied to x; a failure names its argument."""
    from dlrun.model.pretrained import ApplicationError, apply_application, backbone_name
    from dlrun.spec.transfer import ApplicationLayer

    spec = ApplicationLayer.model_validate(args or {})  # checked by validate already
    try:
        return apply_application(spec, x, backbone_name(spec, name), base_dir)
    except ApplicationError as exc:
        raise BuildError((*path, APPLICATION, *((exc.field,) if exc.field else ())), str(exc)) from None


def _sequential(spec: SequentialModel, inputs: dict[str, InputInfo], name: str, modules: list, scaled: dict,
                base_dir: Path | None = None):
    import keras

    (info,) = inputs.values()
    first_name, first_args = layer_entry(spec.layers[0])
    declared = _declared_shape(first_name, first_args) if hasattr(keras.layers, first_name) else None
    if declared is not None and tuple(declared) != tuple(info.shape):
        raise BuildError(("model", "layers", 0, first_name, "input_shape"),
                         f"says input shape {list(declared)} but the data gives {list(info.shape)} per sample; "
                         f"remove it (the data decides) or fix data.reshape")
    x = tensor = keras.Input(shape=info.shape, dtype=info.dtype, name="features")
    for index, (item, layer_name) in enumerate(zip(spec.layers, _stable_names(spec.layers))):
        class_name, args = layer_entry(item)
        path = ("model", "layers", index)
        if class_name == APPLICATION:
            x = _application(path, args, x, None, base_dir)
            continue
        layer = make_layer(path, class_name, args, name=layer_name, modules=modules)
        x = _call(layer, x, path, class_name, args)
    if scaled:
        x = units_layer(UNITS_LAYER, next(iter(scaled.values())))(x)
    from dlrun.model.imported import functional_model  # keras.Model, or the spec's model_class
    return functional_model(spec, tensor, x, name, modules, BuildError)


def _call(layer, x, path: tuple, class_name: str, args: dict | None = None):
    """layer(x); a failure points at the argument it is about when that can be told, else at the layer."""
    try:
        return layer(x)
    except Exception as exc:  # noqa: BLE001 - Keras raises many kinds for a shape mismatch or a bad argument
        kwargs = layer_args(args, type(layer), (*path, class_name)) if args else {}
        key = _culprit(exc, kwargs, lambda kw: type(layer)(**kw)(x), trust_names=False) if kwargs else None
        if key is not None:
            raise BuildError((*path, class_name, key), f"{class_name} cannot be built with {key}={kwargs[key]!r}: "
                                                       f"{first_line(exc)}") from None
        shape = [tuple(t.shape) for t in x] if isinstance(x, list) else tuple(x.shape)
        raise BuildError((*path, class_name), f"{class_name} cannot take input of shape {shape}: "
                                              f"{first_line(exc)}") from None


def _graph(spec: GraphModel, inputs: dict[str, InputInfo], name: str, modules: list, scaled: dict,
           base_dir: Path | None = None):
    import keras

    tensors: dict[str, Any] = {}
    layers: dict[str, Any] = {}
    model_inputs = []
    for input_name, info in inputs.items():
        tensors[input_name] = keras.Input(shape=info.shape, dtype=info.dtype, name=input_name)
        model_inputs.append(tensors[input_name])
    for index, node in enumerate(spec.nodes):
        path = ("model", "nodes", index)
        x = [tensors[f] for f in node.feeds]
        x = x[0] if len(x) == 1 else x
        if node.shared:
            layer = layers[node.shared]
            class_name = type(layer).__name__
        elif node.layer[0] == APPLICATION:
            tensors[node.name] = _application(path, node.layer[1], x, node.name, base_dir)
            continue
        else:
            class_name, args = node.layer
            own = f"{node.name}_scaled" if node.name in scaled else node.name  # the output's name goes to its units layer
            layer = make_layer(path, class_name, args, name=own, modules=modules)
        layers[node.name] = layer
        tensors[node.name] = _call(layer, x, path, class_name, None if node.shared else args)
    outputs = [units_layer(o.node, scaled[o.node])(tensors[o.node]) if o.node in scaled else tensors[o.node]
               for o in spec.outputs]
    from dlrun.model.imported import functional_model  # keras.Model, or the spec's model_class
    return functional_model(spec, model_inputs, outputs, name, modules, BuildError)


def build_model(spec: ModelSpec, inputs: dict[str, InputInfo], name: str = "model", modules: list = (),
                scaled: dict | None = None, base_dir: Path | None = None):
    """A keras.Model for the spec, fed by `inputs` (one entry for Sequential). `scaled`: {output name:
    its units} of the outputs whose regression target is scaled for the fit: each gets a `units_layer`."""
    safe = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    if spec.is_graph:
        return _graph(spec, inputs, safe, list(modules), dict(scaled or {}), base_dir)
    return _sequential(spec, inputs, safe, list(modules), dict(scaled or {}), base_dir)
