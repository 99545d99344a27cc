"""The spec's transfer-learning parts: a pretrained backbone written as a layer (`Application:`),
fine-tuning phases (`training.fine_tune`) and a warm start from an earlier run (`init_from`).
Nothing here imports TensorFlow: `dlrun validate` checks these with the names in keras_catalog.json.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, ValidationError, Field, field_validator, model_serializer, model_validator

from dlrun.spec.section import Section

APPLICATION = "Application"   # the layer name a backbone is written under: {Application: {name: MobileNetV2, ...}}
WEIGHT_FILES = (".keras", ".weights.h5")
# arguments of a keras.applications model that dlrun sets itself (fields of ApplicationLayer, or the data's shape)
MANAGED_APPLICATION_ARGS = ("include_top", "weights", "input_tensor", "input_shape", "pooling", "name")


class ApplicationLayer(Section):
    """A keras.applications model used as one layer (the backbone), with its own input preprocessing."""

    name: str = Field(description="The keras.applications model, e.g. MobileNetV2, ResNet50, EfficientNetB0.")
    weights: str = Field("none", description="imagenet (read from the Keras cache, ~/.keras/models; this needs the "
                                             "file there when there is no network), none (random), or a PATH to a "
                                             ".weights.h5 or .keras file of the same application (relative to "
                                             "the spec).")
    include_top: bool = Field(False, description="Keep the application's own classifier (usually false: the spec's "
                                                 "next layers are the head).")
    pooling: Literal["avg", "max"] | None = Field("avg", description="Pooling of the last feature map (avg, max) or "
                                                                     "none (the map itself).")
    preprocess: bool = Field(True, description="Apply the application's own input preprocessing inside the model "
                                               "(it expects raw 0-255 pixels: set data.scale: none).")
    trainable: bool = Field(True, description="false freezes the whole backbone (its BatchNormalization layers "
                                              "then run in inference mode); training.fine_tune unfreezes it later.")
    args: dict[str, Any] = Field(default_factory=dict, description="Other arguments of the application, e.g. "
                                                                   "{alpha: 0.35} for MobileNetV2.")

    @field_validator("weights")
    @classmethod
    def _weights_form(cls, value: str) -> str:
        if value not in ("imagenet", "none") and not value.endswith(WEIGHT_FILES):
            raise ValueError(f"'{value}' is not imagenet, none, or a .keras / .weights.h5 file")
        return value


class Unfreeze(Section):
    """Which frozen layers a phase makes trainable: the last N layers that hold weights, or a named
    layer and every layer after it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True, allow_inf_nan=False)

    top: int | None = Field(None, ge=1, description="The last N layers that hold weights (nested backbones counted "
                                                    "layer by layer).")
    from_layer: str | None = Field(None, alias="from", description="This layer (by name) and every layer after it.")

    @model_serializer(mode="plain")
    def _as_written(self) -> dict[str, Any]:
        return {"top": self.top} if self.top is not None else {"from": self.from_layer}

    @model_validator(mode="after")
    def _one(self) -> "Unfreeze":
        if (self.top is None) == (self.from_layer is None):
            raise ValueError("give one of top: N or from: LAYER")
        return self


class FineTunePhase(Section):
    """One more phase after the first (training.epochs): unfreeze layers, recompile with a lower learning rate,
    and train on."""

    epochs: int = Field(ge=1, description="Epochs of this phase.")
    unfreeze: Literal["all", "none"] | Unfreeze = Field(
        "all", description="all (every layer), none, {top: N} or {from: LAYER}. BatchNormalization layers stay "
                           "frozen, in inference mode, as the Keras transfer-learning guide advises.")
    learning_rate: float = Field(1e-5, gt=0.0, description="The phase's learning rate (constant; the optimizer is "
                                                          "made anew for the phase).")


class InitFrom(Section):
    """Start from another run's weights (warm start: more data, a changed head, fine-tuning a run)."""

    run: str = Field(description="A run id (or prefix), SWEEP:best / SWEEP:N, a run folder, or a .keras or "
                                 ".weights.h5 file (relative to the spec).")
    skip_mismatch: bool = Field(False, description="Layers whose weight shapes differ start as built instead of "
                                                   "being an error (each is listed).")
    preprocessing: Literal["reuse", "refit"] = Field(
        "reuse", description="reuse: the parent run's fitted feature preprocessing, target encodings and scales (the "
                             "weights see inputs scaled as they learned them); refit: fitted again on this run's "
                             "training rows. A model file has none to reuse: refit.")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return {"run": data} if isinstance(data, str) else data

    @property
    def is_file(self) -> bool:
        return self.run.endswith(WEIGHT_FILES)


def applications(model) -> list[tuple[tuple, ApplicationLayer]]:
    """(spec path, settings) of every Application layer of a model section (Sequential or graph)."""
    from dlrun.spec.model_forms import layer_entry

    if model.is_graph:
        entries = [(("model", "nodes", i), node.layer) for i, node in enumerate(model.nodes) if node.layer]
    else:
        entries = [(("model", "layers", i), layer_entry(item)) for i, item in enumerate(model.layers)]
    entries = [(path, entry) for path, entry in entries if entry]  # an empty item is reported elsewhere
    found = []
    for path, (name, args) in entries:
        if name == APPLICATION:
            try:
                found.append(((*path, APPLICATION), ApplicationLayer.model_validate(args or {})))
            except ValidationError:  # reported where the free-form check looks at it
                continue
    return found


def transfer_problems(spec) -> list[tuple[tuple, str]]:
    """Settings of backbones, phases and warm starts that cannot work with the rest of the spec."""
    found = []
    for path, app in applications(spec.model):
        if app.preprocess and spec.data.scale != "none":
            found.append((("data", "scale"), f"the {app.name} backbone ({'.'.join(map(str, path))}) applies its own "
                                             f"input preprocessing to raw pixels; set data.scale: none (or "
                                             f"preprocess: false to feed it dlrun's scaled pixels)"))
    if spec.training.fine_tune and spec.training.distribute == "mirrored":
        found.append((("training", "fine_tune"), "fine-tuning phases recompile the model, which a mirrored "
                                                 "strategy does not support here; remove training.distribute"))
    return found
