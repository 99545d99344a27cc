"""A warm start: the weights of an earlier run's model (or of a model file) put into a new model by
layer name, each layer's weight shapes checked first.

    loaded      layers found in the parent with the same name and shapes: their weights are copied
    mismatched  same name, other shapes: every one is listed and the run refused (exit 2), unless
                init_from.skip_mismatch, when they start as built
    new         layers the parent does not have (a new head): they start as built

Nested models (a backbone) are matched layer by layer under their own name ("mobilenetv2/conv1").
dlrun's fixed layers (the target-units layer, a backbone's input preprocessing) are set for the new
fit, not copied. A `.weights.h5` file holds weights by position, not by name: it is loaded whole
(Keras's own check of the structure applies).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from dlrun.errors import UserError, first_line

SHOWN = 12   # mismatches listed in the message before "… and N more"


def named_layers(model, prefix: str = "") -> dict[str, object]:
    """{path: layer} for every layer holding weights; a nested model's layers under 'name/'."""
    import keras

    out: dict[str, object] = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.update(named_layers(layer, f"{prefix}{layer.name}/"))
        elif layer.weights:
            out[f"{prefix}{layer.name}"] = layer
    return out


def parent_model(source: Path, imports: list[str], base_dir: Path | None):
    """The model to copy from: a run folder's final model, or a .keras file, loaded in safe mode."""
    from dlrun.model.io import load_model
    from dlrun.model.backend import import_keras

    keras = import_keras()
    if source.is_dir():
        return load_model(source, imports, base_dir, keras.backend.backend())
    try:
        return keras.models.load_model(source, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - not a model file, damaged, or refused by safe mode
        raise UserError(f"{source}: cannot be loaded as a model to start from ({first_line(exc)})") from None


def load_by_name(model, source: Path, skip_mismatch: bool = False, imports: list[str] = (),
                 base_dir: Path | None = None) -> dict:
    """Copy the parent's weights into `model` by layer name; returns what was loaded, skipped and new."""
    from dlrun.model.fixed_layers import is_fixed

    source = Path(source)
    if source.name.endswith(".weights.h5"):
        return _load_weights_file(model, source, skip_mismatch)
    theirs = named_layers(parent_model(source, list(imports), base_dir))
    pairs, mismatched, new = [], [], []
    for path, layer in named_layers(model).items():
        if is_fixed(layer):
            continue
        other = theirs.get(path)
        if other is None:
            new.append(path)
            continue
        ours_shapes = [tuple(w.shape) for w in layer.weights]
        their_shapes = [tuple(w.shape) for w in other.weights]
        if ours_shapes != their_shapes:
            mismatched.append(f"{path}: {_shapes(their_shapes)} in the parent, {_shapes(ours_shapes)} here")
        else:
            pairs.append((path, layer, other))
    if mismatched and not skip_mismatch:
        listing = "\n  ".join(mismatched[:SHOWN]) + (f"\n  … and {len(mismatched) - SHOWN} more"
                                                      if len(mismatched) > SHOWN else "")
        raise UserError(f"init_from {source}: {len(mismatched)} layer(s) have other weight shapes than the "
                        f"parent's:\n  {listing}\nchange the spec to match, or set init_from.skip_mismatch: true to "
                        f"start those layers as built")
    if not pairs:
        raise UserError(f"init_from {source}: no layer of this model matches one of the parent's by name and "
                        f"shapes (the parent has {', '.join(list(theirs)[:6]) or 'no weighted layers'}); name the "
                        f"layers alike, or start from scratch")
    for _, layer, other in pairs:
        layer.set_weights(other.get_weights())
    return {"source": str(source), "loaded": [p for p, _, _ in pairs], "skipped": mismatched, "new": new}


def _load_weights_file(model, source: Path, skip_mismatch: bool) -> dict:
    try:
        with warnings.catch_warnings():  # a saved optimizer state is left out on purpose: a new fit starts
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(str(source), skip_mismatch=skip_mismatch)
    except (ValueError, KeyError, OSError) as exc:
        raise UserError(f"init_from {source}: its weights do not fit this model ({first_line(exc)}); a .weights.h5 "
                        f"file is matched by position, so the model must have the same layers and shapes (a run "
                        f"or a .keras file is matched by layer name)") from None
    return {"source": str(source), "loaded": "all (by position)", "skipped": [], "new": []}


def _shapes(shapes: list[tuple]) -> str:
    return ", ".join("×".join(str(d) for d in shape) or "scalar" for shape in shapes)
