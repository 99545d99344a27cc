"""Checking a sweep's parameters before any trial runs: every path must be one `--set` accepts,
and the spec must stay valid at both ends of every range and for every choice. Problems are
located at the parameter's line in the sweep section, as `validate` reports spec mistakes."""

from __future__ import annotations

import json

from dlrun.errors import SpecError
from dlrun.spec.load import LoadedSpec, load_spec
from dlrun.spec.sweep_forms import SweepSpec, override_path


def trial_overrides(params: dict[str, object]) -> list[str]:
    """`--set` overrides for one trial's parameter values."""
    return [f"{override_path(path)}={json.dumps(value)}" for path, value in params.items()]


def check_sweep_params(loaded: LoadedSpec, sweep: SweepSpec, overrides: list[str] = ()) -> None:
    """Raise one SpecError listing every parameter path or range end that does not give a valid spec."""
    found: list[tuple[tuple, str]] = []
    for path, param in sweep.params.items():
        for value in param.ends():
            try:
                load_spec(loaded.path, [*overrides, *trial_overrides({path: value})])
            except SpecError as exc:
                first = exc.problems[0]
                found.append((("sweep", "params", path), f"{path} = {value!r} does not give a valid spec: "
                                                          f"{first.path}: {first.message}"))
                break
    if found:
        raise loaded.error(found)
