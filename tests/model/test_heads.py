"""Output heads against the task: defaults filled in when left out, mismatches reported with a path."""

from __future__ import annotations

import pytest

from dlrun.data.targets import TargetEncoder
from dlrun.errors import SpecError
from dlrun.model.heads import check_head, find_heads, resolve_for_data, with_defaults
from dlrun.protocols.stages import prepare
from dlrun.spec.load import load_spec

BINARY = TargetEncoder("y", "binary", [0, 1])
MULTI = TargetEncoder("y", "multiclass", [0, 1, 2])
REGRESSION = TargetEncoder("y", "regression")


def sequential(*layers, **top) -> dict:
    return {"data": {"source": "csv:x.csv", "target": "y"}, "model": {"layers": list(layers)}, **top}


def resolve(data: dict, *targets: TargetEncoder):
    return resolve_for_data(data, {t.name: t for t in targets})


def messages(found) -> dict:
    return {path: message for path, message in found}


# ---- defaults ------------------------------------------------------------------------------------

def test_binary_head_gets_sigmoid_binary_crossentropy_and_accuracy():
    data, found = resolve(sequential({"Dense": {"units": 8, "activation": "relu"}}, {"Dense": {"units": 1}}), BINARY)
    assert found == []
    assert data["model"]["layers"][1]["Dense"]["activation"] == "sigmoid"
    assert data["loss"] == "binary_crossentropy"
    assert data["metrics"] == ["accuracy"]


def test_multiclass_head_gets_softmax_and_sparse_categorical_crossentropy():
    data, found = resolve(sequential({"Dense": {"units": 3}}), MULTI)
    assert found == []
    assert data["model"]["layers"][0]["Dense"]["activation"] == "softmax"
    assert data["loss"] == "sparse_categorical_crossentropy"
    assert data["metrics"] == ["accuracy"]


def test_regression_head_gets_linear_mse_and_mae():
    data, found = resolve(sequential({"Dense": {"units": 1}}), REGRESSION)
    assert found == []
    assert data["model"]["layers"][0]["Dense"]["activation"] == "linear"
    assert data["loss"] == "mse"
    assert data["metrics"] == ["mae"]


def test_two_unit_binary_head_gets_softmax_and_sparse_categorical_crossentropy():
    data, found = resolve(sequential({"Dense": {"units": 2}}), BINARY)
    assert found == []
    assert data["model"]["layers"][0]["Dense"]["activation"] == "softmax"
    assert data["loss"] == "sparse_categorical_crossentropy"


def test_given_loss_metrics_and_activation_are_kept():
    raw = sequential({"Dense": {"units": 3, "activation": "softmax"}}, loss="categorical_crossentropy",
                     metrics=["accuracy", "auc"])
    data, found = resolve(raw, MULTI)
    assert found == []
    assert data["loss"] == "categorical_crossentropy"
    assert data["metrics"] == ["accuracy", "auc"]


def test_resolving_does_not_change_the_raw_data():
    raw = sequential({"Dense": {"units": 1}})
    resolve(raw, BINARY)
    assert raw == sequential({"Dense": {"units": 1}})


def test_dropout_after_the_output_layer_is_looked_through():
    data, found = resolve(sequential({"Dense": {"units": 1}}, {"Dropout": {"rate": 0.1}}), BINARY)
    assert found == []
    assert data["model"]["layers"][0]["Dense"]["activation"] == "sigmoid"


def test_activation_layer_after_the_output_layer_counts_as_its_activation():
    _, found = resolve(sequential({"Dense": {"units": 3}}, {"Activation": {"activation": "softmax"}}), MULTI)
    assert found == []
    _, found = resolve(sequential({"Dense": {"units": 3}}, {"Activation": {"activation": "relu"}}), MULTI)
    assert list(messages(found)) == [("model", "layers", 1, "Activation", "activation")]


# ---- checking changes nothing; filling in defaults is its own step --------------------------------

def _only_head(data: dict, target: TargetEncoder):
    (head,), _ = find_heads(data, {target.name: target})
    return head


def test_check_head_reports_without_changing_the_head_or_its_layer():
    data = sequential({"Dense": {"units": 3}})
    head = _only_head(data, MULTI)
    before = (dict(head.args), head.activation, head.loss)
    assert check_head(with_defaults(head)) == []
    assert (dict(head.args), head.activation, head.loss) == before
    assert data == sequential({"Dense": {"units": 3}})


