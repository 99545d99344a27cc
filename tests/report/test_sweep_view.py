"""The sweep's console lines: parameter columns named by the short end of their path."""

from __future__ import annotations

from dlrun.report.sweep_view import short_names


def test_short_names_keep_the_layer_and_take_a_one_part_path_as_it_is():
    names = short_names(["seed", "model.layers.0.Dense.units", "optimizer.learning_rate"])
    assert names == {"seed": "seed", "model.layers.0.Dense.units": "Dense.units",
                     "optimizer.learning_rate": "learning_rate"}


def test_short_names_that_would_clash_keep_the_whole_path():
    names = short_names(["model.layers.0.Dense.units", "model.layers.2.Dense.units"])
    assert names == {"model.layers.0.Dense.units": "model.layers.0.Dense.units",
                     "model.layers.2.Dense.units": "model.layers.2.Dense.units"}
