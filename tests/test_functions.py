"""Activations and losses: the chapter's values, stability, and errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from helpers import assert_array, assert_close
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xpnet
from xpnet import functions as F
from xpnet.backend import index_dtype

Y2 = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]  # the chapter's "2" guess
Y7 = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]  # ... and its "7" guess
T2 = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize(("y", "mse", "cee"), [(Y2, 0.0975, 0.510825), (Y7, 0.5975, 2.302584)])
def test_chapter_worked_values(backend, dtype, y, mse, cee) -> None:
    y_arr, t = xpnet.asarray(y, dtype=dtype), xpnet.asarray(T2, dtype=dtype)
    assert_close(F.mean_squared_error(y_arr, t), mse, backend=backend, dtype=dtype, rtol=1e-5)
    assert_close(F.cross_entropy_error(y_arr, t), cee, backend=backend, dtype=dtype, rtol=1e-5)
    label = xpnet.asarray(2, dtype=index_dtype(backend.xp, backend.device))
    assert_close(F.cross_entropy_error(y_arr, label), cee, backend=backend, dtype=dtype, rtol=1e-5)


def test_batch_losses_are_means_over_samples(backend, dtype) -> None:
    y = xpnet.asarray([Y2, Y7], dtype=dtype)
    one_hot = xpnet.asarray([T2, T2], dtype=dtype)
    labels = xpnet.asarray([2, 2], dtype=index_dtype(backend.xp, backend.device))
    expected_cee = (0.510825 + 2.302584) / 2
    assert_close(
        F.cross_entropy_error(y, one_hot), expected_cee, backend=backend, dtype=dtype, rtol=1e-5
    )
    assert_close(
        F.cross_entropy_error(y, labels), expected_cee, backend=backend, dtype=dtype, rtol=1e-5
    )
    assert_close(
        F.mean_squared_error(y, one_hot),
        (0.0975 + 0.5975) / 2,
        backend=backend,
        dtype=dtype,
        rtol=1e-5,
    )


def test_activations(backend, dtype) -> None:
    x = xpnet.asarray([-1.0, 0.0, 2.0], dtype=dtype)
    assert_close(F.step_function(x), [0.0, 0.0, 1.0], backend=backend, dtype=dtype)
    assert_close(F.relu(x), [0.0, 0.0, 2.0], backend=backend, dtype=dtype)
    assert_close(F.identity_function(x), [-1.0, 0.0, 2.0], backend=backend, dtype=dtype)
    expected = [1 / (1 + math.e), 0.5, 1 / (1 + math.exp(-2))]
    assert_close(F.sigmoid(x), expected, backend=backend, dtype=dtype)


def test_sigmoid_is_quiet_and_exact_at_extremes(backend, dtype) -> None:
    x = xpnet.asarray([-1e4, -800.0, 800.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.sigmoid(x)
    assert_close(y, [0.0, 0.0, 1.0, 1.0], backend=backend, dtype=dtype)


def test_softmax_rows_are_independent(backend, dtype) -> None:
    # The chapter's 2-D softmax subtracts the max of the wrong axis and gives
    # nan for the second row here.
    x = xpnet.asarray([[0.3, 2.9, 4.0], [1e4, 1e4 - 1, -1e4]], dtype=dtype)
    e = np.exp([0.3 - 4.0, 2.9 - 4.0, 0.0])
    e1 = np.exp([0.0, -1.0])
    expected = [list(e / e.sum()), [*(e1 / e1.sum()), 0.0]]
    assert_close(F.softmax(x), expected, backend=backend, dtype=dtype, atol=1e-7)
    assert_close(F.softmax(x, axis=0)[:, 0], [0.0, 1.0], backend=backend, dtype=dtype)


finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=finite)
)
def test_softmax_properties(backend, host) -> None:
    x = xpnet.asarray(host, dtype="float32")
    y = xpnet.to_numpy(F.softmax(x))
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-5)
    shifted = xpnet.to_numpy(F.softmax(x + 123.0))
    np.testing.assert_allclose(shifted, y, atol=1e-5)


def test_losses_keep_backend_and_dtype_with_int_one_hot(backend, dtype) -> None:
    y = xpnet.asarray([Y2], dtype=dtype)
    t = xpnet.asarray([T2], dtype=index_dtype(backend.xp, backend.device))
    loss = F.cross_entropy_error(y, t)
    assert_array(loss, backend=backend, dtype=dtype, shape=())


def test_int32_labels(backend, dtype) -> None:
    y = xpnet.asarray([Y2, Y7], dtype=dtype)
    loss = F.cross_entropy_error(y, xpnet.asarray([2, 7], dtype="int32"))
    assert_close(loss, 0.510825, backend=backend, dtype=dtype, rtol=1e-5)


def test_one_hot(backend) -> None:
    t = xpnet.asarray([1, 0, 2], dtype=index_dtype(backend.xp, backend.device))
    assert_close(
        F.one_hot(t, 3, dtype=backend.xp.float32),
        np.eye(3)[[1, 0, 2]],
        backend=backend,
        dtype=backend.xp.float32,
    )


# --- errors -----------------------------------------------------------------


@pytest.mark.reliability("bad input")
def test_labels_shaped_n_by_1_are_refused(backend) -> None:
    y = xpnet.asarray([Y2, Y7], dtype="float32")
    t = xpnet.asarray([[2], [7]], dtype=index_dtype(backend.xp, backend.device))
    with pytest.raises(ValueError, match=r"t.shape=\(2, 1\)"):
        F.cross_entropy_error(y, t)


@pytest.mark.reliability("bad input")
def test_labels_out_of_range(backend) -> None:
    y = xpnet.asarray([Y2, Y7], dtype="float32")
    for bad in ([2, 10], [-1, 0]):
        with pytest.raises(ValueError, match=r"labels in \[0, 10\)"):
            F.cross_entropy_error(
                y, xpnet.asarray(bad, dtype=index_dtype(backend.xp, backend.device))
            )


@pytest.mark.reliability("bad input")
def test_float_labels_are_refused(backend) -> None:
    y = xpnet.asarray([Y2, Y7], dtype="float32")
    with pytest.raises(TypeError, match="labels must be integers"):
        F.cross_entropy_error(y, xpnet.asarray([2.0, 7.0], dtype="float32"))


@pytest.mark.reliability("bad input")
def test_integer_outputs_are_refused(backend) -> None:
    y = xpnet.asarray([[0, 1]], dtype=index_dtype(backend.xp, backend.device))
    t = xpnet.asarray([[0, 1]], dtype=index_dtype(backend.xp, backend.device))
    with pytest.raises(TypeError, match=r"`y` must be a real floating.*int"):
        F.cross_entropy_error(y, t)
    with pytest.raises(TypeError, match=r"`y` must be a real floating"):
        F.mean_squared_error(y, t)
    with pytest.raises(TypeError, match=r"`x` must be a real floating"):
        F.softmax(y)


@pytest.mark.reliability("bad input")
def test_shape_mismatch_names_both_shapes(backend) -> None:
    y = xpnet.asarray([Y2], dtype="float32")
    t = xpnet.asarray([T2[:5]], dtype="float32")
    with pytest.raises(ValueError, match=r"y.shape=\(1, 10\), t.shape=\(1, 5\)"):
        F.mean_squared_error(y, t)
    with pytest.raises(ValueError, match=r"y.shape=\(1, 10\), t.shape=\(1, 5\)"):
        F.cross_entropy_error(y, t)


@pytest.mark.reliability("bad input")
def test_rank_3_outputs_are_refused(backend) -> None:
    y = xpnet.asarray(np.full((2, 2, 2), 0.5), dtype="float32")
    with pytest.raises(ValueError, match=r"y.shape=\(2, 2, 2\)"):
        F.cross_entropy_error(y, y)
