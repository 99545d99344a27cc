"""training.device: auto — which jobs stay on the CPU where a GPU is present (train/device_rule.py)."""

from __future__ import annotations

import pytest

from dlrun.spec import load_spec
from dlrun.train.device_rule import TINY_STEP_VALUES, JobSize, choose, job_size
from tests.support import CONFIGS


def _size(config: str, row_shape: tuple, overrides=()) -> JobSize:
    spec = load_spec(CONFIGS / config, list(overrides)).spec
    return job_size(spec.model, [row_shape], spec.training.batch_size)


def test_the_iris_kfold_is_a_tiny_job_and_stays_on_the_cpu_beside_a_gpu():
    size = _size("iris_kfold.yaml", (4,))
    assert size.tiny and not size.heavy
    assert size.step_values == size.batch_size * (4 + sum(size.units)) <= TINY_STEP_VALUES
    use_gpu, reason = choose("auto", gpus=1, size=size)
    assert not use_gpu
    assert "tiny" in reason and "training.device: gpu" in reason and f"{size.step_values:,}" in reason


def test_a_large_batch_of_wide_rows_goes_to_the_gpu():
    size = JobSize(("Dense", "Dense", "Dense"), (256, 256, 1), row_values=50, batch_size=1024)
    assert not size.tiny and size.step_values > TINY_STEP_VALUES
    assert choose("auto", gpus=1, size=size) == (True, "a GPU is present (training.device auto)")


@pytest.mark.parametrize("config, shape, heavy", [
    ("digits_cnn.yaml", (8, 8, 1), "Conv2D"),
    ("reviews_lstm.yaml", (40,), "LSTM"),
    ("shapes_finetune.yaml", (48, 48, 3), "Application"),
])
def test_convolution_recurrence_and_backbones_are_never_tiny(config, shape, heavy):
    size = _size(config, shape, ["training.batch_size=1"])
    assert heavy in size.heavy and not size.tiny
    assert choose("auto", gpus=2, size=size)[0]


def test_a_graph_model_counts_its_nodes_units_and_every_input():
    spec = load_spec(CONFIGS / "reviews_two_inputs.yaml").spec
    size = job_size(spec.model, [(30,), (3,)], 8)
    assert size.units == (8, 16, 16, 1, 1) and size.row_values == 33
    assert size.step_values == 8 * (33 + 42)
    assert "Embedding" in size.heavy and not size.tiny  # word ids feed an embedding: not a Dense-only network


@pytest.mark.parametrize("requested, gpus, expected", [
    ("cpu", 1, (False, "training.device is cpu")),
    ("auto", 0, (False, "no GPU on this machine")),
    ("gpu", 1, (True, "training.device is gpu")),
])
def test_an_explicit_device_or_no_gpu_decides_before_the_size(requested, gpus, expected):
    tiny = JobSize(("Dense",), (3,), row_values=4, batch_size=5)
    assert choose(requested, gpus, tiny) == expected
