"""The learning-rate schedules of `optimizer.schedule`, told apart by `type:`.

Most are rules over epochs (train/schedules.py `lr_at`, applied by a LearningRateScheduler at each
epoch's start, so a resumed run only needs the epoch). `type: keras` names a class of
keras.optimizers.schedules, and `type: cyclic` with `unit: steps` is dlrun's own: both are given to the
optimizer as its learning rate and change every step (their position is the optimizer's step count,
which a resumed run gets back with the optimizer). Nothing here imports TensorFlow.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args

from pydantic import Field, field_validator

from dlrun.spec.catalog import check_named
from dlrun.spec.section import Section


class ScheduleBase(Section):
    """A learning-rate schedule over epochs; `type:` picks which."""

    @property
    def by_epoch(self) -> bool:
        """Whether the rate is set once per epoch (train/schedules.py lr_at) rather than by the optimizer every step."""
        return True


class ExponentialDecay(ScheduleBase):
    """lr = lr0 · rate^(epoch / decay_epochs) (stepwise with staircase)."""

    type: Literal["exponential"] = Field(description="Exponential decay of the learning rate.")
    decay_rate: float = Field(0.9, gt=0.0, le=1.0, description="Factor the rate is multiplied by every `decay_epochs`.")
    decay_epochs: float = Field(1.0, gt=0.0, description="Epochs over which the rate shrinks by one `decay_rate`.")
    staircase: bool = Field(False, description="Drop in whole steps every `decay_epochs` instead of smoothly.")


class StepDrop(ScheduleBase):
    """Step decay: lr = lr0 · drop^floor((1 + epoch) / epochs_drop)."""

    type: Literal["step"] = Field(description="Step decay: the rate drops by a factor at fixed intervals.")
    drop: float = Field(0.5, gt=0.0, le=1.0, description="Factor the rate is multiplied by at each drop.")
    epochs_drop: int = Field(10, ge=1, description="Epochs between two drops.")


class TimeBasedDecay(ScheduleBase):
    """Time-based decay: lr = lr0 / (1 + decay · epoch)."""

    type: Literal["time_based"] = Field(description="Time-based decay: the rate shrinks as 1 / (1 + decay · epoch).")
    decay: float = Field(0.01, ge=0.0, description="How fast the rate shrinks per epoch.")


class CosineDecay(ScheduleBase):
    """Linear warm-up for `warmup_epochs`, then cosine decay to alpha · lr0 at the last epoch."""

    type: Literal["cosine"] = Field(description="Cosine decay, after an optional linear warm-up.")
    warmup_epochs: int = Field(0, ge=0, description="Epochs of linear warm-up from 0 to the initial rate.")
    alpha: float = Field(0.0, ge=0.0, le=1.0, description="Final rate as a fraction of the initial one.")


class KerasSchedule(ScheduleBase):
    """A class of keras.optimizers.schedules by name, given to the optimizer as its learning rate.

    Example (YAML): `schedule: {type: keras, name: CosineDecayRestarts, args: {first_decay_steps: 100}}`
    """

    type: Literal["keras"] = Field(description="A keras.optimizers.schedules class, evaluated by the optimizer at "
                                               "every step (its step counts are optimizer updates, i.e. batches).")
    name: str = Field(description="The class: CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay, "
                                  "PiecewiseConstantDecay or PolynomialDecay.")
    args: dict[str, Any] = Field(default_factory=dict, description="Its arguments, checked against its signature; "
                                                                   "initial_learning_rate defaults to "
                                                                   "optimizer.learning_rate.")

    _known = field_validator("name")(lambda value: check_named("schedule", value))

    @property
    def by_epoch(self) -> bool:
        return False


class CyclicSchedule(ScheduleBase):
    """A triangular cyclic learning rate (Smith, 2017): from optimizer.learning_rate up to
    max_learning_rate in `step_size` epochs or steps, and back down in as many; triangular2 halves the
    height of every cycle."""

    type: Literal["cyclic"] = Field(description="Triangular cyclic rate between optimizer.learning_rate (the lowest) "
                                                "and max_learning_rate.")
    max_learning_rate: float = Field(gt=0.0, description="The highest rate, reached halfway through each cycle; "
                                                         "above optimizer.learning_rate.")
    step_size: int = Field(ge=1, description="Half a cycle: the epochs (unit: epochs) or optimizer steps, i.e. "
                                             "batches (unit: steps), from the lowest rate to the highest.")
    unit: Literal["epochs", "steps"] = Field("epochs", description="epochs: the rate is set at each epoch's start; "
                                                                   "steps: the optimizer changes it every batch.")
    mode: Literal["triangular", "triangular2"] = Field("triangular", description="triangular: every cycle alike; "
                                                                                 "triangular2: each cycle half as high "
                                                                                 "as the one before.")

    @property
    def by_epoch(self) -> bool:
        return self.unit == "epochs"


SCHEDULES = (ExponentialDecay, StepDrop, TimeBasedDecay, CosineDecay, KerasSchedule, CyclicSchedule)
Schedule = Annotated[Union[SCHEDULES], Field(discriminator="type")]
SCHEDULE_TAGS = tuple(get_args(s.model_fields["type"].annotation)[0] for s in SCHEDULES)
