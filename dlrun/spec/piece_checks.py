"""Checks of the spec's free-form custom pieces against the Keras catalog, each problem at its exact
path: `callbacks.custom` entries, a `type: keras` schedule's arguments, and `model.model_class`.

A name that may come from an `imports:` module is left for the build (model/imported.py), which
imports the modules and checks it there, as it does custom layers. They read the raw YAML data, so
they run even when other parts of the spec are invalid. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from typing import Any

from dlrun.spec.catalog import catalog, suggest, unknown_name

Found = list[tuple[tuple, str]]  # (path, message)

RUN_DIR = "run_dir"  # the callback argument dlrun fills in with the fit's folder
INITIAL_RATE = "initial_learning_rate"  # a schedule argument that defaults to optimizer.learning_rate


def check_args(path: tuple, owner: str, args: dict, entry: dict, filled: tuple[str, ...] = ()) -> Found:
    """Arguments against a catalog entry ({"args", "required"}): unknown ones, and required ones
    missing (`filled`: those dlrun supplies itself)."""
    found: Found = []
    for arg in args:
        if arg not in entry["args"]:
            found.append(((*path, arg), f"unknown argument of {owner}{suggest(arg, entry['args'])}"))
    for arg in entry["required"]:
        if arg not in args and arg not in filled:
            found.append((path, f"{owner} needs `{arg}:`"))
    return found


def _check_callbacks(callbacks: Any, custom: bool) -> Found:
    items = callbacks.get("custom") if isinstance(callbacks, dict) else None
    if not isinstance(items, list):
        return []
    found: Found = []
    known = catalog().get("callbacks", {})
    for index, item in enumerate(items):
        path = ("callbacks", "custom", index)
        if not isinstance(item, dict):
            continue  # reported by the pydantic model
        if len(item) != 1:
            found.append((path, "each custom callback is a one-key mapping like {CSVLogger: {filename: log.csv}}"))
            continue
        (name, args), = item.items()
        if not isinstance(name, str):
            found.append((path, f"{name!r} is not a class name"))
            continue
        if isinstance(args, dict) and RUN_DIR in args:
            found.append(((*path, name, RUN_DIR), f"{RUN_DIR} is the fit's folder, which dlrun passes itself; "
                                                  f"remove it"))
        if custom or not isinstance(args, (dict, type(None))):
            continue  # a module may define this name (imports first): checked at build
        if name not in known:
            message = unknown_name("callback", name, list(known))
            if "did you mean" not in message:
                message += "; a custom callback needs its module listed under `imports:`"
            found.append(((*path, name), message))
        else:
            found += check_args((*path, name), name, {k: v for k, v in (args or {}).items() if k != RUN_DIR},
                                known[name])
    return found


def _check_schedule(optimizer: Any) -> Found:
    schedule = optimizer.get("schedule") if isinstance(optimizer, dict) else None
    if not isinstance(schedule, dict) or schedule.get("type") != "keras" or not isinstance(schedule.get("args", {}), dict):
        return []
    name = schedule.get("name")
    entry = catalog().get("schedules", {}).get(name) if isinstance(name, str) else None
    if entry is None:
        return []  # the name itself is reported by the pydantic model
    return check_args(("optimizer", "schedule", "args"), schedule["name"], schedule.get("args") or {}, entry,
                      filled=(INITIAL_RATE,))


def _check_model_class(model: Any, custom: bool) -> Found:
    if not isinstance(model, dict) or model.get("model_class") is None or custom:
        return []
    return [(("model", "model_class"), f"'{model['model_class']}' must be a keras.Model subclass of a module listed "
                                       f"under `imports:`, and the spec lists none")]


def check_pieces(data: dict) -> Found:
    """Problems in the custom callbacks, a Keras schedule's arguments and the model class of raw spec data."""
    custom = bool(data.get("imports"))
    return [*_check_callbacks(data.get("callbacks"), custom), *_check_schedule(data.get("optimizer")),
            *_check_model_class(data.get("model"), custom)]
