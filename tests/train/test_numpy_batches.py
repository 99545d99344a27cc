"""The JAX input stream of train/pipeline.py: epoch_order, numpy_batches and row_weights.

On JAX there is no tf.data, so dlrun feeds a generator of NumPy batches whose order depends only
on (seed, epoch): a resumed run (start_epoch > 0) and a --jobs worker see exactly the batches an
uninterrupted single process would. Keras takes no class_weight with a generator, so the class
weights become per-row sample weights by Keras's own rule.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlrun.train.pipeline import epoch_order, numpy_batches, row_weights


def _rows(n: int = 10, width: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """x whose first column is the row number (so a batch tells which rows it holds), y = row % 3."""
    x = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, width), dtype=np.float32)
    x[:, 1:] += np.arange(1, width, dtype=np.float32) * 1000
    return x, np.arange(n) % 3


def _ids(batches) -> list[list[int]]:
    """The row numbers of each batch (x's first column)."""
    return [batch[0][:, 0].astype(int).tolist() for batch in batches]


# --- epoch_order ------------------------------------------------------------------------------


def test_epoch_order_is_a_permutation_fixed_by_seed_and_epoch():
    first = epoch_order(50, True, seed=7, epoch=3)
    again = epoch_order(50, True, seed=7, epoch=3)
    np.testing.assert_array_equal(first, again)
    assert sorted(first.tolist()) == list(range(50))
    assert first.tolist() != list(range(50))  # 50! orders: the identity would be a broken shuffle


def test_epoch_order_differs_between_epochs_and_seeds():
    orders = {tuple(epoch_order(50, True, seed=7, epoch=e)) for e in range(5)}
    assert len(orders) == 5
    assert tuple(epoch_order(50, True, seed=8, epoch=0)) != tuple(epoch_order(50, True, seed=7, epoch=0))


def test_epoch_order_does_not_depend_on_what_was_drawn_before():
    """A resumed run asks for epoch 4 first: it must get what an uninterrupted run got at epoch 4."""
    straight = [epoch_order(20, True, seed=1, epoch=e) for e in range(6)]
    np.random.seed(123)  # global NumPy state is not part of the rule either
    np.testing.assert_array_equal(epoch_order(20, True, seed=1, epoch=4), straight[4])


def test_epoch_order_without_shuffle_is_arange():
    for epoch in (0, 1, 9):
        np.testing.assert_array_equal(epoch_order(7, False, seed=3, epoch=epoch), np.arange(7))


# --- numpy_batches ----------------------------------------------------------------------------


def test_every_epoch_covers_every_row_once_in_that_epochs_order():
    x, y = _rows(10)
    batches = list(numpy_batches(x, y, batch_size=4, shuffle=True, seed=5, epochs=3))
    assert len(batches) == 3 * 3  # ceil(10 / 4) per epoch
    ids = _ids(batches)
    for epoch in range(3):
        rows = sum(ids[3 * epoch:3 * epoch + 3], [])
        assert rows == epoch_order(10, True, 5, epoch).tolist()
        assert sorted(rows) == list(range(10))
    for batch in batches:  # x and y stay aligned, and x keeps every column
        xb, yb = batch
        np.testing.assert_array_equal(yb, xb[:, 0].astype(int) % 3)
        np.testing.assert_array_equal(xb[:, 1:] - xb[:, :1], [[1000, 2000]] * len(xb))


def test_batch_sizes_and_the_last_partial_batch():
    x, y = _rows(10)
    sizes = [len(b[1]) for b in numpy_batches(x, y, batch_size=4, shuffle=False, seed=0, epochs=2)]
    assert sizes == [4, 4, 2, 4, 4, 2]  # the partial batch ends each epoch; epochs never share a batch
    sizes = [len(b[1]) for b in numpy_batches(x, y, batch_size=5, shuffle=True, seed=0, epochs=2)]
    assert sizes == [5, 5, 5, 5]
    assert _ids(numpy_batches(x, y, batch_size=32, shuffle=False, seed=0, epochs=1)) == [list(range(10))]


def test_without_shuffle_the_rows_come_in_order_every_epoch():
    x, y = _rows(6)
    assert _ids(numpy_batches(x, y, batch_size=4, shuffle=False, seed=9, epochs=2)) == [[0, 1, 2, 3], [4, 5]] * 2


@pytest.mark.parametrize("start_epoch", [1, 2, 4])
def test_starting_at_an_epoch_yields_exactly_the_tail_of_the_full_stream(start_epoch):
    x, y = _rows(11)
    weights = np.linspace(0.5, 1.5, 11).astype(np.float32)
    full = list(numpy_batches(x, y, 3, True, 21, 5, weights=weights))
    tail = list(numpy_batches(x, y, 3, True, 21, 5, start_epoch=start_epoch, weights=weights))
    per_epoch = 4  # ceil(11 / 3)
    assert len(tail) == (5 - start_epoch) * per_epoch
    for mine, theirs in zip(tail, full[start_epoch * per_epoch:], strict=True):
        assert len(mine) == len(theirs) == 3
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a, b)


def test_start_epoch_at_the_end_yields_nothing():
    x, y = _rows(5)
    assert list(numpy_batches(x, y, 2, True, 0, epochs=3, start_epoch=3)) == []


def test_dict_inputs_are_sliced_by_the_same_rows():
    x, y = _rows(9)
    inputs = {"a": x, "b": x[:, :1] * -1.0, "c": np.arange(9 * 4).reshape(9, 2, 2)}
    batches = list(numpy_batches(inputs, y, 4, True, 3, 2))
    assert len(batches) == 6
    for xb, yb in batches:
        assert set(xb) == {"a", "b", "c"}
        rows = xb["a"][:, 0].astype(int)
        np.testing.assert_array_equal(xb["b"][:, 0], -rows)
        np.testing.assert_array_equal(xb["c"], inputs["c"][rows])
        np.testing.assert_array_equal(yb, y[rows])
    assert sorted(sum(_ids(((b[0]["a"], b[1]) for b in batches[:3])), [])) == list(range(9))


