"""Compile a built model for the spec and fit it."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlrun.data.targets import TargetEncoder
from dlrun.errors import SpecError
from dlrun.spec.catalog import catalog
from dlrun.spec.models import ExperimentSpec


def make_optimizer(spec: ExperimentSpec):
    import keras

    opt = spec.optimizer
    cls = getattr(keras.optimizers, catalog()["optimizers"][opt.name.lower()]["class"])
    kwargs: dict[str, Any] = {"learning_rate": opt.learning_rate, **opt.extra_args()}
    if opt.clipnorm is not None:
        kwargs["clipnorm"] = opt.clipnorm
    if opt.clipvalue is not None:
        kwargs["clipvalue"] = opt.clipvalue
    return cls(**kwargs)


def output_plan(spec: ExperimentSpec, targets: dict[str, TargetEncoder]) -> list[dict]:
    """One entry per model output: its target, loss, metrics and loss weight, in model order."""
    if not spec.model.is_graph:
        (target,) = targets.values()
        return [{"name": "output", "target": target.name, "loss": spec.loss, "metrics": spec.metrics or [],
                 "loss_weight": 1.0}]
    return [{"name": o.node, "target": o.target, "loss": o.loss, "metrics": o.metrics or [],
             "loss_weight": o.loss_weight} for o in spec.model.outputs]


def encode_targets(plan: list[dict], targets: dict[str, TargetEncoder], raw: dict[str, np.ndarray]):
    """Target arrays in model output order (one-hot where the loss is categorical_crossentropy)."""
    out = []
    for entry in plan:
        encoder = targets[entry["target"]]
        y = encoder.encode(raw[entry["target"]])
        if entry["loss"] in ("categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge", "kl_divergence", "kld"):
            y = np.eye(encoder.n_classes, dtype=np.float32)[y]
        elif encoder.task == "binary" and entry["loss"] in ("binary_crossentropy", "binary_focal_crossentropy"):
            y = y.astype(np.float32)[:, None]
        elif encoder.task == "regression":
            y = y[:, None]
        out.append(y)
    return out[0] if len(out) == 1 else out


def compile_model(model, spec: ExperimentSpec, plan: list[dict], locate, n_train_rows: int | None = None) -> None:
    try:
        optimizer = make_optimizer(spec)
    except (TypeError, ValueError) as exc:
        from dlrun.errors import Problem

        loc = locate(("optimizer",))
        raise SpecError([Problem(loc.file, loc.line, loc.col, "optimizer",
                                 f"the optimizer cannot be made with these arguments: {exc}")]) from None
    if len(plan) == 1:
        loss, metrics, weights = plan[0]["loss"], plan[0]["metrics"], None
    else:
        loss = [p["loss"] for p in plan]
        metrics = [p["metrics"] for p in plan]
        weights = [p["loss_weight"] for p in plan]
    steps = 1
    if spec.training.fast_input and n_train_rows:
        from dlrun.train.pipeline import steps_per_execution

        steps = steps_per_execution(n_train_rows, spec.training.batch_size)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, loss_weights=weights, steps_per_execution=steps,
                  jit_compile=False)


EVAL_BATCH = 1024  # evaluation batches do not change results, only speed


def predict_outputs(model, inputs) -> list:
    """Raw model outputs, one array per output (training, evaluate and predict use the same batches)."""
    raw = model.predict(inputs, verbose=0, batch_size=EVAL_BATCH)
    return raw if isinstance(raw, list) else [raw]


def fit(model, spec: ExperimentSpec, x_train, y_train, validation, callbacks: list, start_epoch: int = 0):
    """model.fit with the spec's epochs, batch size and shuffling; returns the Keras History.

    With training.fast_input (the default) the arrays go through the tf.data pipeline of
    train/pipeline.py; otherwise straight into model.fit, as a hand-written script does.
    `start_epoch` > 0 continues a resumed run (epochs before it are already done).
    """
    training = spec.training
    if training.fast_input:
        import math

        from dlrun.train.pipeline import array_dataset, rows_of, training_dataset

        steps = math.ceil(rows_of(x_train) / training.batch_size)
        train_ds = training_dataset(x_train, y_train, training.batch_size, training.shuffle, spec.seed,
                                    training.epochs, start_epoch)
        val_ds = None if validation is None else array_dataset(*validation, max(EVAL_BATCH, training.batch_size))
        return model.fit(train_ds, validation_data=val_ds, epochs=training.epochs, initial_epoch=start_epoch,
                         steps_per_epoch=steps, callbacks=callbacks, verbose=0, shuffle=False)
    return model.fit(x_train, y_train, validation_data=validation, epochs=training.epochs, initial_epoch=start_epoch,
                     batch_size=training.batch_size, shuffle=training.shuffle, callbacks=callbacks, verbose=0)
