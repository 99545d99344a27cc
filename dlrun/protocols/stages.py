"""The first stages every protocol runs: load the data, fill in the task defaults the output
heads need (checked against the data), and for holdout split it and fit the preprocessing.

    YAML ─load─▶ spec ─load_resolved─▶ Dataset + target encodings + resolved spec
         ─split─▶ Splits ─prepare_rows─▶ Prepared ─build_compiled─▶ keras.Model
"""

from __future__ import annotations

from dlrun.data.prepare import Prepared, Resolved, load_data, prepare_rows, take_smoke_sample
from dlrun.data.split import holdout_split
from dlrun.errors import Problem, SpecError
from dlrun.model.heads import resolve_for_data
from dlrun.spec.load import LoadedSpec
from dlrun.spec.yamlsource import dotted


def load_resolved(loaded: LoadedSpec, smoke: bool = False) -> Resolved:
    """Load the data and fill in the task defaults (output activation, loss, metrics);
    a head that does not fit its target is a located spec error."""
    resolved = load_data(loaded)
    data, found = resolve_for_data(loaded.data, resolved.targets)
    if found:
        raise loaded.error(found)
    resolved = resolved.with_loaded(loaded.with_data(data))
    return take_smoke_sample(resolved) if smoke else resolved


def prepare(loaded: LoadedSpec, smoke: bool = False) -> Prepared:
    """Holdout: load the data, fill in task defaults, split, and fit preprocessing on the training rows."""
    spec = loaded.spec
    if spec.split.protocol != "holdout":
        raise loaded.error([(("split", "protocol"), f"{spec.split.protocol} is a cross-validation protocol, run by "
                                                    f"`dlrun kfold`; `dlrun train` uses protocol: holdout")])
    resolved = load_resolved(loaded, smoke)
    splits = holdout_split(resolved.dataset.n_rows, resolved.spec.split, resolved.spec.seed, resolved.labels(),
                           resolved.dataset.source_test)
    return prepare_rows(resolved, splits)


def build_compiled(prepared: Prepared) -> tuple:
    """(runtime facts, compiled model) for a prepared spec; spec mistakes become located errors.
    The spec's `imports:` are imported once, here."""
    from dlrun.model.build import BuildError, build_model, import_modules
    from dlrun.model.custom import custom_objects
    from dlrun.train.fit import compile_model
    from dlrun.train.runtime import setup_runtime

    spec, loaded = prepared.spec, prepared.loaded
    runtime = setup_runtime(spec.training, spec.seed)  # imports TensorFlow first, quietly
    try:
        modules = import_modules(list(spec.imports), loaded.base_dir)
        model = build_model(spec.model, prepared.infos, spec.name, modules)
    except BuildError as exc:
        loc = loaded.locate(exc.path)
        raise SpecError([Problem(loc.file, loc.line, loc.col, dotted(exc.path), str(exc))]) from None
    custom, found = custom_objects(spec, prepared.heads, modules)  # losses and metrics from `imports:`
    if found:
        raise loaded.error(found)
    compile_model(model, spec, prepared.heads, loaded.locate, len(prepared.fit_rows), custom)
    return runtime, model
