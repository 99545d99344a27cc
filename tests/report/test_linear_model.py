"""The linear-model baseline: ridge or logistic regression on the same preprocessed rows."""

from __future__ import annotations

import numpy as np
import pytest

from dlrun.data.feature_data import feature_data
from dlrun.report.linear_model import MAX_FIT_ROWS, linear_lines, linear_margin, linear_scores


def _fmt(value):
    return f"{value:.4g}"


def test_ridge_recovers_a_linear_target_and_logistic_a_separable_class():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    y = 1000 + x @ [2.0, -1.0, 0.5, 0.0]
    label = (x[:, 0] > 0).astype(int)
    scores = linear_scores(x[:200], x[200:], {"y": y[:200], "c": label[:200]}, {"y": y[200:], "c": label[200:]},
                           {"y": "regression", "c": "binary"}, seed=0)
    assert scores["y"]["r2"] > 0.99 and scores["y"]["mae"] < 0.05
    assert scores["c"]["accuracy"] > 0.95
    assert "ridge" in scores["y"]["kind"] and "logistic" in scores["c"]["kind"]


def test_no_linear_model_where_none_applies():
    assert linear_scores(None, None, {}, {}, {"y": "regression"}, 0) == {}
    texts = feature_data(np.array(["a b", "c"], dtype=object))
    assert texts.linear_matrix(np.arange(2), 10) is None
    token_ids = feature_data(np.array([[1, 2], [3, 4]], dtype=np.int32))
    assert token_ids.linear_matrix(np.arange(2), 10) is None
    wide = feature_data(np.zeros((3, 5, 5), dtype=np.float32))
    assert wide.linear_matrix(np.arange(3), 10) is None
    assert wide.linear_matrix(np.arange(3), 25).shape == (3, 25)


def test_a_large_fit_is_sampled_to_the_cap():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(MAX_FIT_ROWS + 500, 2))
    y = x[:, 0] * 3
    scores = linear_scores(x, x[:50], {"y": y}, {"y": y[:50]}, {"y": "regression"}, seed=0)
    assert scores["y"]["r2"] > 0.99


@pytest.mark.parametrize("network_mae, note", [(0.2, False), (0.5, True)])
def test_the_report_states_the_margin_and_notes_a_better_linear_model(network_mae, note):
    result = {"mae": network_mae, "linear_model": {"kind": "ridge", "mae": 0.3, "r2": 0.9}}
    assert linear_margin(result) == ("mae", pytest.approx(0.3 - network_mae))
    text = "\n".join(linear_lines(result, _fmt))
    assert "Linear model — ridge: mae 0.3, r2 0.9" in text
    assert ("**Note:** the linear model does better" in text) is note
    assert linear_lines({"mae": 1.0}, _fmt) == []
