"""A keras.applications model as one layer of a spec's model (`{Application: {name: MobileNetV2, ...}}`).

The backbone is the application itself, nested in the model under its own name, with its weights
from ImageNet (the Keras cache), from a file, or random. Its input preprocessing (`preprocess_input`
of the application's module: scaling to [-1, 1], per-channel means, RGB to BGR, ...) is an affine
map of the pixels, so it becomes one fixed Dense layer on the channel axis in front of it: a plain
Keras layer, so saved and exported models need nothing of dlrun's to load.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from dlrun.errors import first_line
from dlrun.spec.transfer import ApplicationLayer


class ApplicationError(Exception):
    """The backbone cannot be made; `field` names the Application argument at fault (or None)."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field


def backbone_name(spec: ApplicationLayer, given: str | None = None) -> str:
    """The nested model's name: a graph node's name, else the application's in lower case."""
    return given or spec.name.lower()


def keras_cache() -> Path:
    """Where Keras keeps downloaded weights (KERAS_HOME, else ~/.keras) plus models/."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


def _factory(keras, spec: ApplicationLayer):
    factory = getattr(keras.applications, spec.name, None)
    if factory is None or not callable(factory):
        raise ApplicationError("name", f"'{spec.name}' is not a keras.applications model")
    return factory


def _imagenet_missing(spec: ApplicationLayer, exc: Exception) -> ApplicationError:
    match = re.search(r"(https?://\S+?\.h5)", str(exc))
    if match is None:
        return ApplicationError("weights", f"the imagenet weights of {spec.name} cannot be loaded: {first_line(exc)}")
    url = match.group(1)
    return ApplicationError("weights", f"the imagenet weights of {spec.name} are not in the Keras cache and cannot be "
                                       f"downloaded here: put {url.rsplit('/', 1)[-1]} (from {url}) in "
                                       f"{keras_cache()}/, or use weights: PATH to a saved file, or weights: none")


def make_backbone(spec: ApplicationLayer, input_shape: tuple, name: str, base_dir: Path | None):
    """The application model for per-sample `input_shape`, with its weights, frozen when `trainable` is false."""
    from dlrun.model.backend import import_keras

    keras = import_keras()
    factory = _factory(keras, spec)
    kwargs = dict(spec.args, include_top=spec.include_top, pooling=spec.pooling, name=name)
    if not spec.include_top:
        kwargs["input_shape"] = tuple(input_shape)
    source = None if spec.weights in ("imagenet", "none") else _weights_path(spec.weights, base_dir)
    if source is not None and source.suffix == ".keras":
        model = _loaded_backbone(keras, spec, source, input_shape)
        model.name = name
    else:
        try:
            model = factory(weights="imagenet" if spec.weights == "imagenet" else None, **kwargs)
        except Exception as exc:  # noqa: BLE001 - Keras raises ValueError for shapes, Exception for downloads
            if spec.weights == "imagenet" and "URL fetch failure" in str(exc):
                raise _imagenet_missing(spec, exc) from None
            raise ApplicationError(None, f"{spec.name} cannot be made for input {list(input_shape)}: "
                                         f"{first_line(exc)}") from None
        if source is not None:
            try:
                model.load_weights(str(source))
            except Exception as exc:  # noqa: BLE001 - wrong file, wrong application, wrong shapes
                raise ApplicationError("weights", f"{source}: its weights do not fit {spec.name} with these "
                                                  f"arguments ({first_line(exc)})") from None
    model.trainable = spec.trainable
    return model


def _weights_path(value: str, base_dir: Path | None) -> Path:
    path = Path(value)
    if not path.is_absolute() and base_dir is not None and (Path(base_dir) / path).exists():
        path = Path(base_dir) / path
    if not path.is_file():
        raise ApplicationError("weights", f"no file {value} (paths are relative to the spec's folder)")
    return path


def _loaded_backbone(keras, spec: ApplicationLayer, path: Path, input_shape: tuple):
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - not a model file, or code safe mode refuses
        raise ApplicationError("weights", f"{path}: cannot be loaded as a model ({first_line(exc)})") from None
    shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if shape != tuple(input_shape):
        raise ApplicationError("weights", f"{path}: the saved model takes input {list(shape or [])}, but the data "
                                          f"gives {list(input_shape)} per sample (set data.image_size)")
    return model


def affine_preprocessing(keras, spec: ApplicationLayer, channels: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(matrix, offset) with preprocess_input(x) == x @ matrix + offset on the channel axis, for the
    application's module; None when it leaves pixels as they are (the model rescales them itself)."""
    from dlrun.spec.catalog import catalog

    module_name = catalog().get("applications", {}).get(spec.name, {}).get("module")
    module = getattr(keras.applications, module_name or "", None)
    preprocess = getattr(module, "preprocess_input", None)
    if preprocess is None:
        return None

    def apply(pixels: np.ndarray) -> np.ndarray:
        return np.asarray(preprocess(pixels.astype("float32").copy()), dtype="float64").reshape(-1, channels)

    try:
        offset = apply(np.zeros((1, 1, 1, channels)))[0]
        matrix = np.stack([apply(np.eye(channels)[j].reshape(1, 1, 1, channels) * 255.0)[0] - offset
                           for j in range(channels)]) / 255.0
        probe = np.random.default_rng(0).uniform(0, 255, (1, 4, 4, channels))
        expected = apply(probe)
    except Exception as exc:  # noqa: BLE001 - e.g. a BGR flip of a one-channel image
        raise ApplicationError("preprocess", f"{spec.name}'s input preprocessing cannot take {channels} channel(s) "
                                             f"({first_line(exc)}); use color_mode: rgb or preprocess: false") from None
    if not np.allclose(probe.reshape(-1, channels) @ matrix + offset, expected, atol=1e-3):
        raise ApplicationError("preprocess", f"{spec.name}'s input preprocessing is not a per-pixel affine map; "
                                             f"set preprocess: false and scale the data with data.scale")
    if np.allclose(matrix, np.eye(channels)) and np.allclose(offset, 0.0):
        return None
    return matrix, offset


def apply_application(spec: ApplicationLayer, x, name: str, base_dir: Path | None):
    """x (a Keras tensor of images) → the backbone's output, through its input preprocessing."""
    from dlrun.model.backend import import_keras
    from dlrun.model.fixed_layers import fixed

    keras = import_keras()
    shape = tuple(x.shape[1:])
    if spec.preprocess:
        affine = affine_preprocessing(keras, spec, int(shape[-1]))
        if affine is not None:
            layer = fixed(keras.layers.Dense(int(shape[-1]), trainable=False, dtype="float32",
                                             name=f"{name}_preprocess"))
            x = layer(x)
            layer.set_weights([affine[0].astype("float32"), affine[1].astype("float32")])
    backbone = make_backbone(spec, shape, name, base_dir)
    y = backbone(x)
    if spec.pooling and not spec.include_top and len(y.shape) == 4:  # a saved model without its pooling
        pool = keras.layers.GlobalAveragePooling2D if spec.pooling == "avg" else keras.layers.GlobalMaxPooling2D
        y = pool(name=f"{name}_pooling")(y)
    return y
