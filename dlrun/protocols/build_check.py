"""`dlrun validate --build`: load the data and build and compile the model exactly as training
would, so shape errors surface (as located spec errors) before a run is started."""

from __future__ import annotations

import io
from dataclasses import dataclass

from dlrun.protocols.stages import build_compiled, prepare
from dlrun.spec.load import LoadedSpec


@dataclass
class BuildCheck:
    name: str
    model_summary: str       # Keras's own summary table
    parameters: int
    split: dict[str, int]    # rows per part
    losses: dict[str, str]   # output name -> loss


def check_build(loaded: LoadedSpec) -> BuildCheck:
    prepared = prepare(loaded)
    model = build_compiled(prepared).model
    buffer = io.StringIO()
    model.summary(print_fn=lambda line, **_: buffer.write(line + "\n"), line_length=88)
    return BuildCheck(prepared.spec.name, buffer.getvalue(), model.count_params(), prepared.splits.sizes(),
                      {head.name: head.loss for head in prepared.heads})
