"""The first stages every protocol runs: load the data, fill in the task defaults the output
heads need (checked against the data), and for holdout split it and fit the preprocessing.

    YAML ─load─▶ spec ─load_resolved─▶ Dataset + target encodings + resolved spec
         ─split─▶ Splits ─prepare_rows─▶ Prepared ─build_compiled─▶ keras.Model
"""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.data.prepare import Prepared, Resolved, load_data, prepare_rows, take_smoke_sample
from dlrun.errors import Problem, SpecError
from dlrun.model.heads import output_activations, resolve_for_data
from dlrun.runs.timing import PhaseClock
from dlrun.spec.load import LoadedSpec
from dlrun.spec.yamlsource import dotted


def load_resolved(loaded: LoadedSpec, smoke: bool = False) -> Resolved:
    """Load the data and fill in the task defaults (output activation, loss, metrics);
    a head that does not fit its target is a located spec error. The spec's Keras backend is
    chosen first: loading a keras: dataset imports Keras."""
    from dlrun.model.backend import activate, import_keras

    training = loaded.spec.training
    activate(training.backend, training.device, training.deterministic)
    if loaded.spec.data.kind.read_with_keras:  # import now, without the noise
        import_keras()
    resolved = load_data(loaded)
    data, found = resolve_for_data(loaded.data, resolved.targets)
    if found:
        raise loaded.error(found)
    resolved = resolved.with_loaded(loaded.with_data(data), output_activations(data, resolved.targets))
    return take_smoke_sample(resolved) if smoke else resolved


def prepare(loaded: LoadedSpec, smoke: bool = False, clock: PhaseClock | None = None) -> Prepared:
    """Holdout: load the data, fill in task defaults, split, and fit preprocessing on the training rows
    (timed as the load and preprocess phases on `clock`)."""
    spec = loaded.spec
    if spec.split.protocol != "holdout":
        raise loaded.error([(("split", "protocol"), f"{spec.split.protocol} is a cross-validation protocol, run by "
                                                    f"`dlrun kfold`; `dlrun train` uses protocol: holdout")])
    clock = clock or PhaseClock()
    with clock.phase("load"):
        resolved = load_resolved(loaded, smoke)
    with clock.phase("preprocess"):
        splits = resolved.dataset.data.split_holdout(resolved.spec.split, resolved.spec.seed, resolved.labels(),
                                                     resolved.dataset.source_test)
        return prepare_rows(resolved, splits)


def job_of(prepared: Prepared):
    """What the `training.device: auto` rule reads of a prepared job (train/device_rule.py)."""
    from dlrun.train.device_rule import job_size

    spec = prepared.spec
    return job_size(spec.model, [info.shape for info in prepared.infos.values()], spec.training.batch_size)


def start_backend(prepared: Prepared) -> None:
    """Start the spec's backend (TensorFlow's import alone takes seconds), on the CPU alone for a tiny
    JAX job on a GPU machine, so it can be timed apart from the build."""
    from dlrun.model.backend import activate, import_keras
    from dlrun.train.runtime import platform_for

    training = prepared.spec.training
    activate(training.backend, training.device, training.deterministic)
    platform_for(training, job_of(prepared))
    import_keras()


# The last model compiled with reuse=True in this process, by what it was compiled from, with
# the variable values it started with: {key: (model, arrays)}.
_reusable: dict = {}


def _compile_key(prepared: Prepared) -> str:
    """Everything a compiled model depends on: the spec less what only the fit reads (epochs,
    callbacks, split, output), the input shapes, the output heads and the steps per execution."""
    import json

    from dlrun.train.pipeline import execution_steps

    spec = prepared.spec
    shaping = spec.model_dump(mode="json", exclude={"name": True, "output": True, "callbacks": True, "split": True,
                                                     "training": {"epochs"}})
    steps = execution_steps(spec.training, len(prepared.fit_rows))
    inputs = {name: [list(info.shape), info.dtype] for name, info in prepared.infos.items()}
    return json.dumps([shaping, inputs, [h.to_json() for h in prepared.heads], steps, scaled_outputs(prepared)],
                      sort_keys=True, default=str)


