"""Custom pieces a spec names besides layers, losses and metrics: callbacks (`callbacks.custom`), the
optimizer (`optimizer.name`) and the model class (`model.model_class`), found in its `imports:` modules.

They are checked when the model is built (`dlrun validate --build`, train), before any run folder is
written, each problem at its spec path as an unknown layer's is: `piece_problems` for callbacks and
the optimizer, `functional_model` (called by model/build.py) for the model class.

    callbacks.custom: [{EpochFiles: {every: 1}}]   # a Callback subclass of an imports: module, else keras.callbacks
    optimizer: {name: Lion2}                      # a registered keras.optimizers.Optimizer subclass of a module
    model: {model_class: CountingModel, layers: [...]}  # a registered keras.Model subclass: its train_step runs
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

from dlrun.errors import UserError, first_line
from dlrun.spec.catalog import catalog, suggest
from dlrun.spec.piece_checks import RUN_DIR

Found = list[tuple[tuple, str]]
REGISTER = "decorate it with @keras.saving.register_keras_serializable()"


def modules_named(names: list[str]) -> list:
    """The spec's `imports:` modules, imported already by the build (model/build.py import_modules)."""
    import importlib
    import sys

    return [sys.modules.get(name) or importlib.import_module(name) for name in names]


def _registered(obj: Any) -> bool:
    """model/build.py's is_registered (which cannot be imported here: build.py imports this module)."""
    import keras

    try:
        return keras.saving.get_registered_object(keras.saving.get_registered_name(obj)) is obj
    except Exception:  # noqa: BLE001 - not something keras.saving can name
        return False


def _in_modules(name: str, modules: list, base: type) -> type | None:
    """The class `name` of the first module that has it as a subclass of `base`."""
    for module in modules:
        candidate = getattr(module, name, None)
        if isinstance(candidate, type) and issubclass(candidate, base):
            return candidate
    return None


def _subclass_names(modules: list, base: type) -> list[str]:
    return [n for m in modules for n, v in vars(m).items() if isinstance(v, type) and issubclass(v, base)]


def _where(modules: list) -> str:
    return ", ".join(m.__name__ for m in modules) or "none listed"


# ---- callbacks ------------------------------------------------------------------------------------------

def callback_class(name: str, modules: list) -> type | None:
    """A callback class by name: the `imports:` modules first, then keras.callbacks."""
    import keras

    found = _in_modules(name, modules, keras.callbacks.Callback)
    if found is None:
        candidate = getattr(keras.callbacks, name, None)
        if isinstance(candidate, type) and issubclass(candidate, keras.callbacks.Callback):
            found = candidate
    return found


def _takes(cls: type) -> tuple[dict[str, inspect.Parameter], bool]:
    """The named __init__ parameters of `cls` and whether it takes any keyword (**kwargs)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    named = {p.name: p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return named, any(p.kind is p.VAR_KEYWORD for p in params)


def callback_kwargs(cls: type, args: dict, run_dir: Path) -> dict:
    """The arguments a callback is made with: the spec's, plus `run_dir` when its __init__ takes it."""
    named, _ = _takes(cls)
    return {**args, RUN_DIR: Path(run_dir)} if RUN_DIR in named else dict(args)


def _callback_problems(path: tuple, name: str, args: dict, modules: list) -> Found:
    import tempfile

    import keras

    cls = callback_class(name, modules)
    if cls is None:
        known = [*_subclass_names(modules, keras.callbacks.Callback), *catalog().get("callbacks", {})]
        return [(path, f"unknown callback '{name}': not a keras.callbacks.Callback subclass of the modules under "
                       f"imports: ({_where(modules)}) nor a class of keras.callbacks{suggest(name, known)}")]
    named, any_keyword = _takes(cls)
    found: Found = [((*path, arg), f"unknown argument of {name}{suggest(arg, list(named))}")
                    for arg in args if arg not in named and not any_keyword]
    found += [(path, f"{name} needs `{arg}:`") for arg, p in named.items()
              if p.default is p.empty and arg not in args and arg != RUN_DIR]
    if found:
        return found
    with tempfile.TemporaryDirectory() as folder:  # made once with a throwaway folder, as a layer is made
        try:
            cls(**callback_kwargs(cls, args, Path(folder)))
        except Exception as exc:  # noqa: BLE001 - a callback may raise anything for a bad argument
            return [(path, f"{name} cannot be made with these arguments: {first_line(exc)}")]
    return []


