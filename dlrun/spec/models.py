"""The experiment spec: pydantic models, `extra="forbid"` at every level.

Each stage of the pipeline receives only its own section (`spec.data`, `spec.model`, ...).
`Field(description=...)` is the only place help text lives: it feeds `dlrun schema` and
editors' completion. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from dlrun.spec.catalog import check_loss, check_metrics, check_optimizer
from dlrun.spec.model_forms import (MODEL_TAGS, GraphModel, GraphOutputSpec, InputSpec,  # noqa: F401 - re-exported
                                    ModelSpec, NodeSpec, SequentialModel)
from dlrun.spec.monitor import Direction
from dlrun.spec.schedule_forms import (SCHEDULE_TAGS, SCHEDULES, CosineDecay, CyclicSchedule,  # noqa: F401 - re-exported
                                       ExponentialDecay, KerasSchedule, Schedule, ScheduleBase, StepDrop,
                                       TimeBasedDecay)
from dlrun.spec.section import Section
from dlrun.spec.source_kinds import SOURCE_SCHEMES, SOURCES, SourceKind
from dlrun.spec.transfer import FineTunePhase, InitFrom
from dlrun.spec.tracking_forms import MlflowTracking, TrackingSpec  # noqa: F401 - re-exported
from dlrun.spec.split_forms import SPLIT_TAGS, CrossValidationSplit, HoldoutSplit, Split, SplitSpec  # noqa: F401 - re-exported

Task = Literal["binary", "multiclass", "regression"]
SKLEARN_DATASETS = ("iris", "digits", "wine", "breast_cancer", "diabetes", "linnerud")
KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "imdb", "reuters", "boston_housing")


class WindowSpec(Section):
    """Windows over a time-ordered table (csv, parquet): each sample is `lookback` steps of inputs;
    a regression target is forecast `horizon` steps ahead, a classification target is the label at
    the window's last step."""

    time: str | None = Field(None, description="The column that orders the rows (numbers or dates); checked sorted, "
                                               "without duplicates, in regular steps (see fill). Default: file order.")
    series: str | None = Field(None, description="A column naming the series, for many series in one table; windows "
                                                 "never cross from one series into another.")
    lookback: int = Field(ge=1, description="Input steps per window.")
    horizon: int = Field(1, ge=1, description="Forecasting: steps predicted after the window (the output layer has "
                                              "this many units). Classification: must be 1.")
    stride: int = Field(1, ge=1, description="Steps between the ends of two windows.")
    sampling_rate: int = Field(1, ge=1, description="Steps between two inputs of a window.")
    fill: Literal["error", "forward", "interpolate"] = Field(
        "error", description="Missing steps in the time column: an error, or filled with the previous row (forward) "
                             "or linearly (interpolate).")
    season: int | None = Field(None, ge=2, description="The season in steps (e.g. 7 for daily data with a weekly "
                                                       "pattern): the report's seasonal-naive baseline and MASE use it.")