def scaled_outputs(prepared: Prepared) -> dict[str, int]:
    """{output name: units} of the outputs whose regression target is scaled for the fit (a forecast
    has one unit per step ahead)."""
    return {head.name: prepared.targets[head.target].steps or 1 for head in prepared.heads
            if head.target in prepared.target_scales}


@dataclass
class Built:
    """A compiled model, the runtime facts of its backend, and (built with `reuse`) the variable
    values it started with, which the starting-weights step `Start.reused` puts back."""

    runtime: dict
    model: object
    initial: dict | None = None


def build_compiled(prepared: Prepared, reuse: bool = False) -> Built:
    """The compiled model for a prepared spec; spec mistakes become located errors. The spec's
    `imports:` are imported once, here.

    With `reuse` (k-fold folds), a model compiled for the same key earlier in this process is
    returned with the variable values it started with — weights, dropout seeds, optimizer state —
    which are exactly those a fresh build from the same seed would have: no rebuild and no
    retracing of its train function for every fold. `Start.reused(built.initial)` resets it.
    """
    from dlrun.model.build import BuildError, build_model, import_modules
    from dlrun.model.custom import custom_objects
    from dlrun.model.imported import piece_problems
    from dlrun.train.fit import compile_model
    from dlrun.train.distribute import scope
    from dlrun.train.runtime import setup_runtime

    spec, loaded = prepared.spec, prepared.loaded
    runtime = setup_runtime(spec.training, spec.seed, spec.callbacks.tensorboard, job_of(prepared))  # imports the backend first
    from dlrun.train.resume import model_arrays

    # a fine-tuned model is recompiled per phase (a new optimizer): it is built anew rather than reset
    key = _compile_key(prepared) if reuse and not spec.training.fine_tune else None
    if key is not None and key in _reusable:
        model, arrays = _reusable[key]
        return Built(runtime, model, arrays)
    training = spec.training
    with scope(training.distribute, runtime["device"] == "gpu", training.cpu_replicas):  # mirrored: variables on every replica
        try:
            modules = import_modules(list(spec.imports), loaded.base_dir)
            model = build_model(spec.model, prepared.infos, spec.name, modules, scaled_outputs(prepared),
                                loaded.base_dir)
        except BuildError as exc:
            loc = loaded.locate(exc.path)
            raise SpecError([Problem(loc.file, loc.line, loc.col, dotted(exc.path), str(exc))]) from None
        custom, found = custom_objects(spec, prepared.heads, modules)  # losses and metrics from `imports:`
        found += piece_problems(spec, modules)  # callbacks.custom and optimizer.name (model_class: build_model)
        if found:
            raise loaded.error(found)
        compile_model(model, spec, prepared.heads, loaded.locate, len(prepared.fit_rows), custom)
        _reusable.clear()  # one kept model at a time
        if key is None:
            return Built(runtime, model)
        model.optimizer.build(model.trainable_variables)  # so its starting state can be kept too
        _reusable[key] = (model, model_arrays(model))
    return Built(runtime, model, _reusable[key][1])


def recompile(model, prepared: Prepared, learning_rate: float) -> None:
    """Compile `model` again for a fine-tuning phase: a new optimizer of the spec's kind at the phase's
    constant learning rate (after its layers' trainable flags changed, as Keras requires)."""
    from dlrun.model.build import import_modules
    from dlrun.model.custom import custom_objects
    from dlrun.train.fit import compile_model

    spec, loaded = prepared.spec, prepared.loaded
    optimizer = spec.optimizer.model_copy(update={"learning_rate": learning_rate, "schedule": None})
    phase_spec = spec.model_copy(update={"optimizer": optimizer})
    modules = import_modules(list(spec.imports), loaded.base_dir)
    custom, _ = custom_objects(spec, prepared.heads, modules)
    compile_model(model, phase_spec, prepared.heads, loaded.locate, len(prepared.fit_rows), custom)
