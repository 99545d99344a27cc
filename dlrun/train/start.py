"""Where a model's weights start: the one step between build and fit, one switch with four modes.

    scratch    the values the build drew from the spec's seed
    resume     an interrupted run's last saved epoch: weights, optimizer state, callback states
    reused     a model compiled earlier in this process for the same key, put back to the values
               it started with (k-fold folds: no rebuild, no retracing)
    from_run   the weights of another run's final model (or of a .keras / .weights.h5 file):
               warm start and fine-tuning begin here

Example:
    >>> Start.scratch().mode
    'scratch'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlrun.errors import DamagedRunFile, UserError, first_line
from dlrun.runs.artifacts import has_model, model_path

MODES = ("scratch", "resume", "reused", "from_run")


@dataclass(frozen=True)
class Start:
    """One starting point; build it with the class methods, apply it with `apply_start`."""

    mode: str = "scratch"
    state: dict | None = None     # resume: the saved state (train.resume.read_state)
    initial: dict | None = None   # reused: the variable values the model started with (model_arrays)
    source: Path | None = None    # from_run: a run folder, or a weights file
    skip_mismatch: bool = False   # from_run: layers of other shapes start as built instead of an error
    applied: dict | None = None   # from_run: what was loaded, when the weights are in the model already

    @classmethod
    def scratch(cls) -> "Start":
        return cls()

    @classmethod
    def resume(cls, state: dict | None) -> "Start":
        """Continue from `state`; with no state saved yet (no epoch finished), start from scratch."""
        return cls("resume", state=state) if state is not None else cls()

    @classmethod
    def reused(cls, initial: dict | None) -> "Start":
        """Put a reused model back; None (a model built anew, not kept for reuse) starts from scratch."""
        return cls("reused", initial=initial) if initial is not None else cls()

    @classmethod
    def from_run(cls, source: Path, skip_mismatch: bool = False, applied: dict | None = None) -> "Start":
        return cls("from_run", source=Path(source), skip_mismatch=skip_mismatch, applied=applied)

    @property
    def fresh(self) -> bool:
        """The weights are the build's own (scratch, or a reused model put back): the outputs' starting
        values (model/output_init.py) are set for the data at hand."""
        return self.mode in ("scratch", "reused")

    @property
    def epoch(self) -> int:
        """The number of epochs already done: the fit starts after them."""
        return int(self.state["epoch"]) if self.mode == "resume" else 0

    def weights_file(self) -> Path:
        """from_run: the file the weights are read from (a run folder's final model)."""
        source = Path(self.source)
        if source.is_dir():
            if not has_model(source):
                raise UserError(f"{source}: the run has no {model_path(source).name} to start from")
            return model_path(source)
        if not source.is_file():
            raise UserError(f"{source}: no such run folder or weights file to start from")
        return source


def apply_start(model, start: Start, prepared=None) -> dict | None:
    """Put the starting values into a built, compiled model; for a warm start, returns what was loaded
    (train/warm_start.py), for run.json."""
    from dlrun.train.resume import restore_model

    if start.mode == "resume":
        try:
            restore_model(model, start.state["array_data"])
        except (KeyError, ValueError) as exc:
            raise DamagedRunFile(f"the saved resume state does not fit this model ({first_line(exc)}); "
                                 f"the checkpoints were damaged, or the spec changed its layers") from None
    elif start.mode == "reused":
        restore_model(model, start.initial)
    elif start.mode == "from_run":
        from dlrun.train.warm_start import load_by_name

        if start.applied is not None:  # loaded before the run folder was made (a mismatch leaves no folder)
            return start.applied
        source = Path(start.source)
        if source.is_dir():
            start.weights_file()  # a run without a model is refused by name
        spec = None if prepared is None else prepared.spec
        return load_by_name(model, source, start.skip_mismatch, [] if spec is None else list(spec.imports),
                            None if prepared is None else prepared.loaded.base_dir)
    return None