class DataSpec(Section):
    """Where the data comes from and how it is prepared (fitted on the training part only)."""

    source: str = Field(description="sklearn:iris|digits|wine|breast_cancer|diabetes|linnerud (3 targets), csv:PATH, parquet:PATH "
                                    "(globs allowed: parquet:data/part-*.parquet), npz:PATH, images:FOLDER (one "
                                    "subfolder of images per class, streamed from disk), text:FOLDER (one subfolder "
                                    "of .txt files per class) "
                                    "or keras:mnist|fashion_mnist|cifar10|imdb|reuters|boston_housing. "
                                    "Paths are relative to the spec file.")
    target: str | list[str] | None = Field(None, description="Target column(s) of a CSV or Parquet table, or the label key of an "
                                                              "NPZ file (default 'y'). Several for multi-output graphs.")
    features: list[str] | None = Field(None, description="Feature columns (CSV, Parquet; '*' globs allowed) or the feature "
                                                          "key of an NPZ file (default 'x'). Default: every other column.")
    categorical: list[str] = Field(default_factory=list, description="Columns one-hot encoded, fitted on the training part.")
    passthrough: list[str] = Field(default_factory=list, description="Columns left exactly as they are: "
                                                                      "no scaling or imputation (e.g. token ids).")
    scale: Literal["standard", "minmax", "none"] = Field("standard", description="Feature scaling fitted on the training "
                                                                                "part. images: standard = per-channel "
                                                                                "mean and std of the training files; "
                                                                                "minmax = pixels / 255.")
    image_size: list[Annotated[int, Field(ge=1)]] | None = Field(
        None, min_length=2, max_length=2, description="images: resize every image to [height, width] (bilinear); "
                                                      "default: the images' own size, which must then be the same for all.")
    color_mode: Literal["rgb", "grayscale", "rgba"] = Field("rgb", description="images: channels each image is "
                                                                               "decoded to (3, 1 or 4).")
    impute: Literal["mean", "median", "most_frequent", "none"] = Field(
        "median", description="How missing feature values are filled (statistics from the training part).")
    missing_category: Literal["indicator", "error"] = Field(
        "indicator", description="A missing value in a data.categorical column: indicator gives it a category of "
                                 "its own, '<missing>' (one more one-hot column, for each column the training part "
                                 "misses values of); error refuses the data, naming the column.")
    target_scale: Literal["standard", "minmax", "none"] | None = Field(
        None, description="Regression targets: scaling fitted on the training part (standard: mean and std; minmax: "
                          "range), undone by a fixed layer at the model's head, so predictions, metrics and history "
                          "stay in the target's own units. Default: standard for a linear regression output; an "
                          "output with another activation (relu, sigmoid) keeps its own range.")
    reshape: list[Annotated[int, Field(ge=1)]] | None = Field(
        None, description="Per-sample tensor shape for the features, e.g. [8, 8, 1] for digits as images.")
    task: Literal["auto", "binary", "multiclass", "multilabel", "regression"] = Field(
        "auto", description="auto infers it from the target: few integer or string values → classification; several "
                            "0/1 target columns feeding one output (or data.label_separator) → multilabel.")
    label_separator: str | None = Field(None, min_length=1, description="Multilabel from one CSV column holding label "
                                                                        "sets, e.g. '|' for 'sports|tech'.")
    delimiter: str | None = Field(None, min_length=1, max_length=1, description="CSV field separator; default: "
                                                                                "detected from the file (',', ';', tab, '|').")
    streaming: bool = Field(False, description="csv and parquet: read the table chunk by chunk, never whole — the "
                                                "fitted statistics from one pass over the training rows, batches "
                                                "streamed from the file — so memory stays bounded whatever its size "
                                                "(TensorFlow backend).")
    resample: Literal["none", "oversample", "undersample"] = Field(
        "none", description="Balance the classes of the training part only (validation and test rows are never "
                            "resampled): oversample repeats minority rows, undersample drops majority rows.")
    num_words: int | None = Field(None, ge=1, description="keras:imdb|reuters and text:FOLDER: keep the most frequent "
                                                          "words (text default 5,000; its vocabulary is learned from "
                                                          "the training files only).")
    vectorize: Literal["multi_hot", "sequence", "tf_idf"] = Field(
        "multi_hot", description="keras:imdb|reuters and text:FOLDER: multi-hot vectors (one 0/1 column per word) or padded "
                                 "sequences of word ids; tf_idf (text:FOLDER only) weighs counts by inverse document "
                                 "frequency from the training files.")
    window: WindowSpec | None = Field(None, description="Time series: windows over a time-ordered csv or parquet "
                                                        "table, split in time order with gaps (see WindowSpec).")
    maxlen: int = Field(200, ge=1, description="keras:imdb|reuters and text:FOLDER with vectorize: sequence — padded "
                                               "length.")

    @field_validator("source")
    @classmethod
    def _source_known(cls, value: str) -> str:
        scheme, sep, rest = value.partition(":")
        if not sep or not rest:
            raise ValueError(f"'{value}' is not SCHEME:NAME — use one of {', '.join(s + ':' for s in SOURCE_SCHEMES)}")
        if scheme not in SOURCE_SCHEMES:
            from dlrun.spec.catalog import suggest
            raise ValueError(f"unknown data source scheme '{scheme}'{suggest(scheme, SOURCE_SCHEMES)} "
                             f"(known: {', '.join(SOURCE_SCHEMES)})")
        known = {"sklearn": SKLEARN_DATASETS, "keras": KERAS_DATASETS}.get(scheme)
        if known and rest not in known:
            from dlrun.spec.catalog import unknown_name
            raise ValueError(unknown_name(f"{scheme} dataset", rest, known))
        return value

    @property
    def scheme(self) -> str:
        return self.source.partition(":")[0]

    @property
    def kind(self) -> SourceKind:
        """What this kind of source allows (spec/source_kinds.py)."""
        return SOURCES[self.scheme]

    @property
    def location(self) -> str:
        return self.source.partition(":")[2]

    def targets(self) -> list[str]:
        if self.target is None:
            return []
        return [self.target] if isinstance(self.target, str) else list(self.target)


