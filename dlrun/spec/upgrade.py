"""Configs saved by earlier dlrun versions, brought to the shape the current spec accepts.

A run's config.yaml is the resolved spec with every default written out. Before the split
had a holdout and a cross-validation form, a holdout split was written with the fold
settings too; the holdout form no longer takes them.
"""

from __future__ import annotations

import copy

# What the earlier version wrote into every holdout split. Kept as written then, not read from
# today's CrossValidationSplit defaults, which may change without changing old files.
_OLD_FOLD_DEFAULTS = {"folds": 5, "repeats": 1, "group": None, "curves": True, "final_model": False}


def _is_old_default(key: str, value) -> bool:
    default = _OLD_FOLD_DEFAULTS[key]
    return type(value) is type(default) and value == default  # True is not 1: `folds: true` stays an error


def upgrade_saved(data: dict) -> dict:
    """A copy of a saved config without the fold settings a holdout split carried at their old
    defaults. A fold setting with another value is kept, so validation reports it (it meant
    something, e.g. `group:` kept a column out of the features).

    Example:
        >>> upgrade_saved({"split": {"protocol": "holdout", "test": 0.2, "folds": 5, "curves": True}})
        {'split': {'protocol': 'holdout', 'test': 0.2}}
    """
    data = copy.deepcopy(data)
    split = data.get("split")
    if isinstance(split, dict) and split.get("protocol", "holdout") == "holdout":
        for key in [k for k, v in split.items() if k in _OLD_FOLD_DEFAULTS and _is_old_default(k, v)]:
            del split[key]
    return data
