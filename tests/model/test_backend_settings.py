"""JAX's settings are environment variables read when JAX starts: what `activate` sets for them."""

from __future__ import annotations

import os

import pytest

from dlrun.model.backend import _jax_settings, keras_json_backend


def test_a_single_thread_worker_device_cpu_and_determinism_become_xla_settings(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    _jax_settings("cpu", True, 1)
    flags = os.environ["XLA_FLAGS"].split()
    assert flags[0] == "--xla_dump_to=/tmp/x"  # the user's own flags are kept
    assert {"--xla_gpu_deterministic_ops=true", "--xla_cpu_multi_thread_eigen=false",
            "intra_op_parallelism_threads=1"} <= set(flags)
    assert os.environ["JAX_PLATFORMS"] == "cpu"
    _jax_settings("cpu", True, 1)  # a second call (a worker re-activating) adds nothing twice
    assert sorted(os.environ["XLA_FLAGS"].split()) == sorted(flags)


def test_defaults_leave_jax_alone(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    _jax_settings("auto", False, None)
    assert "XLA_FLAGS" not in os.environ and "JAX_PLATFORMS" not in os.environ


def test_keras_json_backend_reads_keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert keras_json_backend() is None
    (tmp_path / "keras.json").write_text('{"backend": "jax"}')
    assert keras_json_backend() == (tmp_path / "keras.json", "jax")
    (tmp_path / "keras.json").write_text("not json")
    assert keras_json_backend() is None


@pytest.mark.slow  # a Python process on JAX
def test_text_vectorizing_on_jax_works_after_seeding_hid_tensorflow():
    """Seeding on JAX hides TensorFlow from Keras for a moment and Keras remembers it as missing; a text
    run on JAX after another run in the same process still builds its TextVectorization."""
    import subprocess
    import sys

    code = ("from dlrun.model.backend import seed_everything\nseed_everything(1, False)\n"
            "from dlrun.data.text_vectorize import vectorizer\n"
            "layer = vectorizer({'max_tokens': 10, 'vectorize': 'multi_hot'}, ['a', 'b'])\n"
            "print(type(layer).__name__)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "KERAS_BACKEND": "jax"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "TextVectorization"