class OptimizerSpec(Section):
    """The optimizer by Keras name; other keys are passed to it (checked against its signature)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field("adam", description="Keras optimizer name: adam, sgd, rmsprop, adamw, ...; or the name of a "
                                          "keras.optimizers.Optimizer subclass in an `imports:` module, registered "
                                          "with @keras.saving.register_keras_serializable (checked at build).")
    learning_rate: float = Field(0.001, gt=0.0, description="Initial learning rate.")
    schedule: Schedule | None = Field(None, description="Learning-rate schedule: over epochs (exponential, step, "
                                                        "time_based, cosine, cyclic) or every step (keras: a "
                                                        "keras.optimizers.schedules class; cyclic with unit: steps).")
    clipnorm: float | None = Field(None, gt=0.0, description="Clip each gradient to this norm.")
    clipvalue: float | None = Field(None, gt=0.0, description="Clip each gradient element to ±this value.")

    _known = field_validator("name")(check_optimizer)

    @model_validator(mode="after")
    def _cycle_rises(self) -> "OptimizerSpec":
        if isinstance(self.schedule, CyclicSchedule) and self.schedule.max_learning_rate <= self.learning_rate:
            raise ValueError(f"a cyclic schedule rises from learning_rate ({self.learning_rate:g}) to "
                             f"schedule.max_learning_rate ({self.schedule.max_learning_rate:g}); make it higher")
        return self

    def extra_args(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class TrainingSpec(Section):
    """How long and on what to train."""

    epochs: int = Field(10, ge=1, description="Maximum number of epochs.")
    backend: Literal["tensorflow", "jax"] = Field("tensorflow", description="The Keras backend the run uses (set by "
                                                  "dlrun before Keras starts; KERAS_BACKEND and keras.json are "
                                                  "overridden). jax needs the extra: pip install \"dlrun[jax]\".")
    batch_size: int = Field(32, ge=1, description="Samples per gradient update.")
    device: Literal["auto", "cpu", "gpu"] = Field("auto", description="auto uses a GPU when one is present, except for a tiny "
                                                                   "Dense-only network, which runs faster on the CPU.")
    mixed_precision: bool = Field(False, description="float16 compute on GPU (ignored on CPU, with a note).")
    deterministic: bool = Field(False, description="Ask the backend for deterministic ops (slower on GPU, exactly repeatable).")
    shuffle: bool = Field(True, description="Reshuffle the training rows every epoch (seeded).")
    fast_input: bool = Field(True, description="Feed in-memory data through dlrun's seeded batch stream (tf.data on "
                                               "TensorFlow, NumPy batches on JAX) with several steps per execution "
                                               "(false: NumPy arrays straight into fit).")
    class_weight: Literal["balanced"] | dict[str | int, Annotated[float, Field(gt=0)]] | None = Field(
        None, description="Weight each class's rows in the loss: balanced (n_rows / (n_classes · class count), from "
                          "the training part only) or {LABEL: WEIGHT, …} by class label.")
    distribute: Literal["none", "mirrored"] = Field(
        "none", description="mirrored: one model replica per GPU on this machine (TensorFlow's MirroredStrategy); "
                            "batch_size is then the global batch, split across the replicas.")
    init_output_bias: bool = Field(True, description="Start each output's bias where the training targets are: "
                                                    "their mean for regression (in scaled units), the log of the "
                                                    "class shares for classification; false: zeros (Keras's default). "
                                                    "A bias_initializer written on the output layer is kept.")
    fine_tune: list[FineTunePhase] = Field(default_factory=list, description="Phases after the first (which runs "
                                             "`epochs` with the layers the spec freezes): each unfreezes layers, "
                                             "recompiles with its own learning rate and trains on; history.csv has "
                                             "a phase column.")
    cpu_replicas: int = Field(1, ge=1, le=64, description="With distribute: mirrored on a machine without GPUs: split "
                                                          "the CPU into this many logical devices, one replica each "
                                                          "(to check a mirrored spec without GPUs, e.g. in CI).")


class EarlyStoppingSpec(Section):
    """Stop training when the monitored quantity has not improved for a while."""

    monitor: str = Field("val_loss", description="Quantity watched, e.g. val_loss or val_accuracy.")
    patience: int = Field(5, ge=0, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0.0, description="Smallest change that counts as an improvement.")
    mode: Literal["auto", "min", "max"] = Field("auto", description="min: lower is better, max: higher is better; auto reads it from the monitored name (accuracy-like up, loss-like down).")
    restore_best_weights: bool = Field(True, description="End with the weights of the best epoch.")


class CheckpointSpec(Section):
    """Keep the model of the best epoch while training."""

    monitor: str = Field("val_loss", description="Quantity that decides which epoch is best.")
    mode: Literal["auto", "min", "max"] = Field("auto", description="min: lower is better, max: higher is better; auto reads it from the monitored name (accuracy-like up, loss-like down).")


class ReduceLRSpec(Section):
    """Lower the learning rate when the monitored quantity stops improving."""

    monitor: str = Field("val_loss", description="Quantity watched.")
    factor: float = Field(0.1, gt=0.0, lt=1.0, description="Multiply the learning rate by this on a plateau.")
    patience: int = Field(3, ge=0, description="Epochs without improvement before the rate is lowered.")
    min_lr: float = Field(0.0, ge=0.0, description="The rate is never lowered below this.")
    mode: Literal["auto", "min", "max"] = Field("auto", description="min: lower is better, max: higher is better; auto reads it from the monitored name (accuracy-like up, loss-like down).")


def resolve_mode(monitor: str, mode: str) -> str:
    """'min' or 'max' for a monitored quantity: `Direction.of`'s rule (dlrun.spec.monitor)."""
    return Direction.of(monitor, mode).mode


