"""Resume admission: which spec a resumed run continues with, and when it must refuse — one
set of rules for `dlrun train --resume` and `dlrun kfold --resume`."""

from __future__ import annotations

from pathlib import Path

from dlrun.data.prepare import Resolved
from dlrun.errors import UserError
from dlrun.runs import artifacts
from dlrun.runs.config_diff import config_differences
from dlrun.runs.rundir import RunDir
from dlrun.spec.load import LoadedSpec, load_spec
from dlrun.spec.upgrade import upgrade_saved


def spec_to_resume(run: RunDir, config: Path | None, overrides: list[str] = ()) -> LoadedSpec:
    """The spec given on the command line, or else the run's own resolved spec, its data paths
    relative to where the run started."""
    if config is not None:
        return load_spec(config, overrides)
    return load_spec(artifacts.config_path(run.path), overrides, saved=True,
                     data_dir=Path(run.read_info().get("data_dir", ".")))


def refuse_changed_spec(run: RunDir, spec, allow_changed: bool) -> None:
    """Resuming with a spec other than the run's own: list the differing keys and refuse, unless allowed.
    Output settings (where runs go, plots) and tracking may differ."""
    saved = upgrade_saved(artifacts.read_config(run.path))
    diff = {k: v for k, v in config_differences([saved, spec.model_dump(mode="json")]).items()
            if not k.startswith(("output.", "tracking."))}
    if diff and not allow_changed:
        lines = [f"  {key}: {old!r} → {new!r}" for key, (old, new) in diff.items()]
        raise UserError("the spec differs from the one the run started with:\n" + "\n".join(lines)
                        + "\nresume with the same spec (or pass --allow-changed to continue anyway)")


def admit(run: RunDir, resolved: Resolved, allow_changed: bool, data_changed: str) -> None:
    """Refuse a resume whose spec (unless `allow_changed`), data or --smoke differs from the run's start."""
    refuse_changed_spec(run, resolved.spec, allow_changed)
    info = run.read_info()
    if info.get("data", {}).get("fingerprint") != resolved.dataset.fingerprint() or \
            bool(info.get("smoke")) != (resolved.sample is not None):
        raise UserError(data_changed)
