"""`dlrun validate`: the spec checked as far as it can be without the whole data (`checked_spec`),
and with --build the data loaded and the model built and compiled exactly as training would, so
shape errors surface (as located spec errors) before a run is started."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def checked_spec(config: Path, sets: list[str]) -> LoadedSpec:
    """`dlrun validate` without --build: the spec loaded and checked as far as it can be without
    reading all the data — its sweep section, and the targets against the data's first rows."""
    from dlrun.data.peek import check_targets_against_data
    from dlrun.spec import load_spec

    loaded = check_targets_against_data(load_spec(config, sets))
    if loaded.spec.sweep is not None:
        from dlrun.spec.sweep_checks import check_sweep

        check_sweep(loaded, sets)
    return loaded


def check_build(loaded: LoadedSpec) -> BuildCheck:
    prepared = prepare(loaded)
    model = build_compiled(prepared).model
    return BuildCheck(prepared.spec.name, model_summary(model), prepared.splits.sizes(),
                      {head.name: head.loss for head in prepared.heads})
