"""`dlrun validate --build`: load the data, build the Keras model, and summarise it."""

from __future__ import annotations

import io

from rich.panel import Panel

from dlrun.spec.load import LoadedSpec


def build_summary(loaded: LoadedSpec) -> Panel:
    """Build and compile the model exactly as training would (shape errors become located spec errors)."""
    from dlrun.experiment import build_compiled
    from dlrun.prepare import prepare

    prepared = prepare(loaded)
    spec = prepared.spec
    _, model = build_compiled(prepared)
    buffer = io.StringIO()
    model.summary(print_fn=lambda line, **_: buffer.write(line + "\n"), line_length=88)
    heads = ", ".join(f"{p['name']}: {p['loss']}" for p in prepared.plan)
    text = (f"{buffer.getvalue()}\nparameters: {model.count_params():,}   rows: {prepared.dataset.n_rows} "
            f"(train {len(prepared.splits.train)}, validation {len(prepared.splits.validation)}, "
            f"test {len(prepared.splits.test)})   loss: {heads}")
    return Panel(text, title=f"[bold]{spec.name}[/] builds", expand=False)
