"""What each kind of run is, in one table: the command that makes and resumes it, which folder
holds the model that evaluate, predict and export use, and what `dlrun show` reports of it.

Nothing else switches on a run's kind: it asks this table. A new protocol adds one
row here, one module in protocols/ and one CLI command.

Example:
    >>> kind_of({"kind": "kfold"}).command
    'kfold'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dlrun.errors import UserError
from dlrun.runs import artifacts


@dataclass(frozen=True)
class RunKind:
    """One kind of run (the `kind` in run.json)."""

    name: str
    command: str                                   # the dlrun command that starts it and resumes it (--resume)
    noun: str                                      # how messages name it: "is not {noun}"
    short: str                                     # ... and "{short} ID already completed"
    model_noun: str                                # what its model is called: "has no {model_noun}"
    model_folder: Callable[[Path], Path]           # the folder of the one model that stands for the run
    other_models: Callable[[Path], list[Path]]     # models that may stand in when that one is missing
    no_model: str                                  # why the run may have no model, and what makes one
    shows: tuple[str, ...]                         # the documents `dlrun show` reports (see runs.overview)
    part: bool = False                             # a folder inside another run (a fold, a final model)

    def refuse_resume(self, info: dict, run_id: str, wanted: str) -> None:
        """`--resume` of `dlrun <wanted>` on this run: refused when the run is of another kind or finished."""
        if self.name != wanted:
            raise UserError(f"{run_id} is not {KINDS[wanted].noun} but {self.noun} (resumed with "
                            f"`dlrun {self.command} --resume`{' on the run that holds it' if self.part else ''})")
        if info.get("status") == "completed":
            raise UserError(f"{self.short} {run_id} already completed; there is nothing to resume")


_SAVE_MODEL = "output.save_model was off, or it did not finish"


def _itself(path: Path) -> Path:
    return path


def _none(path: Path) -> list[Path]:
    return []


def _fold_models(path: Path) -> list[Path]:
    return [p for p in artifacts.fold_folders(path) if artifacts.has_model(p)]


KINDS: dict[str, RunKind] = {kind.name: kind for kind in (
    RunKind("train", "train", "a `dlrun train` run", "run", "model", _itself, _none, _SAVE_MODEL, ("metrics",)),
    RunKind("kfold", "kfold", "a k-fold run", "k-fold run", "final model", artifacts.final_folder, _fold_models,
            "split.final_model: true makes a final model; output.fold_models: true keeps each fold's", ("summary",)),
    RunKind("sweep", "sweep", "a sweep", "sweep", "retrained best model", artifacts.best_folder, _none,
            "sweep.retrain_best: true makes one; or name its best trial: SWEEP:best", ("trials", "best")),
    RunKind("fold", "kfold", "one fold of a k-fold run", "fold", "model", _itself, _none, _SAVE_MODEL, ("metrics",), True),
    RunKind("final", "kfold", "a k-fold run's final model", "final model", "model", _itself, _none, _SAVE_MODEL,
            ("metrics",), True),
)}


def kind_of(info: dict) -> RunKind:
    """The kind of a run from its status record (a fold, a final model or a trial is run-like: train)."""
    return KINDS.get(info.get("kind"), KINDS["train"])


def why_no_model(info: dict) -> str:
    """Why a run holds no model of its own, and what would make one."""
    dropped = info.get("model_dropped_because")
    if dropped:
        return (f"a sweep trial whose model was not kept ({dropped}); evaluate the best trial (SWEEP:best), or set "
                f"sweep.keep: all")
    return kind_of(info).no_model


def models_of(path: Path, info: dict) -> list[Path]:
    """The folders whose models stand for the run: its own model, else the stand-ins (a k-fold run's
    fold models); a UserError saying what makes one when there are none."""
    kind = kind_of(info)
    folder = kind.model_folder(path)
    if artifacts.has_model(folder):
        return [folder]
    others = kind.other_models(path)
    if others:
        return others
    raise UserError(f"{kind.short} {path.name} kept no model: it has no {kind.model_noun} ({why_no_model(info)})")


def the_model(path: Path, info: dict, use: str = "use") -> Path:
    """The one folder whose model stands for the run (export, predict): stand-ins are named, not chosen."""
    kind = kind_of(info)
    folder = kind.model_folder(path)
    if artifacts.has_model(folder):
        return folder
    others = kind.other_models(path)
    hint = f"; to {use} one of its other models, name its folder: {others[0]}" if others else ""
    raise UserError(f"{kind.short} {path.name} has no {kind.model_noun} to {use} ({why_no_model(info)}){hint}")
