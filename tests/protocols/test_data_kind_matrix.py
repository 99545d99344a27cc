"""Every kind of data under every protocol (issue 24): an in-memory CSV table, the same table streamed
(`data.streaming: true`), a folder of images and a folder of text files, each trained for 1 epoch
under holdout, k-fold (2 stratified folds) and a 2-trial holdout sweep, on tiny data written here.

Backends: streamed tables and image folders are fed through tf.data and refused on JAX by the spec
checks, so they run on TensorFlow only; tables and text run on both (the JAX cells in a JAX
process per data kind, shared by its cells: this process runs Keras on TensorFlow).
"""

from __future__ import annotations

import pytest

from tests.support import BackendProcess, config_tool, run_protocol, trained_folders, write_iris_rows

make_news, make_shapes = config_tool("make_news"), config_tool("make_shapes")

KINDS = {  # name: (data section, layers before the Dense(4) hidden layer, backends)
    "table": ('{source: "csv:rows.csv", target: species, features: [f1, f2, f3, f4]}', "", ("tensorflow", "jax")),
    "streamed": ('{source: "csv:rows.csv", target: species, features: [f1, f2, f3, f4], streaming: true}', "",
                 ("tensorflow",)),
    "images": ('{source: "images:shapes", scale: standard}', "    - Flatten: {}\n", ("tensorflow",)),
    "text": ('{source: "text:news", vectorize: tf_idf, num_words: 60}', "", ("tensorflow", "jax")),
}
PROTOCOLS = {  # name: (command, split, sweep section, trained folders)
    "holdout": ("train", "{test: 0.2, validation: 0.2}", "", 1),
    "kfold": ("kfold", "{protocol: stratified_kfold, folds: 2, validation: 0.2}", "", 2),
    "sweep_holdout": ("sweep", "{test: 0.2, validation: 0.2}",
                      "sweep: {trials: 2, seed: 1, pruner: none, plots: false, "
                      "params: {optimizer.learning_rate: {loguniform: [0.001, 0.1]}}}\n", 2),
}
CELLS = [pytest.param(kind, backend, protocol, marks=[pytest.mark.slow] if backend == "jax" else [],
                      id=f"{kind}-{backend}-{protocol}")
         for kind, (_, _, backends) in KINDS.items() for backend in backends for protocol in PROTOCOLS]


def write_data(kind: str, folder) -> None:
    if kind in ("table", "streamed"):
        write_iris_rows(folder / "rows.csv")
    elif kind == "images":
        make_shapes.write_shapes(folder / "shapes", per_class=10, size=16, classes=3, seed=1)
    else:
        make_news.write_news(folder / "news", per_class=10, seed=1)


def spec_text(kind: str, backend: str, protocol: str) -> str:
    data, first, _ = KINDS[kind]
    _, split, sweep, _ = PROTOCOLS[protocol]
    return f"""name: kinds
seed: 3
data: {data}
split: {split}
model:
  layers:
{first}    - Dense: {{units: 4, activation: relu}}
    - Dense: {{units: 3, activation: softmax}}
optimizer: {{name: adam, learning_rate: 0.01}}
training: {{epochs: 1, batch_size: 16, backend: {backend}}}
output: {{plots: false, save_model: false}}
{sweep}"""


@pytest.fixture(scope="module")
def jax_process():
    """jax_process(kind): the JAX process of one data kind, started on first use. One per kind, not
    one for all: in a process that trained on JAX before, a text run fails (seed_everything blocks
    TensorFlow while Keras seeds, and Keras then holds TensorFlow as unavailable for TextVectorization),
    a leak between cells that the order of the cells would decide."""
    processes: dict[str, BackendProcess] = {}
    yield lambda kind: processes[kind] if kind in processes else processes.setdefault(kind, BackendProcess())
    for process in processes.values():
        process.close()


@pytest.mark.parametrize("kind, backend, protocol", CELLS)
def test_every_data_kind_trains_under_every_protocol(kind, backend, protocol, tmp_path, request):
    write_data(kind, tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text(kind, backend, protocol), encoding="utf-8")
    command, trained = PROTOCOLS[protocol][0], PROTOCOLS[protocol][3]
    if backend == "jax":
        request.getfixturevalue("jax_process")(kind).run(command, spec, tmp_path / "runs")
    else:
        run_protocol(command, str(spec), str(tmp_path / "runs"))
    assert len(trained_folders(tmp_path / "runs")) == trained