class CallbacksSpec(Section):
    """Callbacks; history.csv is always written, one row per epoch."""

    early_stopping: EarlyStoppingSpec | None = Field(None, description="Stop when the monitored quantity stops improving.")
    model_checkpoint: CheckpointSpec | None = Field(None, description="Keep the best epoch's model in checkpoints/best.keras.")
    reduce_lr_on_plateau: ReduceLRSpec | None = Field(None, description="Lower the learning rate on a plateau.")
    tensorboard: bool = Field(False, description="Write TensorBoard logs to the run's tensorboard/ folder.")
    terminate_on_nan: bool = Field(True, description="Stop (status diverged) when the loss becomes NaN or infinite.")
    custom: list[dict[str, dict[str, Any] | None]] = Field(
        default_factory=list, description="More callbacks, each a one-key mapping {ClassName: {arg: value}}: a "
                                          "keras.callbacks.Callback subclass from an `imports:` module, else a class "
                                          "of keras.callbacks. A class whose __init__ takes `run_dir` gets the fit's "
                                          "folder (a pathlib.Path: the run's, a fold's or a trial's) to write files "
                                          "in. Checked when the model is built (validate --build, train).")

    def custom_entries(self) -> list[tuple[str, dict[str, Any]]]:
        """(class name, arguments) of each `custom:` callback (a mapping of one key each, checked by spec/checks.py)."""
        return [(name, dict(args or {})) for item in self.custom for name, args in list(item.items())[:1]]

    def best_epoch_rule(self, default: str) -> tuple[str, str]:
        """The quantity that picks the best epoch (early stopping's, else the checkpoint's, else
        `default`) and whether lower or higher is better."""
        for section in (self.early_stopping, self.model_checkpoint):
            if section is not None:
                return section.monitor, resolve_mode(section.monitor, section.mode)
        return default, "min"

    def monitors(self) -> dict[str, str]:
        out = {}
        for name in ("early_stopping", "model_checkpoint", "reduce_lr_on_plateau"):
            section = getattr(self, name)
            if section is not None:
                out[name] = section.monitor
        return out


