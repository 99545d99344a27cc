"""Where a freshly built model's outputs start: the scale of each scaled regression target, and
each output's bias at the training targets' level.

Keras starts every bias at zero. A classifier then begins by predicting equal classes and a
regression by predicting 0, so the first epochs are spent moving the output to where the targets
are (the Keras guide on imbalanced data gives the fix: start the bias there). Here, from the rows
the fit sees (weighted by training.class_weight):

    regression, linear output    the targets' mean (in scaled units when data.target_scale applies)
    regression, sigmoid output   the logit of that mean
    binary, 1 sigmoid unit       log(p / (1 - p)) of the positive class's share
    softmax (multiclass, binary) log of each class's share
    multilabel, sigmoid units    log(p / (1 - p)) of each label's share

A `bias_initializer` written on the output layer is the user's choice and is kept;
`training.init_output_bias: false` keeps Keras's zeros. The biases are set for a fresh or reused
model only: a resumed or warm-started model keeps the values it was given (a warm-started one
still gets this fit's target scales).
"""

from __future__ import annotations

import numpy as np

from dlrun.data.prepare import Prepared
from dlrun.model.build import UNITS_LAYER
from dlrun.model.heads import find_heads

PASS_THROUGH = {"Activation", "Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Flatten", "Reshape"}
SMALLEST_SHARE = 1e-4   # a class absent from the fit rows still gets a finite bias


def init_outputs(model, prepared: Prepared, biases: bool = True) -> None:
    """Set every scaled output's units layer, then (unless switched off, or `biases` is false: a
    warm-started model keeps the biases it learned) every output's bias."""
    written = {head.output: head for head in find_heads(prepared.loaded.data, prepared.targets)[0]}
    for head, tensor in zip(prepared.heads, model.outputs):
        layer, node = _producer(tensor)
        scale = prepared.target_scales.get(head.target)
        if scale is not None and layer is not None and layer.name in (head.name, UNITS_LAYER):
            units = layer.units
            layer.set_weights([np.eye(units, dtype=np.float32) * np.float32(scale.scale),
                               np.full(units, scale.offset, dtype=np.float32)])
            layer, node = _producer(layer._inbound_nodes[node].input_tensors[0])
        spec_head = written.get(head.name)
        if not biases or not prepared.spec.training.init_output_bias or spec_head is None \
                or "bias_initializer" in spec_head.args:
            continue
        dense = _biased_layer(layer, node)
        bias = output_bias(prepared, head, spec_head.activation)
        if dense is not None and bias is not None and bias.size == 1:  # one level for every step of a forecast
            bias = np.full(tuple(dense.bias.shape), bias.item())
        if dense is not None and bias is not None and tuple(dense.bias.shape) == bias.shape:
            dense.bias.assign(bias.astype(np.float32))


def _producer(tensor):
    """(layer, node index) that produced a Keras tensor; (None, None) for a model input."""
    history = getattr(tensor, "_keras_history", None)
    return (None, None) if history is None else (history.operation, history.node_index)


def _biased_layer(layer, node):
    """The layer with units and a bias that an output comes from, through layers that pass values on."""
    while layer is not None and type(layer).__name__ in PASS_THROUGH:
        inputs = layer._inbound_nodes[node].input_tensors
        layer, node = _producer(inputs[0]) if len(inputs) == 1 else (None, None)
    if layer is None or not hasattr(layer, "units") or getattr(layer, "bias", None) is None:
        return None
    return layer


def output_bias(prepared: Prepared, head, activation) -> np.ndarray | None:
    """The starting bias of one output from the fit rows' targets (see the module docstring);
    None where no rule fits the output (a relu regression, a custom loss's own encoding)."""
    encoder = prepared.targets[head.target]
    values = np.asarray(prepared.dataset.targets[head.target])[prepared.fit_rows]
    if encoder.task == "regression":
        scale = prepared.target_scales.get(head.target)
        mean = float(np.mean(scale.to_scaled(values) if scale else values.astype(np.float64)))
        if activation in (None, "linear"):
            return np.array([mean])
        return _logit(np.array([mean])) if activation == "sigmoid" and 0 < mean < 1 else None
    codes = encoder.encode(values)
    weights = _row_weights(codes, prepared.class_weight)
    if encoder.task == "multilabel":
        return _logit(np.average(codes, axis=0, weights=weights))
    shares = np.bincount(codes, weights=weights, minlength=encoder.n_classes) / weights.sum()
    if activation == "sigmoid":
        return _logit(shares[1:2])
    return np.log(np.clip(shares, SMALLEST_SHARE, 1.0)) if activation == "softmax" else None


def _row_weights(codes: np.ndarray, class_weight: dict | None) -> np.ndarray:
    if not class_weight or codes.ndim != 1:
        return np.ones(len(codes))
    return np.array([class_weight.get(int(code), 1.0) for code in codes], dtype=np.float64)


def _logit(shares: np.ndarray) -> np.ndarray:
    shares = np.clip(shares, SMALLEST_SHARE, 1 - SMALLEST_SHARE)
    return np.log(shares / (1 - shares))
