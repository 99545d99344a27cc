"""The split section in its two forms, told apart by `protocol:` (omitted: holdout).

A holdout split (`dlrun train`) takes only the fractions and how to cut them; a
cross-validation split (`dlrun kfold`) adds the fold settings. A fold setting under a
holdout split is an error, so a forgotten `protocol:` is not silently ignored.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from dlrun.spec.section import Section, one_of_forms

CvProtocol = Literal["kfold", "stratified_kfold", "repeated_kfold", "group_kfold", "time_series"]
Protocol = Literal["holdout", CvProtocol]
CV_PROTOCOLS: tuple[str, ...] = get_args(CvProtocol)
PROTOCOL_HELP = "holdout for `dlrun train`; the others are cross-validation protocols for `dlrun kfold`."


class SplitSpec(Section):
    """How rows are divided: the settings both forms share.

    `SplitSpec(**fields)` and `SplitSpec.model_validate(data)` give the form that `protocol`
    names, so code and tests can make a split without choosing the class themselves.

    Example:
        >>> type(SplitSpec(test=0.1)).__name__, type(SplitSpec(protocol="kfold", folds=3)).__name__
        ('HoldoutSplit', 'CrossValidationSplit')
    """

    protocol: Protocol = Field("holdout", description=PROTOCOL_HELP)
    test: float = Field(0.2, ge=0.0, lt=1.0, description="Fraction of all rows held out as the test set.")
    validation: float = Field(0.2, ge=0.0, lt=1.0, description="Fraction of all rows used for validation (early stopping, checkpoints).")
    stratify: bool | None = Field(None, description="Keep class proportions in every part. Default: yes when classifying.")
    shuffle: bool = Field(True, description="Shuffle with the seed before splitting; false keeps row order "
                                            "(time-ordered data: the last rows become validation and test).")
    use_source_test: bool = Field(True, description="When the source ships its own test part (keras datasets), use it as the test set.")

    # The base class stands for both forms: building it builds the form `protocol` names, and
    # Python then runs that form's own __init__ (its validation) on the same fields.
    def __new__(cls, *args: Any, **fields: Any):
        if cls is SplitSpec:
            cls = HoldoutSplit if fields.get("protocol", "holdout") == "holdout" else CrossValidationSplit
        return super().__new__(cls)

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> "SplitSpec":
        if cls is SplitSpec:
            return TypeAdapter(Split).validate_python(obj, **options)
        return super().model_validate(obj, **options)

    @model_validator(mode="after")
    def _parts_fit(self) -> "SplitSpec":
        if self.test + self.validation >= 1.0:
            raise ValueError(f"test ({self.test}) + validation ({self.validation}) leave no rows to train on; keep their sum below 1")
        return self


class HoldoutSplit(SplitSpec):
    """One split into training, validation and test rows (`dlrun train`)."""

    protocol: Literal["holdout"] = Field("holdout", description="holdout (the default): one split, for `dlrun train`.")

    # The fold settings read as neutral values, for code that serves both forms (e.g. loading
    # the data reads `group` to keep that column out of the features). Class values: read-only,
    # and not fields, so writing one of them under a holdout split is still an error.
    folds: ClassVar[None] = None
    repeats: ClassVar[int] = 1
    group: ClassVar[None] = None
    curves: ClassVar[bool] = False
    final_model: ClassVar[bool] = False


class CrossValidationSplit(SplitSpec):
    """A cross-validation protocol (`dlrun kfold`): folds, and optionally a final model."""

    protocol: CvProtocol = Field(description="The cross-validation protocol `dlrun kfold` runs.")
    folds: int = Field(5, ge=2, description="Number of folds (k) for the k-fold protocols.")
    repeats: int = Field(1, ge=1, description="repeated_kfold: how many reshuffled rounds of k folds.")
    group: str | None = Field(None, description="group_kfold: the column whose equal values stay on one side.")
    curves: bool = Field(True, description="k-fold without an inner validation split: score the held-out fold after "
                                           "every epoch, for the averaged curves (false: faster, no curves).")
    final_model: bool = Field(False, description="k-fold only: hold out `test` first, cross-validate the rest, then "
                                                 "retrain on all of it with the chosen epochs and score the test set once.")

    @model_validator(mode="after")
    def _groups_named(self) -> "CrossValidationSplit":
        if self.protocol == "group_kfold" and not self.group:
            raise ValueError("protocol group_kfold needs `group:` naming the column that holds the groups")
        return self


CV_ONLY_KEYS = tuple(key for key in CrossValidationSplit.model_fields if key not in SplitSpec.model_fields)


class _UnknownProtocol(BaseModel):
    """Where a split with an unknown `protocol:` goes: it fails on `protocol` alone, with the
    list of every protocol, instead of on the keys of a form the user did not mean."""

    model_config = ConfigDict(extra="allow")

    protocol: Protocol = Field(description=PROTOCOL_HELP)


def _split_form(data: Any) -> str | None:
    if isinstance(data, dict):
        protocol = data.get("protocol", "holdout")
        return "holdout" if protocol == "holdout" else "cross_validation" if protocol in CV_PROTOCOLS else "unknown"
    if isinstance(data, SplitSpec):
        return "holdout" if data.protocol == "holdout" else "cross_validation"
    return None


SPLIT_FORMS = {"holdout": HoldoutSplit, "cross_validation": CrossValidationSplit, "unknown": _UnknownProtocol}
SPLIT_TAGS = tuple(SPLIT_FORMS)

# The split section: a HoldoutSplit or a CrossValidationSplit, by `protocol:`.
Split = one_of_forms("SplitSpec", SPLIT_FORMS, _split_form, hidden="unknown")


def misplaced_key(path: tuple) -> str | None:
    """The message for a cross-validation setting written under a holdout split (None for
    any other path): "unknown field" would be misleading, the key exists in the other form."""
    if len(path) != 2 or path[0] != "split" or path[1] not in CV_ONLY_KEYS:
        return None
    return (f"`{path[1]}:` is a cross-validation setting and this split is holdout (the protocol when none is "
            f"given); remove it, or set `protocol:` to one of {', '.join(CV_PROTOCOLS)}")
