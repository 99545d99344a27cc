"""dlrun's own untrained layers: constants in the model (a scaled output's target-units layer, a
backbone's input preprocessing), marked so that no fine-tuning phase trains them and no warm start
copies them (each fit sets them for its own data)."""

from __future__ import annotations

FIXED = "_dlrun_fixed"   # the attribute that marks them


def fixed(layer):
    """Mark `layer` as one of dlrun's untrained constants; returns it."""
    setattr(layer, FIXED, True)
    return layer


def is_fixed(layer) -> bool:
    return bool(getattr(layer, FIXED, False))