def test_with_defaults_returns_a_filled_in_copy():
    head = _only_head(sequential({"Dense": {"units": 1}}), BINARY)
    filled = with_defaults(head)
    assert (filled.activation, filled.loss) == ("sigmoid", "binary_crossentropy")
    assert (head.activation, head.loss) == (None, None)


def test_with_defaults_keeps_what_the_spec_gives():
    head = _only_head(sequential({"Dense": {"units": 1, "activation": "softmax"}}, loss="mse"), BINARY)
    filled = with_defaults(head)
    assert (filled.activation, filled.loss) == ("softmax", "mse")


# ---- mismatches ----------------------------------------------------------------------------------

def test_wrong_units_for_multiclass_names_the_units_and_what_would_fit():
    _, found = resolve(sequential({"Dense": {"units": 8}}, {"Dense": {"units": 4, "activation": "softmax"}}), MULTI)
    found = messages(found)
    assert list(found) == [("model", "layers", 1, "Dense", "units")]
    message = found[("model", "layers", 1, "Dense", "units")]
    assert "multiclass with 3 classes" in message
    assert "4 units" in message
    assert "Dense(units: 3, activation: softmax)" in message and "sparse_categorical_crossentropy" in message


def test_softmax_on_a_one_unit_binary_head_is_reported_with_sigmoid_as_the_fit():
    _, found = resolve(sequential({"Dense": {"units": 1, "activation": "softmax"}}), BINARY)
    found = messages(found)
    assert list(found) == [("model", "layers", 0, "Dense", "activation")]
    message = found[("model", "layers", 0, "Dense", "activation")]
    assert "needs activation sigmoid, not softmax" in message
    assert "Dense(units: 1, activation: sigmoid)" in message


def test_sigmoid_on_a_regression_head_is_reported_with_linear_as_the_fit():
    _, found = resolve(sequential({"Dense": {"units": 1, "activation": "sigmoid"}}), REGRESSION)
    found = messages(found)
    assert list(found) == [("model", "layers", 0, "Dense", "activation")]
    assert "activation sigmoid squashes the output; use linear" in found[("model", "layers", 0, "Dense", "activation")]


