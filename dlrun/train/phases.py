"""Training phases: the first runs `training.epochs` with the layers as the spec freezes them; each of
`training.fine_tune` then unfreezes more layers, recompiles with its own learning rate (a fresh
optimizer) and trains on. Epochs are counted across phases (phase 2 starts at epoch
`training.epochs + 1`), so history.csv, checkpoints and resume need nothing new but a phase column.

Which layers a phase makes trainable is decided on the model's layers in order, nested backbones
expanded layer by layer ("leaf" layers). BatchNormalization layers the spec froze stay frozen and in
inference mode, and dlrun's own fixed layers (model/build.py `fixed`) are never trained.

    >>> from dlrun.spec.models import TrainingSpec
    >>> [(p.number, p.first, p.end) for p in plan(TrainingSpec(epochs=3, fine_tune=[{"epochs": 2}]))]
    [(1, 0, 3), (2, 3, 5)]
"""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.spec.transfer import FineTunePhase

INITIAL = "_dlrun_initial_trainable"   # the model attribute holding each leaf layer's trainable flag as built


@dataclass(frozen=True)
class Phase:
    number: int              # 1 for the first phase
    first: int               # epochs done before the phase starts
    end: int                 # epochs done when it ends
    learning_rate: float | None   # None: the spec's optimizer as written (the first phase)
    unfreeze: object = None  # the FineTunePhase.unfreeze value; None for the first phase

    @property
    def epochs(self) -> int:
        return self.end - self.first


def plan(training) -> list[Phase]:
    """Every phase of a fit, from the training section (the first phase keeps the optimizer as written)."""
    phases = [Phase(1, 0, training.epochs, None)]
    for number, extra in enumerate(training.fine_tune, start=2):
        first = phases[-1].end
        phases.append(Phase(number, first, first + extra.epochs, extra.learning_rate, extra.unfreeze))
    return phases


def phase_at(phases: list[Phase], epochs_done: int) -> Phase:
    """The phase of the last finished epoch (the first phase before any)."""
    for phase in phases:
        if epochs_done <= phase.end:
            return phase
    return phases[-1]


def total_epochs(training) -> int:
    return training.epochs + sum(p.epochs for p in training.fine_tune)


def within(training, epochs: int) -> dict:
    """The training section's epochs and fine_tune cut to `epochs` in all (a retrain for a chosen number
    of epochs: k-fold's final model, a sweep's best trial)."""
    first = min(epochs, training.epochs)
    left, kept = epochs - first, []
    for extra in training.fine_tune:
        if left <= 0:
            break
        kept.append({**extra.model_dump(mode="json"), "epochs": min(left, extra.epochs)})
        left -= extra.epochs
    return {"epochs": first, "fine_tune": kept}


def leaf_layers(model) -> list:
    """The model's layers in order, nested models (a backbone) replaced by their own leaf layers."""
    out = []
    for layer in model.layers:
        if _is_nested_model(layer):
            out.extend(leaf_layers(layer))
        elif type(layer).__name__ != "InputLayer":
            out.append(layer)
    return out


def _is_nested_model(layer) -> bool:
    import keras

    return isinstance(layer, keras.Model)


def _remember(model) -> dict:
    """Each leaf layer's trainable flag as built (kept on the model, so a reused model gets them back)."""
    initial = getattr(model, INITIAL, None)
    if initial is None:
        initial = {id(layer): bool(layer.trainable) for layer in leaf_layers(model)}
        object.__setattr__(model, INITIAL, initial)
    return initial


def _nested(model) -> list:
    return [layer for layer in model.layers if _is_nested_model(layer)]


def unfrozen(layers: list, unfreeze) -> list:
    """The layers `unfreeze` (all | none | {top: N} | {from: NAME}) names, among leaf `layers`."""
    from dlrun.model.fixed_layers import is_fixed

    candidates = [layer for layer in layers if not is_fixed(layer)
                  and type(layer).__name__ != "BatchNormalization"]
    if unfreeze == "none":
        return []
    if unfreeze == "all":
        return candidates
    if unfreeze.top is not None:
        weighted = [layer for layer in candidates if layer.weights]
        return weighted[-unfreeze.top:]
    names = [layer.name for layer in layers]
    if unfreeze.from_layer not in names:
        from dlrun.errors import UserError
        from dlrun.spec.catalog import suggest

        raise UserError(f"training.fine_tune: unfreeze from '{unfreeze.from_layer}': the model has no such layer"
                        f"{suggest(unfreeze.from_layer, names)}")
    start = names.index(unfreeze.from_layer)
    later = {id(layer) for layer in layers[start:]}
    return [layer for layer in candidates if id(layer) in later]


def set_phase(model, phases: list[Phase], phase: Phase) -> None:
    """Set every layer's trainable flag for `phase`: the flags as built, then the unfreezing of each
    fine-tune phase up to it. A nested backbone frozen as a whole is opened layer by layer."""
    initial = _remember(model)
    layers = leaf_layers(model)
    for nested in _nested(model):
        nested.trainable = True  # a model's own flag overrides its layers': decide per layer instead
    for layer in layers:
        layer.trainable = initial.get(id(layer), True)
    for earlier in phases[1:phase.number]:
        for layer in unfrozen(layers, earlier.unfreeze):
            layer.trainable = True


def phase_description(model, phase: Phase) -> dict:
    """What the report shows of a phase: its epochs, learning rate and trainable parameters."""
    import numpy as np

    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    unfreeze = phase.unfreeze
    what = unfreeze if isinstance(unfreeze, str) or unfreeze is None else unfreeze.model_dump(mode="json")
    return {"phase": phase.number, "epochs": [phase.first + 1, phase.end], "learning_rate": phase.learning_rate,
            "unfreeze": what, "trainable_parameters": trainable}


__all__ = ["FineTunePhase", "Phase", "plan", "phase_at", "set_phase", "total_epochs", "within"]
