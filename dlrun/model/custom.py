"""Custom losses and metrics named in a spec, resolved from its `imports:` modules.

Spec validation lets a loss or metric name that is not in Keras's catalog through when the
spec lists `imports:`; here, after the modules are imported, each such name becomes the
registered function or class it names (a class is instantiated with no arguments, once per use). A name
nothing provides is a located problem with did-you-mean over Keras's names and the modules'
registered ones.
"""

from __future__ import annotations

from typing import Any

from dlrun.model.build import is_registered
from dlrun.spec.catalog import catalog, is_known, suggest
from dlrun.spec.outputs import OutputHead

Found = list[tuple[tuple, str]]


def _registered_in(modules: list) -> dict[str, Any]:
    """Name -> object for everything the modules registered with keras.saving (both the short
    name and the full `package>name` key)."""
    import keras

    names = {m.__name__ for m in modules}
    out: dict[str, Any] = {}
    for key, obj in keras.saving.get_custom_objects().items():
        if getattr(obj, "__module__", None) in names:
            out[key] = obj
            out.setdefault(key.split(">")[-1], obj)
    return out


def _resolve(kind: str, name: str, modules: list, registered: dict[str, Any]) -> tuple[Any, str | None]:
    """(object, None) for a name the modules or Keras provide, else (None, message)."""
    import keras

    obj = registered.get(name)
    if obj is None:
        for module in modules:
            candidate = getattr(module, name, None)
            if callable(candidate):
                if not is_registered(candidate):
                    return None, (f"custom {kind} '{name}' in {module.__name__} is not registered: decorate it with "
                                  f"@keras.saving.register_keras_serializable()")
                obj = candidate
                break
    if obj is None:
        getter = keras.losses.get if kind == "loss" else keras.metrics.get
        try:
            obj = getter(name)
        except Exception:  # noqa: BLE001 - Keras does not know it either
            obj = None
    if obj is None:
        known = [*catalog()["losses" if kind == "loss" else "metrics"], *(k for k in registered if ">" not in k)]
        where = ", ".join(m.__name__ for m in modules)
        return None, f"unknown {kind} '{name}': not in Keras nor registered by {where}{suggest(name, known)}"
    return obj, None


def fresh(obj: Any) -> Any:
    """What compile() gets for a resolved object: a new instance of a class, a function as is."""
    return obj() if isinstance(obj, type) else obj


def _named(spec, heads: list[OutputHead]):
    """(kind, name, spec path) for every loss and metric name the heads use."""
    for index, head in enumerate(heads):
        base = ("model", "outputs", index) if spec.model.is_graph else ()
        if head.loss:
            yield "loss", head.loss, (*base, "loss")
        for position, metric in enumerate(head.metrics):
            yield "metric", metric, (*base, "metrics", position)


def custom_objects(spec, heads: list[OutputHead], modules: list) -> tuple[dict[tuple[str, str], Any], Found]:
    """({(kind, name): object} for the custom losses and metrics the heads name, problems)."""
    resolved: dict[tuple[str, str], Any] = {}
    found: Found = []
    if not modules:
        return resolved, found
    registered = _registered_in(modules)
    for kind, name, path in _named(spec, heads):
        if is_known(kind, name) or (kind, name) in resolved:
            continue
        obj, problem = _resolve(kind, name, modules, registered)
        if problem:
            found.append((path, problem))
        else:
            resolved[(kind, name)] = obj
    return resolved, found