@pytest.mark.parametrize("loss", ["binary_crossentropy", "sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_crossentropy_loss_for_regression_is_reported_at_loss(loss):
    _, found = resolve(sequential({"Dense": {"units": 1}}, loss=loss), REGRESSION)
    found = messages(found)
    assert list(found) == [("loss",)]
    assert f"{loss} is a classification loss; use mse, mae or huber" in found[("loss",)]


def test_regression_loss_for_binary_head_is_reported_at_loss():
    _, found = resolve(sequential({"Dense": {"units": 1, "activation": "sigmoid"}}, loss="mse"), BINARY)
    assert list(messages(found)) == [("loss",)]
    assert "use binary_crossentropy" in messages(found)[("loss",)]


def test_several_units_for_regression_is_reported():
    _, found = resolve(sequential({"Dense": {"units": 3}}), REGRESSION)
    assert ("model", "layers", 0, "Dense", "units") in messages(found)


def test_three_units_for_binary_is_reported():
    _, found = resolve(sequential({"Dense": {"units": 3, "activation": "sigmoid"}}), BINARY)
    found = messages(found)
    assert list(found) == [("model", "layers", 0, "Dense", "units")]
    assert "binary" in found[("model", "layers", 0, "Dense", "units")]
    assert "Dense(units: 1, activation: sigmoid)" in found[("model", "layers", 0, "Dense", "units")]


def test_sequential_model_with_two_targets_is_reported():
    _, found = resolve(sequential({"Dense": {"units": 1}}), TargetEncoder("a", "binary", [0, 1]),
                       TargetEncoder("b", "regression"))
    assert list(messages(found)) == [("model", "layers")]


# ---- graph models --------------------------------------------------------------------------------

def graph(cls_layer: dict, reg_layer: dict, **outputs_extra) -> dict:
    return {
        "data": {"source": "csv:x.csv", "target": ["kind", "price"]},
        "model": {
            "inputs": {"x": {}},
            "nodes": [
                {"name": "hidden", "inputs": ["x"], "Dense": {"units": 8, "activation": "relu"}},
                {"name": "kind_out", "inputs": ["hidden"], **cls_layer},
                {"name": "price_out", "inputs": ["hidden"], **reg_layer},
            ],
            "outputs": [{"node": "kind_out", "target": "kind", **outputs_extra},
                        {"node": "price_out", "target": "price"}],
        },
    }


GRAPH_TARGETS = (TargetEncoder("kind", "multiclass", ["a", "b", "c"]), TargetEncoder("price", "regression"))


def test_graph_outputs_each_get_the_defaults_of_their_own_task():
    data, found = resolve(graph({"Dense": {"units": 3}}, {"Dense": {"units": 1}}), *GRAPH_TARGETS)
    assert found == []
    nodes = data["model"]["nodes"]
    assert nodes[1]["Dense"]["activation"] == "softmax"
    assert nodes[2]["Dense"]["activation"] == "linear"
    kind, price = data["model"]["outputs"]
    assert (kind["loss"], kind["metrics"]) == ("sparse_categorical_crossentropy", ["accuracy"])
    assert (price["loss"], price["metrics"]) == ("mse", ["mae"])
    assert "loss" not in data


def test_graph_mismatches_are_reported_per_output_with_their_paths():
    raw = graph({"Dense": {"units": 2}}, {"Dense": {"units": 1, "activation": "sigmoid"}}, loss="mse")
    _, found = resolve(raw, *GRAPH_TARGETS)
    found = messages(found)
    assert set(found) == {("model", "nodes", 1, "Dense", "units"),
                          ("model", "outputs", 0, "loss"),
                          ("model", "nodes", 2, "Dense", "activation")}
    assert "target 'kind' is multiclass with 3 classes" in found[("model", "nodes", 1, "Dense", "units")]
    assert "target 'price' is regression" in found[("model", "nodes", 2, "Dense", "activation")]


def test_graph_output_without_target_takes_the_only_target():
    raw = graph({"Dense": {"units": 1}}, {"Dense": {"units": 1}})
    raw["model"]["outputs"] = [{"node": "price_out"}]
    data, found = resolve(raw, TargetEncoder("price", "regression"))
    assert found == []
    assert data["model"]["outputs"][0]["target"] == "price"


def test_graph_output_naming_an_unknown_target_is_reported():
    raw = graph({"Dense": {"units": 3}}, {"Dense": {"units": 1}})
    raw["model"]["outputs"][1]["target"] = "prize"
    _, found = resolve(raw, *GRAPH_TARGETS)
    assert ("model", "outputs", 1, "target") in messages(found)


def test_graph_output_without_target_among_several_targets_is_reported():
    raw = graph({"Dense": {"units": 3}}, {"Dense": {"units": 1}})
    del raw["model"]["outputs"][0]["target"]
    _, found = resolve(raw, *GRAPH_TARGETS)
    assert ("model", "outputs", 0) in messages(found)


def test_graph_output_on_a_shared_node_is_checked_against_the_shared_layer():
    raw = graph({"Dense": {"units": 3}}, {"Dense": {"units": 1}})
    raw["model"]["nodes"].append({"name": "kind_again", "inputs": ["hidden"], "shared": "kind_out"})
    raw["model"]["outputs"][0]["node"] = "kind_again"
    data, found = resolve(raw, *GRAPH_TARGETS)
    assert found == []
    assert data["model"]["outputs"][0]["loss"] == "sparse_categorical_crossentropy"


# ---- through prepare(), with the place in the spec file -----------------------------------------

def test_three_unit_output_for_breast_cancer_is_a_spec_error_at_the_units_line(write_spec):
    path = write_spec("""
        name: bc
        data:
          source: sklearn:breast_cancer
        model:
          layers:
            - Dense: {units: 16, activation: relu}
            - Dense:
                units: 3
                activation: sigmoid
    """)
    with pytest.raises(SpecError) as err:
        prepare(load_spec(path))
    text = str(err.value)
    assert f"{path}:8:" in text                  # `units: 3` is on line 8
    assert "model.layers[1].Dense.units" in text
    assert "binary with 2 classes" in text and "3 units" in text
    assert "Dense(units: 1, activation: sigmoid)" in text
    (problem,) = err.value.problems
    assert (problem.line, problem.col) == (8, 9)


def test_fitting_spec_passes_prepare_with_defaults_filled(write_spec):
    path = write_spec("""
        data:
          source: sklearn:breast_cancer
        model:
          layers:
            - Dense: {units: 1}
    """)
    prepared = prepare(load_spec(path))
    assert prepared.spec.loss == "binary_crossentropy"
    assert prepared.spec.metrics == ["accuracy"]
    assert prepared.heads[0].loss == "binary_crossentropy"
