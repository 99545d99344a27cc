"""`dlrun validate --build`: load the data, build the Keras model, and summarise it."""

from __future__ import annotations

import io

from rich.panel import Panel

from dlrun.spec.load import LoadedSpec


def build_summary(loaded: LoadedSpec) -> Panel:
    """Build the model exactly as training would (shape errors become located spec errors)."""
    from dlrun.model.build import build_or_explain
    from dlrun.prepare import prepare
    from dlrun.train.fit import compile_model
    from dlrun.train.runtime import setup_runtime

    prepared = prepare(loaded)
    spec = prepared.spec
    setup_runtime(spec.training.model_copy(update={"device": "cpu"}), spec.seed)
    model = build_or_explain(spec.model, prepared.infos, spec.name, prepared.loaded.locate, spec.imports,
                             prepared.loaded.base_dir)
    compile_model(model, spec, prepared.plan, prepared.loaded.locate, len(prepared.splits.train))
    buffer = io.StringIO()
    model.summary(print_fn=lambda line, **_: buffer.write(line + "\n"), line_length=88)
    heads = ", ".join(f"{p['name']}: {p['loss']}" for p in prepared.plan)
    text = (f"{buffer.getvalue()}\nparameters: {model.count_params():,}   rows: {prepared.dataset.n_rows} "
            f"(train {len(prepared.splits.train)}, validation {len(prepared.splits.validation)}, "
            f"test {len(prepared.splits.test)})   loss: {heads}")
    return Panel(text, title=f"[bold]{spec.name}[/] builds", expand=False)