class OutputSpec(Section):
    """What a run writes besides its metrics and history, and where."""

    runs_dir: str = Field("runs", description="Where run directories are created (relative to the working directory).")
    save_model: bool = Field(True, description="Write the final model as model.keras.")
    plots: bool = Field(True, description="Write learning-curve plots (PNG).")
    fold_models: bool = Field(False, description="k-fold only: keep each fold's model (folds/NN/model.keras).")


NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MODULE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _module_name(value: str) -> str:
    if not MODULE_RE.fullmatch(value):
        raise ValueError(f"'{value}' is not a module name (e.g. my_layers or package.layers)")
    return value


ModuleName = Annotated[str, AfterValidator(_module_name)]


from dlrun.spec.sweep_forms import SweepSpec  # noqa: E402 - the sweep section names spec paths, not types


class ExperimentSpec(Section):
    """One experiment: data, split, model, optimizer, loss, metrics, training, callbacks."""

    name: str = Field("experiment", description="Short name used in the run id (letters, digits, . _ -).")
    description: str | None = Field(None, description="Free text kept with the run.")
    seed: int = Field(42, ge=0, lt=2**31, description="Seeds Python, NumPy, TensorFlow and the split.")
    imports: list[ModuleName] = Field(default_factory=list, description="Python modules (importable names, looked up next to "
                                                                 "the spec too) whose keras.layers.Layer classes the "
                                                                 "model may use, and whose losses, metrics, callbacks "
                                                                 "(callbacks.custom), optimizer (optimizer.name) and "
                                                                 "keras.Model subclass (model.model_class) the spec may "
                                                                 "name. Only these modules are imported.")
    data: DataSpec = Field(description="Where the data comes from and how it is prepared.")
    split: Split = Field(default_factory=HoldoutSplit, description="How rows are divided: holdout (the default) or a "
                                                                    "cross-validation protocol, by `protocol:`.")
    model: ModelSpec = Field(description="The architecture: a Sequential `layers:` list, or a graph of `inputs`, "
                                         "`nodes` and `outputs`.")
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec, description="The optimizer and its learning rate.")
    loss: str | None = Field(None, description="Keras loss name. Default follows the task "
                                               "(binary_crossentropy, sparse_categorical_crossentropy, mse).")
    metrics: list[str] | None = Field(None, description="Keras metric names. Default: accuracy (classification) or mae (regression).")
    training: TrainingSpec = Field(default_factory=TrainingSpec, description="Epochs, batch size, device and precision.")
    callbacks: CallbacksSpec = Field(default_factory=CallbacksSpec, description="Early stopping, checkpoints, "
                                                                                "learning-rate reduction, TensorBoard.")
    init_from: InitFrom | None = Field(None, description="Warm start: the weights of an earlier run (or of a model "
                                                         "file), loaded by layer name before training.")
    output: OutputSpec = Field(default_factory=OutputSpec, description="Where runs go and which files they keep.")
    sweep: SweepSpec | None = Field(None, description="A hyperparameter search over spec paths, run by `dlrun sweep`.")
    tracking: TrackingSpec = Field(default_factory=TrackingSpec, description="Experiment tracking (MLflow): "
                                   "parameters, per-epoch metrics and files of each run; folds and trials as child runs.")

    _loss_known = field_validator("loss")(check_loss)
    _metrics_known = field_validator("metrics")(check_metrics)

    @field_validator("name")
    @classmethod
    def _name_ok(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(f"'{value}' is not a usable run name: use up to 64 letters, digits, '.', '_' or '-'")
        return value


# Where pydantic puts a discriminated union's tag into an error's location: right after the
# path of the field holding the union. load.py strips them, so problems name the keys users write.
UNION_TAGS: dict[tuple, tuple[str, ...]] = {
    ("model",): MODEL_TAGS,
    ("split",): SPLIT_TAGS,
    ("optimizer", "schedule"): SCHEDULE_TAGS,
}
