"""The starting-weights step (train/start.py): one switch between build and fit."""

from __future__ import annotations

import numpy as np
import pytest

from dlrun.errors import UserError
from dlrun.train.start import Start


def _loss(model, prepared) -> float:
    """The compiled loss on every training row, in one batch."""
    x, y = prepared.part("train")
    result = model.evaluate(x, y, verbose=0, batch_size=len(prepared.fit_rows), return_dict=True)
    return float(result["loss"])


def test_a_model_started_from_another_runs_weights_begins_at_that_runs_loss(trained_run):
    from dlrun.model.io import load_model
    from dlrun.protocols.admission import spec_to_resume
    from dlrun.protocols.stages import build_compiled, prepare
    from dlrun.train.start import apply_start

    source = trained_run()
    prepared = prepare(spec_to_resume(source.run, None))
    model = build_compiled(prepared).model
    scratch = _loss(model, prepared)
    loaded = apply_start(model, Start.from_run(source.run.path))
    assert loaded["loaded"] == ["dense", "dense_1"] and loaded["skipped"] == [] and loaded["new"] == []
    started = _loss(model, prepared)
    x, _ = prepared.part("train")
    trained = load_model(source.run.path)
    np.testing.assert_allclose(model.predict(x, verbose=0), trained.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    import keras

    y = prepared.part("train")[1]
    expected = float(keras.ops.mean(keras.losses.get(prepared.heads[0].loss)(y, trained.predict(x, verbose=0))))
    assert started == pytest.approx(expected, rel=1e-4)
    assert started != pytest.approx(scratch, rel=1e-3)  # the trained weights, not the build's


def test_a_resumed_start_begins_after_the_saved_epoch_and_no_state_means_scratch():
    assert Start.resume({"epoch": 7, "array_data": {}}).epoch == 7
    assert Start.resume(None).mode == "scratch" and Start.resume(None).epoch == 0
    assert Start.reused({}).epoch == 0


def test_starting_from_a_run_without_a_model_or_a_missing_file_names_it(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(UserError, match="has no model.keras to start from"):
        Start.from_run(tmp_path / "run").weights_file()
    with pytest.raises(UserError, match="no such run folder or weights file"):
        Start.from_run(tmp_path / "nothing.keras").weights_file()
