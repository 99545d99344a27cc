"""Regenerate `keras_catalog.json`: the Keras names and arguments dlrun validates against.

`dlrun validate` must answer without importing TensorFlow, yet still catch an unknown
layer, optimizer, loss or layer argument with a did-you-mean. So the names are read off
the installed Keras once, by this script, and shipped as JSON:

    python -m dlrun.spec.make_catalog        # rewrites dlrun/spec/keras_catalog.json

A test checks that every name in the shipped catalog still exists in the installed Keras.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

OUT = Path(__file__).with_name("keras_catalog.json")

LOSS_ALIASES = ["mse", "mae", "mape", "msle", "kld", "logcosh", "huber_loss"]
METRIC_ALIASES = ["accuracy", "acc", "crossentropy", "ce", "mse", "mae", "mape", "msle",
                  "auc", "precision", "recall", "root_mean_squared_error", "r2_score", "f1_score"]


def _params(cls, stop) -> tuple[list[str], list[str], bool]:
    """Named __init__ parameters over the class hierarchy down to `stop`, the required ones,
    and whether unknown keywords are forwarded further (a **kwargs that reaches `stop`)."""
    names: list[str] = []
    required: list[str] = []
    for index, klass in enumerate(inspect.getmro(cls)):
        if "__init__" not in vars(klass):
            continue
        sig = inspect.signature(klass.__init__)
        has_var_kw = False
        for param in list(sig.parameters.values())[1:]:
            if param.kind is param.VAR_KEYWORD:
                has_var_kw = True
            elif param.kind is not param.VAR_POSITIONAL:
                if param.name not in names:
                    names.append(param.name)
                if index == 0 and param.default is param.empty:
                    required.append(param.name)
        if klass is stop or not has_var_kw:
            return names, required, has_var_kw
    return names, required, True


def _accepted(getter, candidates) -> list[str]:
    ok = []
    for name in candidates:
        try:
            if getter(name) is not None:
                ok.append(name)
        except Exception:  # noqa: BLE001 - a name Keras refuses is simply not listed
            pass
    return sorted(set(ok))


def _subclasses(module, base) -> dict:
    """{name: {"args", "required"}} of the public classes of `module` that subclass `base` (not `base` itself)."""
    found = {}
    for name in sorted(dir(module)):
        obj = getattr(module, name)
        if inspect.isclass(obj) and issubclass(obj, base) and obj is not base and not name.startswith("_"):
            args, required, _ = _params(obj, base)
            found[name] = {"args": args, "required": required}
    return found


def build_catalog() -> dict:
    import keras

    layers = {}
    for name in dir(keras.layers):
        obj = getattr(keras.layers, name)
        if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer) and not name.startswith("_"):
            args, required, _ = _params(obj, keras.layers.Layer)
            args = [a for a in args if a not in ("kwargs",)]
            layers[name] = {"args": args + ["input_dim", "input_shape"], "required": required}
    optimizers = {}
    for name in dir(keras.optimizers):
        obj = getattr(keras.optimizers, name)
        if inspect.isclass(obj) and issubclass(obj, keras.optimizers.Optimizer):
            try:
                keras.optimizers.get(name.lower())
            except Exception:  # noqa: BLE001
                continue
            args, _, _ = _params(obj, keras.optimizers.Optimizer)
            optimizers[name.lower()] = {"class": name, "args": args}
    snake = lambda module: [n for n in dir(module) if n.islower() and not n.startswith("_")
                            and n not in ("get", "serialize", "deserialize")]
    def regular(module):
        return sorted(n for n in dir(module) if not n.startswith("_")
                      and n not in ("get", "serialize", "deserialize"))
    applications = {}
    for name in dir(keras.applications):
        obj = getattr(keras.applications, name)
        if callable(obj) and name[:1].isupper():
            module = obj.__module__.rsplit(".", 1)[-1]
            applications[name] = {"module": module, "args": list(inspect.signature(obj).parameters)}
    return {
        "keras_version": keras.__version__,
        "applications": dict(sorted(applications.items())),
        "layers": dict(sorted(layers.items())),
        "optimizers": dict(sorted(optimizers.items())),
        "losses": _accepted(keras.losses.get, snake(keras.losses) + LOSS_ALIASES),
        "metrics": _accepted(keras.metrics.get, snake(keras.metrics) + METRIC_ALIASES),
        "activations": _accepted(keras.activations.get, snake(keras.activations)),
        "initializers": regular(keras.initializers),
        "regularizers": regular(keras.regularizers),
        "constraints": regular(keras.constraints),
        "schedules": _subclasses(keras.optimizers.schedules, keras.optimizers.schedules.LearningRateSchedule),
        "callbacks": {name: entry for name, entry in _subclasses(keras.callbacks, keras.callbacks.Callback).items()
                      if name != "CallbackList"},  # the container Keras runs callbacks in, not one to add
    }


def main() -> None:
    OUT.write_text(json.dumps(build_catalog(), indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
