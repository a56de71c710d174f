"""Backprop layers: forward values, backward against numerical gradients."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import xpnet
from xpnet.backend import float64_available, index_dtype, to_numpy
from xpnet.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss


@pytest.fixture
def f64(backend):
    if not float64_available(backend):
        pytest.skip("needs float64")
    return backend.xp.float64


def test_affine_forward_backward(backend, dtype) -> None:
    rng = np.random.default_rng(0)
    W, b, x, dout = rng.random((3, 2)), rng.random(2), rng.random((4, 3)), rng.random((4, 2))
    layer = Affine(xpnet.asarray(W, dtype=dtype), xpnet.asarray(b, dtype=dtype))
    rtol = 1e-5 if "32" in str(dtype) else 1e-12
    assert_close(
        layer.forward(xpnet.asarray(x, dtype=dtype)),
        x @ W + b,
        backend=backend,
        dtype=dtype,
        rtol=rtol,
    )
    dx = layer.backward(xpnet.asarray(dout, dtype=dtype))
    assert_close(dx, dout @ W.T, backend=backend, dtype=dtype, rtol=rtol)
    assert_close(layer.dW, x.T @ dout, backend=backend, dtype=dtype, rtol=rtol)
    assert_close(layer.db, dout.sum(axis=0), backend=backend, dtype=dtype, rtol=rtol)


def test_affine_flattens_images(backend, dtype) -> None:
    layer = Affine(
        xpnet.asarray(np.ones((4, 2)), dtype=dtype), xpnet.asarray(np.zeros(2), dtype=dtype)
    )
    x = xpnet.asarray(np.ones((3, 1, 2, 2)), dtype=dtype)
    assert_close(layer.forward(x), np.full((3, 2), 4.0), backend=backend, dtype=dtype)
    assert tuple(layer.backward(xpnet.asarray(np.ones((3, 2)), dtype=dtype)).shape) == (3, 1, 2, 2)


def test_activations_never_modify_dout(backend, dtype) -> None:
    x = xpnet.asarray([[-1.0, 2.0]], dtype=dtype)
    dout = xpnet.asarray([[5.0, 7.0]], dtype=dtype)
    relu = Relu()
    relu.forward(x)
    assert_close(relu.backward(dout), [[0.0, 7.0]], backend=backend, dtype=dtype)
    sigmoid = Sigmoid()
    y = to_numpy(sigmoid.forward(x))
    assert_close(sigmoid.backward(dout), [[5.0, 7.0]] * y * (1 - y), backend=backend, dtype=dtype)
    assert_close(dout, [[5.0, 7.0]], backend=backend, dtype=dtype, rtol=0)
    assert_close(x, [[-1.0, 2.0]], backend=backend, dtype=dtype, rtol=0)


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss_backward_is_exact(backend, f64, one_hot) -> None:
    rng = np.random.default_rng(1)
    scores = xpnet.asarray(rng.standard_normal((5, 4)), dtype=f64)
    labels = rng.integers(0, 4, size=5)
    t = (
        xpnet.asarray(np.eye(4)[labels], dtype=f64)
        if one_hot
        else xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device))
    )
    layer = SoftmaxWithLoss()
    loss = layer.forward(scores, t)
    dx = layer.backward()
    numerical = xpnet.numerical_gradient(lambda s: SoftmaxWithLoss().forward(s, t), scores)
    assert_close(dx, to_numpy(numerical), backend=backend, dtype=f64, rtol=1e-8, atol=1e-10)
    expected_loss = float(xpnet.cross_entropy_error(xpnet.softmax(scores), t))
    assert_close(loss, expected_loss, backend=backend, dtype=f64)


def test_first_layer_can_skip_its_input_gradient(backend, dtype) -> None:
    layer = Affine(
        xpnet.asarray(np.ones((3, 2)), dtype=dtype), xpnet.asarray(np.zeros(2), dtype=dtype)
    )
    layer.forward(xpnet.asarray(np.ones((4, 3)), dtype=dtype))
    assert layer.backward(xpnet.asarray(np.ones((4, 2)), dtype=dtype), input_grad=False) is None
    assert_close(layer.dW, np.full((3, 2), 4.0), backend=backend, dtype=dtype)
