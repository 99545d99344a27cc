"""From transformed feature arrays to what the model's inputs take (one array, or one per graph input)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dlrun.data.image_files import ImageFiles
from dlrun.data.preprocess import FeaturePreprocessor
from dlrun.data.table_stream import StreamedTable
from dlrun.errors import DataError
from dlrun.spec.model_forms import layer_entry
from dlrun.spec.models import ModelSpec


@dataclass
class InputInfo:
    """Shape (per sample) and dtype of one model input, as the fitted preprocessing gives it."""

    shape: tuple[int, ...]
    dtype: str = "float32"


def input_infos(model: ModelSpec, pre: FeaturePreprocessor, sample_shape: tuple | None = None) -> dict[str, InputInfo]:
    """Shape and dtype of each model input, from the fitted preprocessor (`sample_shape`: one sample's
    shape where it is not the preprocessor's, as for windows of steps)."""
    if not model.is_graph:
        first = (layer_entry(model.layers[0]) or ("",))[0]
        dtype = "int32" if first == "Embedding" else "float32"
        return {"features": InputInfo(tuple(sample_shape or pre.sample_shape), dtype)}
    if sample_shape is not None and tuple(sample_shape) != tuple(pre.sample_shape):
        raise DataError("model.inputs: windows (data.window) feed a Sequential model (layers:); graph models over "
                        "windows are not supported yet")
    infos = {}
    for name, spec in model.inputs.items():
        if spec.columns is None:
            if len(model.inputs) > 1:
                raise DataError(f"model.inputs.{name}: with several inputs, each needs `columns:`")
            width = math.prod(pre.sample_shape)
        else:
            if pre.kind != "table":
                raise DataError(f"model.inputs.{name}.columns: column selection needs a table source (csv or sklearn)")
            width = len(pre.output_columns_for(spec.columns))
            if width == 0:
                raise DataError(f"model.inputs.{name}.columns {spec.columns} match no feature column "
                                f"(features: {', '.join(pre.columns[:15])})")
        shape = tuple(spec.shape) if spec.shape else ((width,) if spec.columns is not None else tuple(pre.sample_shape))
        if math.prod(shape) != width:
            raise DataError(f"model.inputs.{name}.shape {list(shape)} holds {math.prod(shape)} values, "
                            f"but its columns give {width}")
        infos[name] = InputInfo(shape, spec.dtype)
    return infos


def model_inputs(x: np.ndarray, model: ModelSpec, pre: FeaturePreprocessor, infos: dict[str, InputInfo]):
    """The arrays to feed: a single array for Sequential, a dict by input name for graphs."""
    if isinstance(x, ImageFiles):  # decoded batch by batch as the model reads them
        if model.is_graph:
            raise DataError("model.inputs: an image folder feeds a Sequential model (layers:); graph models "
                            "over image files are not supported yet")
        return x
    if isinstance(x, StreamedTable):  # each transformed batch is shaped as it is read
        return x.shaped(lambda batch: model_inputs(batch, model, pre, infos))
    if not model.is_graph:
        info = infos["features"]
        return x.astype(info.dtype) if info.dtype != "float32" else x
    flat = x.reshape(len(x), -1)
    out = {}
    for name, spec in model.inputs.items():
        info = infos[name]
        part = flat if spec.columns is None else flat[:, pre.output_columns_for(spec.columns)]
        out[name] = part.reshape(len(part), *info.shape).astype(info.dtype)
    return out
