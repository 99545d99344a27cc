"""Compile a built model for the spec and fit it."""

from __future__ import annotations

from typing import Any

from dlrun.data.feature_data import EVAL_BATCH, feature_data
from dlrun.errors import SpecError
from dlrun.spec.catalog import HEAD_METRICS, catalog
from dlrun.spec.models import ExperimentSpec
from dlrun.spec.outputs import OutputHead


def make_optimizer(spec: ExperimentSpec):
    import keras

    from dlrun.model.imported import modules_named, optimizer_class
    from dlrun.train.step_schedules import step_schedule

    opt = spec.optimizer
    known = catalog()["optimizers"].get(opt.name.lower())
    # a Keras optimizer, else a subclass from the spec's imports: (checked at build: model/imported.py)
    cls = getattr(keras.optimizers, known["class"]) if known else optimizer_class(opt.name, modules_named(spec.imports))
    rate = step_schedule(opt)  # a schedule the optimizer evaluates every step, or None: the number
    kwargs: dict[str, Any] = {"learning_rate": opt.learning_rate if rate is None else rate, **opt.extra_args()}
    if opt.clipnorm is not None:
        kwargs["clipnorm"] = opt.clipnorm
    if opt.clipvalue is not None:
        kwargs["clipvalue"] = opt.clipvalue
    return cls(**kwargs)


def compile_model(model, spec: ExperimentSpec, heads: list[OutputHead], locate, n_train_rows: int | None = None,
                  custom: dict[tuple[str, str], Any] | None = None) -> None:
    """Compile for the heads; `custom` maps (kind, name) to the resolved custom losses and metrics."""
    from dlrun.errors import Problem
    from dlrun.model.custom import fresh
    from dlrun.spec.yamlsource import dotted
    from dlrun.train.head_metrics import head_metric, head_metric_problems

    custom = custom or {}

    def loss_of(head: OutputHead):
        return fresh(custom[("loss", head.loss)]) if ("loss", head.loss) in custom else head.loss

    units = [int(output.shape[-1]) for output in model.outputs]

    def metrics_of(index: int, head: OutputHead) -> list:  # f1_score, iou ...: configured for the head
        return [fresh(custom[("metric", m)]) if ("metric", m) in custom else
                head_metric(m, head.loss, units[index]) if m in HEAD_METRICS else m for m in head.metrics]

    found = head_metric_problems(spec, heads)
    if found:
        raise SpecError([Problem(loc.file, loc.line, loc.col, dotted(path), message)
                         for path, message in found for loc in [locate(path)]])

    try:
        optimizer = make_optimizer(spec)
    except (TypeError, ValueError) as exc:
        loc = locate(("optimizer",))
        raise SpecError([Problem(loc.file, loc.line, loc.col, "optimizer",
                                 f"the optimizer cannot be made with these arguments: {exc}")]) from None
    if len(heads) == 1:
        loss, metrics, weights = loss_of(heads[0]), metrics_of(0, heads[0]), None
    else:
        loss = [loss_of(h) for h in heads]
        metrics = [metrics_of(index, h) for index, h in enumerate(heads)]
        weights = [h.loss_weight for h in heads]
    from dlrun.train.pipeline import execution_steps

    steps = execution_steps(spec.training, n_train_rows)
    # TensorFlow: graph mode without XLA compiles faster for these models; JAX runs only compiled
    jit = spec.training.backend == "jax"
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, loss_weights=weights, steps_per_execution=steps,
                  jit_compile=jit)


def _held(validation):
    """Validation data as arrays Keras takes whole (windows gathered; everything else as it is)."""
    if validation is None:
        return None
    return feature_data(validation[0]).whole(), validation[1]


def _single(y):
    return y[0] if isinstance(y, (list, tuple)) else y


def fit(model, spec: ExperimentSpec, x_train, y_train, validation, callbacks: list, start_epoch: int = 0,
        class_weight: dict[int, float] | None = None, end_epoch: int | None = None):
    """model.fit with the spec's epochs, batch size and shuffling; returns the Keras History.

    With training.fast_input (the default) the arrays go through the batch stream of
    train/pipeline.py (tf.data on TensorFlow, NumPy batches on JAX); otherwise straight into
    model.fit, as a hand-written script does.
    `start_epoch` > 0 continues a resumed run (epochs before it are already done); `end_epoch` (default
    training.epochs) is where this fit stops: a fine-tuning phase runs from its first epoch to its last.
    `class_weight` (by class code) goes to Keras in both paths: for a tf.data dataset of (x, y)
    with a single y, Keras 3 turns it into per-row sample weights itself (sparse codes, one-hot
    rows and a binary 0/1 column alike), so the pipeline needs no change. Keras takes no class
    weights with a generator, so on JAX they become per-row sample weights here, by the same rule.
    """
    training = spec.training
    epochs = training.epochs if end_epoch is None else end_epoch
    features = feature_data(x_train)
    if training.fast_input or features.streams:  # files and streamed tables only stream
        import math

        from dlrun.train import pipeline

        steps = math.ceil(features.rows / training.batch_size)
        stream = (training.batch_size, training.shuffle, spec.seed, epochs, start_epoch)
        # under a MirroredStrategy the validation batch is the global batch too (one large batch of every
        # validation row is split unevenly across replicas, which Keras's distributed evaluation refuses)
        usual = training.batch_size if training.distribute == "mirrored" else max(EVAL_BATCH, training.batch_size)
        eval_batch = features.eval_batch(usual, training.batch_size)
        if training.backend == "jax":
            weights = None if class_weight is None else pipeline.row_weights(_single(y_train), class_weight)
            train_data = pipeline.numpy_batches(x_train, y_train, *stream, weights=weights)
            val_data, class_weight, val_batch = _held(validation), None, eval_batch
        else:
            train_data = features.training_batches(y_train, *stream)
            val_data = None if validation is None else feature_data(validation[0]).ordered_batches(validation[1],
                                                                                                   eval_batch)
            val_batch = None  # the dataset is batched already
        return model.fit(train_data, validation_data=val_data, epochs=epochs, initial_epoch=start_epoch,
                         steps_per_epoch=steps, callbacks=callbacks, verbose=0, shuffle=False,
                         class_weight=class_weight, validation_batch_size=val_batch)
    return model.fit(x_train, y_train, validation_data=validation, epochs=epochs, initial_epoch=start_epoch,
                     batch_size=training.batch_size, shuffle=training.shuffle, callbacks=callbacks, verbose=0,
                     class_weight=class_weight)
