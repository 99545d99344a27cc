"""F1 and IoU metrics made to fit each output head, for `metrics: [f1_score, iou, mean_iou]`.

Keras's F1Score wants one-hot labels and its IoU metrics the number of classes; dlrun feeds a
multiclass head integer codes (sparse_categorical_crossentropy, softmax), a binary one a 0/1 column
(binary_crossentropy, one sigmoid unit), a multilabel one 0/1 columns, and one-hot rows only for a
categorical loss (data/targets.py encode_for_loss). So the labels' form is read off the head's loss
and its number of units, and each name becomes a metric object configured for it:

    f1_score (F1Score)   macro F1 over the classes (binary, one unit: the positive class's F1;
                         multilabel: the mean over the labels, each thresholded at 0.5)
    iou (IoU)            binary and multilabel: IoU of the positive class; multiclass: the mean over classes
    mean_iou (MeanIoU)   the mean IoU over all classes (binary: over 0 and 1)

Imports Keras: only the training stage imports this module.
"""

from __future__ import annotations

import keras

from dlrun.data.targets import BINARY_COLUMN_LOSSES, ONE_HOT_LOSSES
from dlrun.spec.catalog import HEAD_METRICS

THRESHOLD = 0.5  # a sigmoid unit's probability above which it says yes
SPARSE_LOSSES = ("sparse_categorical_crossentropy", "sparse_categorical_focal_crossentropy")
CLASS_LOSSES = (*ONE_HOT_LOSSES, *BINARY_COLUMN_LOSSES, *SPARSE_LOSSES, "hinge", "squared_hinge")


@keras.saving.register_keras_serializable(package="dlrun")
class HeadF1Score(keras.metrics.F1Score):
    """Keras's F1Score for labels as dlrun feeds them: `labels` sparse (class codes, one-hot here),
    column (0/1 columns, one per unit) or one_hot (as Keras wants them)."""

    def __init__(self, labels: str = "one_hot", **kwargs):
        super().__init__(**kwargs)
        self.labels = labels

    def update_state(self, y_true, y_pred, sample_weight=None):
        units = y_pred.shape[-1]
        if self.labels == "sparse":
            y_true = keras.ops.one_hot(keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,)), units)
        elif self.labels == "column":
            y_true = keras.ops.reshape(y_true, (-1, units))
        return super().update_state(y_true, y_pred, sample_weight)

    def get_config(self) -> dict:
        return {**super().get_config(), "labels": self.labels}


def label_form(loss: str | None, units: int) -> str:
    """How a head's labels arrive: one_hot (a categorical loss), column (0/1 per sigmoid unit) or sparse (codes)."""
    if loss in ONE_HOT_LOSSES:
        return "one_hot"
    if units == 1 or loss in BINARY_COLUMN_LOSSES:
        return "column"
    return "sparse"


def head_metric(name: str, loss: str | None, units: int):
    """The metric object `name` (a HEAD_METRICS name) for a head with this loss and number of output units."""
    kind, form = HEAD_METRICS[name], label_form(loss, units)
    if kind == "f1_score":
        threshold = THRESHOLD if form == "column" else None  # None: the arg-max class counts as predicted
        return HeadF1Score(labels=form, average="macro", threshold=threshold, name="f1_score")
    if form == "column":
        return keras.metrics.BinaryIoU(target_class_ids=[1] if kind == "iou" else [0, 1], threshold=THRESHOLD,
                                       name=kind)
    classes = list(range(units))
    positive = [1] if kind == "iou" and units == 2 else classes  # a 2-unit binary head: its positive class
    return keras.metrics.IoU(num_classes=units, target_class_ids=positive, sparse_y_true=form == "sparse",
                             sparse_y_pred=False, name=kind)


def head_metric_problem(name: str, loss: str | None) -> str | None:
    """Why `name` cannot score a head with this loss (a regression loss), else None. A custom loss is
    taken at its word: its labels' form is read off the units."""
    from dlrun.spec.catalog import is_known

    if loss is None or loss in CLASS_LOSSES or not is_known("loss", loss):
        return None
    return (f"{name} scores classes, but this output's loss {loss} is a regression loss; use mae, mse or "
            f"another regression metric")


def head_metric_problems(spec, heads: list) -> list[tuple[tuple, str]]:
    """(spec path, message) for each F1 or IoU metric named on a head that scores no classes."""
    found = []
    for index, head in enumerate(heads):
        base = ("model", "outputs", index) if spec.model.is_graph else ()
        for position, name in enumerate(head.metrics):
            problem = head_metric_problem(name, head.loss) if name in HEAD_METRICS else None
            if problem:
                found.append(((*base, "metrics", position), problem))
    return found