def make_callbacks(spec, run_dir: Path) -> list:
    """The spec's `callbacks.custom`, made for the fit in `run_dir` (checked by `piece_problems` at build)."""
    modules = modules_named(list(spec.imports))
    made = []
    for index, (name, args) in enumerate(spec.callbacks.custom_entries()):
        cls = callback_class(name, modules)
        try:
            made.append(cls(**callback_kwargs(cls, args, run_dir)))
        except Exception as exc:  # noqa: BLE001 - as at build: any failure is this entry's arguments
            raise UserError(f"callbacks.custom[{index}].{name}: cannot be made: {first_line(exc)}") from None
    return made


# ---- the optimizer --------------------------------------------------------------------------------------

def optimizer_class(name: str, modules: list) -> type | None:
    """An optimizer class by name: Keras's (catalog names, any case), else a subclass of the modules."""
    import keras

    entry = catalog()["optimizers"].get(name.lower())
    if entry is not None:
        return getattr(keras.optimizers, entry["class"])
    return _in_modules(name, modules, keras.optimizers.Optimizer)


def _optimizer_problems(name: str, modules: list) -> Found:
    import keras

    cls = optimizer_class(name, modules)
    path = ("optimizer", "name")
    if cls is None:
        known = [*_subclass_names(modules, keras.optimizers.Optimizer), *catalog()["optimizers"]]
        return [(path, f"unknown optimizer '{name}': not in Keras nor a keras.optimizers.Optimizer subclass of "
                       f"the modules under imports: ({_where(modules)}){suggest(name, known)}")]
    if name.lower() not in catalog()["optimizers"] and not _registered(cls):
        return [(path, f"custom optimizer '{name}' is not registered: {REGISTER} so the saved model can be loaded "
                       f"again")]
    return []


def piece_problems(spec, modules: list) -> Found:
    """Problems with the custom callbacks and the optimizer of a spec whose `imports:` are imported."""
    found = _optimizer_problems(spec.optimizer.name, modules)
    for index, (name, args) in enumerate(spec.callbacks.custom_entries()):
        found += _callback_problems(("callbacks", "custom", index, name), name, args, modules)
    return found


# ---- the model class ------------------------------------------------------------------------------------

def _train_step_args(cls: type) -> int | None:
    """How many arguments besides self the class's own train_step takes (None: Keras's own)."""
    for klass in cls.__mro__:
        if "train_step" in vars(klass) and not klass.__module__.startswith("keras"):
            params = list(inspect.signature(vars(klass)["train_step"]).parameters.values())[1:]
            return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    return None


def _backend_problem(name: str, cls: type) -> str | None:
    """Why the class's train_step cannot run on this process's backend (JAX passes and returns its state)."""
    import keras

    backend, count = keras.backend.backend(), _train_step_args(cls)
    if backend == "jax" and count == 1:
        return (f"{name}.train_step(self, data) is a TensorFlow-style custom training loop and runs on backend "
                f"tensorflow: set training.backend: tensorflow, or write the JAX form train_step(self, state, data)")
    if backend != "jax" and count == 2:
        return (f"{name}.train_step(self, state, data) is JAX's form of a custom training loop: set "
                f"training.backend: jax, or write train_step(self, data) for {backend}")
    return None


def model_class(name: str, modules: list) -> tuple[type | None, str | None]:
    """(the keras.Model subclass `name` of the modules, None), or (None, why it cannot be used)."""
    import keras

    cls = _in_modules(name, modules, keras.Model)
    if cls is None:
        known = _subclass_names(modules, keras.Model)
        return None, (f"unknown model class '{name}': not a keras.Model subclass of the modules under imports: "
                      f"({_where(modules)}){suggest(name, known)}")
    if not _registered(cls):
        return None, f"model class '{name}' is not registered: {REGISTER} so model.keras can be loaded again"
    return cls, _backend_problem(name, cls)


def functional_model(spec, inputs, outputs, name: str, modules: list, error: Callable[[tuple, str], Exception]):
    """The built graph as a keras.Model, or as the spec's `model_class` (Keras 3 makes a Model subclass
    from inputs and outputs as it makes a functional model). A class that cannot be used, or made, is
    raised as `error(path, message)` (model/build.py's BuildError)."""
    import keras

    if spec.model_class is None:
        return keras.Model(inputs=inputs, outputs=outputs, name=name)
    path = ("model", "model_class")
    cls, problem = model_class(spec.model_class, modules)
    if problem:
        raise error(path, problem)
    try:
        return cls(inputs=inputs, outputs=outputs, name=name)
    except Exception as exc:  # noqa: BLE001 - a subclass's __init__ may raise anything
        raise error(path, f"{spec.model_class} cannot be made from the model's inputs and outputs "
                          f"(cls(inputs=..., outputs=..., name=...)): {first_line(exc)}") from None
