"""`dlrun validate --build`: load the data and build and compile the model exactly as training
would, so shape errors surface (as located spec errors) before a run is started."""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.protocols.stages import build_compiled, prepare
from dlrun.report.model_summary import ModelSummary, model_summary
from dlrun.spec.load import LoadedSpec


@dataclass
class BuildCheck:
    name: str
    model: ModelSummary      # each layer's name, type, output shape and parameters; the totals
    split: dict[str, int]    # rows per part
    losses: dict[str, str]   # output name -> loss

    @property
    def parameters(self) -> int:
        return self.model.total


def check_build(loaded: LoadedSpec) -> BuildCheck:
    prepared = prepare(loaded)
    model = build_compiled(prepared).model
    return BuildCheck(prepared.spec.name, model_summary(model), prepared.splits.sizes(),
                      {head.name: head.loss for head in prepared.heads})
