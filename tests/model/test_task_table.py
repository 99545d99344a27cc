"""The seeds' table of last-layer activation and loss per problem type, row by row: each row
trains from a spec on a tiny generated CSV; a sigmoid regression is accepted only for targets in [0, 1]."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.spec import load_spec


def table(rows: int = 90, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2))
    frame = pd.DataFrame(x, columns=["a", "b"])
    frame["bought"] = (x[:, 0] > 0).astype(int)
    frame["kind"] = np.array(["red", "green", "blue"])[np.digitize(x[:, 1], [-0.4, 0.4])]
    frame["amount"] = 3 * x[:, 0] - x[:, 1] + 10
    frame["share"] = 1 / (1 + np.exp(-x[:, 0]))          # in (0, 1)
    frame["first"] = (x[:, 0] > 0).astype(int)
    frame["second"] = (x[:, 1] > 0).astype(int)
    frame["labels"] = ["|".join(n for n, on in (("first", f), ("second", s)) if on)
                       for f, s in zip(frame["first"], frame["second"])]
    return frame


def spec(target: str, last: str, extra: str = "") -> str:
    return f"""
name: row
seed: 2
data: {{source: "csv:data.csv", target: {target}, features: [a, b]{extra}}}
model:
  layers:
    - Dense: {{units: 6, activation: relu}}
    - {last}
training: {{epochs: 1, batch_size: 16}}
"""


ROWS = {
    "binary": (spec("bought", "Dense: {units: 1, activation: sigmoid}"), "binary", "binary_crossentropy"),
    "multiclass one-hot": (spec("kind", "Dense: {units: 3, activation: softmax}") + "loss: categorical_crossentropy\n",
                           "multiclass", "categorical_crossentropy"),
    "multiclass sparse": (spec("kind", "Dense: {units: 3, activation: softmax}"), "multiclass",
                          "sparse_categorical_crossentropy"),
    "multilabel columns": (spec("[first, second]", "Dense: {units: 2, activation: sigmoid}"), "multilabel",
                           "binary_crossentropy"),
    "multilabel separator": (spec("labels", "Dense: {units: 2, activation: sigmoid}", ', label_separator: "|"'),
                             "multilabel", "binary_crossentropy"),
    "regression": (spec("amount", "Dense: {units: 1}"), "regression", "mse"),
    "regression in [0, 1]": (spec("share", "Dense: {units: 1, activation: sigmoid}") + "loss: mse\n",
                             "regression", "mse"),
}


def _train_row(text: str, folder) -> tuple[str, str, float]:
    from dlrun.protocols.holdout import train

    folder.mkdir()
    table().to_csv(folder / "data.csv", index=False)
    (folder / "spec.yaml").write_text(text, encoding="utf-8")
    result = train(load_spec(folder / "spec.yaml", [f"output.runs_dir={folder / 'runs'}"]))
    metrics = json.loads((result.run.path / "metrics.json").read_text())
    config = yaml.safe_load((result.run.path / "config.yaml").read_text())
    return list(metrics["task"].values())[0], config["loss"], result.history[-1]["loss"]


def test_every_row_of_the_task_table_trains(tmp_path):
    """One test over the whole table, so that it reads as the seeds' table does."""
    failed = {}
    for index, (row, (text, task, loss)) in enumerate(ROWS.items()):
        try:
            got_task, got_loss, final_loss = _train_row(text, tmp_path / f"row{index}")
        except Exception as exc:  # noqa: BLE001 - every row is reported, not only the first failure
            failed[row] = f"{type(exc).__name__}: {exc}"
            continue
        if (got_task, got_loss) != (task, loss) or not np.isfinite(final_loss):
            failed[row] = f"task {got_task}, loss {got_loss}, final loss {final_loss}"
    assert not failed, failed


def _validate(tmp_path, text: str, frame: pd.DataFrame, command: str = "validate"):
    frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
    args = ["validate", str(tmp_path / "spec.yaml"), "--build"] if command == "validate" else \
        ["train", str(tmp_path / "spec.yaml"), "--runs-dir", str(tmp_path / "runs")]
    return CliRunner().invoke(app, args, env={"COLUMNS": "200"})


@pytest.mark.parametrize("loss", ["mse", "binary_crossentropy"])
def test_a_sigmoid_regression_on_targets_in_the_unit_interval_is_accepted(loss, tmp_path):
    text = spec("share", "Dense: {units: 1, activation: sigmoid}") + f"loss: {loss}\n"
    result = _validate(tmp_path, text, table())
    assert result.exit_code == 0, result.output
    # the exception is for sigmoid only: other squashing activations and classification losses stay refused
    result = _validate(tmp_path, text.replace("sigmoid", "tanh"), table())
    assert result.exit_code == 2 and "activation tanh squashes the output" in result.output, result.output
    result = _validate(tmp_path, text.replace(f"loss: {loss}", "loss: hinge"), table())
    assert result.exit_code == 2 and "hinge is a classification loss" in result.output, result.output


@pytest.mark.parametrize("command", ["validate", "train"])
def test_a_sigmoid_regression_outside_the_unit_interval_names_the_values(command, tmp_path):
    frame = table()
    frame.loc[[3, 7], "share"] = [1.5, -0.25]
    text = spec("share", "Dense: {units: 1, activation: sigmoid}") + "loss: mse\n"
    result = _validate(tmp_path, text, frame, command)
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert "spec.yaml:8" in out  # located at the activation of the last layer
    assert "2 target value(s) fall outside it (min -0.25, max 1.5)" in out
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