def test_tuple_y_is_sliced_per_output():
    x, y = _rows(7)
    ys = (y, np.arange(7, dtype=np.float32) * 10)
    for xb, (first, second) in numpy_batches(x, ys, 3, True, 1, 1):
        rows = xb[:, 0].astype(int)
        np.testing.assert_array_equal(first, y[rows])
        np.testing.assert_array_equal(second, rows * 10.0)


@pytest.mark.parametrize("kind", [tuple, list])
@pytest.mark.parametrize("second_width", [2, 3], ids=["different-widths", "same-width"])
def test_tuple_and_list_inputs_are_sliced_by_the_same_rows(kind, second_width):
    x, y = _rows(9)
    inputs = kind([x, x[:, :second_width] + 0.5])
    batches = list(numpy_batches(inputs, y, 4, True, 3, 2))
    assert len(batches) == 6  # ceil(9 / 4) per epoch, 2 epochs
    seen = []
    for xb, yb in batches:
        assert isinstance(xb, tuple) and len(xb) == 2
        rows = xb[0][:, 0].astype(int)
        np.testing.assert_array_equal(xb[1], inputs[1][rows])
        np.testing.assert_array_equal(yb, y[rows])
        seen.extend(rows.tolist())
    assert sorted(seen[:9]) == list(range(9))


def test_weights_come_as_the_third_element_aligned_with_the_rows():
    x, y = _rows(10)
    weights = np.arange(10, dtype=np.float32) / 10
    batches = list(numpy_batches(x, y, 4, True, 2, 2, weights=weights))
    assert all(len(b) == 3 for b in batches)
    for xb, yb, wb in batches:
        np.testing.assert_array_equal(wb, xb[:, 0] / 10)
    plain = list(numpy_batches(x, y, 4, True, 2, 2))
    assert all(len(b) == 2 for b in plain)
    for (xw, yw, _), (xp, yp) in zip(batches, plain, strict=True):  # weights change nothing else
        np.testing.assert_array_equal(xw, xp)
        np.testing.assert_array_equal(yw, yp)


# --- row_weights: Keras's class_weight rule ----------------------------------------------------


def _keras(y, class_weight):
    """Keras's own conversion (what it does with class_weight for a tf.data dataset)."""
    from keras.src.trainers.data_adapters.data_adapter_utils import class_weight_to_sample_weights

    return np.asarray(class_weight_to_sample_weights(y, class_weight))


@pytest.mark.parametrize("class_weight", [{0: 0.5, 1: 2.0, 2: 1.25}, {1: 3.0}, {0: 0.2, 2: 4.0, 5: 9.0}, {}])
def test_sparse_codes_match_keras(class_weight):
    y = np.random.default_rng(0).integers(0, 4, size=60)  # class 3 is never listed: weight 1
    mine = row_weights(y, class_weight)
    assert mine.shape == (60,)
    np.testing.assert_array_equal(mine, _keras(y, class_weight))
    assert mine[y == 3].tolist() == [1.0] * int((y == 3).sum())


def test_sparse_codes_given_as_floats_and_as_a_column_match_keras():
    y = np.random.default_rng(1).integers(0, 3, size=40)
    class_weight = {0: 0.7, 1: 1.9, 2: 3.1}
    expected = _keras(y, class_weight)
    np.testing.assert_array_equal(row_weights(y.astype(np.float32), class_weight), expected)
    np.testing.assert_array_equal(row_weights(y.reshape(-1, 1), class_weight), expected)
    np.testing.assert_allclose(expected, np.array([0.7, 1.9, 3.1], dtype=np.float32)[y])


def test_one_hot_rows_match_keras():
    codes = np.random.default_rng(2).integers(0, 5, size=50)
    y = np.eye(5, dtype=np.float32)[codes]
    class_weight = {0: 1.5, 2: 0.25, 4: 6.0}
    mine = row_weights(y, class_weight)
    np.testing.assert_array_equal(mine, _keras(y, class_weight))
    np.testing.assert_array_equal(mine, np.array([1.5, 1, 0.25, 1, 6.0], dtype=np.float32)[codes])


def test_soft_one_hot_rows_use_the_argmax_like_keras():
    y = np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]], dtype=np.float32)
    class_weight = {0: 2.0, 1: 3.0, 2: 5.0}
    np.testing.assert_array_equal(row_weights(y, class_weight), [3.0, 2.0, 5.0])
    np.testing.assert_array_equal(row_weights(y, class_weight), _keras(y, class_weight))


def test_binary_column_matches_keras_and_is_rounded():
    y = np.array([[0.0], [1.0], [1.0], [0.0], [0.4], [0.6]], dtype=np.float32)
    class_weight = {0: 0.3, 1: 2.5}
    mine = row_weights(y, class_weight)
    np.testing.assert_array_equal(mine, _keras(y, class_weight))
    np.testing.assert_allclose(mine, [0.3, 2.5, 2.5, 0.3, 0.3, 2.5])
    assert mine.dtype == np.float32


def test_weights_larger_than_the_codes_seen_are_fine():
    y = np.array([0, 1, 1, 0])
    np.testing.assert_array_equal(row_weights(y, {7: 3.0}), [1, 1, 1, 1])
    np.testing.assert_array_equal(row_weights(y, {7: 3.0}), _keras(y, {7: 3.0}))
