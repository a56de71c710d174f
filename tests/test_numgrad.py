"""Fast numerical gradients: the batched engine and TwoLayerNet's structured method.

Both must give what the one-at-a-time loop gives, up to rounding:
max |difference| <= 1e-6 * max |gradient| per parameter, in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import xpnet
from xpnet.backend import float64_available, index_dtype, to_numpy
from xpnet.numgrad import _series_terms, two_layer_numerical_gradient


@pytest.fixture
def f64(backend):
    if not float64_available(backend):
        pytest.skip("needs float64")
    return backend.xp.float64


def sparse_batch(backend, dtype, n=8, d=12, c=4, seed=0, zeros=0.7):
    """Inputs with about `zeros` of their entries exactly 0, like MNIST."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    x[rng.random((n, d)) < zeros] = 0.0
    x[:, 0] = 0.0  # a pixel that is 0 in every sample
    labels = rng.integers(0, c, size=n)
    return xpnet.asarray(x, dtype=dtype), labels


def assert_matches_loop(fast, loop, backend, dtype, rel=1e-6) -> None:
    for name, reference in loop.items():
        ref = to_numpy(reference)
        assert_close(
            fast[name], ref, backend=backend, dtype=dtype, rtol=0, atol=rel * np.abs(ref).max()
        )


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("one_hot", [False, True])
def test_structured_equals_the_loop(backend, f64, activation, one_hot) -> None:
    x, labels = sparse_batch(backend, f64)
    t = (
        xpnet.asarray(np.eye(4)[labels], dtype=f64)
        if one_hot
        else xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device))
    )
    net = xpnet.TwoLayerNet(12, 6, 4, weight_init_std=0.8, activation=activation, seed=1, dtype=f64)
    fast = net.numerical_gradient(x, t)
    loop = net.numerical_gradient(x, t, method="loop")
    assert_matches_loop(fast, loop, backend, f64)
    np.testing.assert_array_equal(to_numpy(fast["W1"])[0], 0.0)  # the always-zero pixel


def test_structured_float32_is_as_good_as_the_loop(backend) -> None:
    """In float32 both carry rounding error; each stays close to backprop."""
    x, labels = sparse_batch(backend, "float32", n=20)
    t = xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device))
    net = xpnet.TwoLayerNet(12, 6, 4, weight_init_std=0.8, seed=1)
    exact = net.gradient(x, t)
    for method in ("structured", "loop"):
        approx = net.numerical_gradient(x, t, method=method)
        for name, value in exact.items():
            ref = to_numpy(value)
            assert_close(
                approx[name],
                ref,
                backend=backend,
                dtype=backend.xp.float32,
                rtol=0,
                atol=0.05 * np.abs(ref).max(),
            )


def test_large_steps_use_direct_exponentials(backend, f64) -> None:
    """With h = 0.5 the moment series would need too many terms."""
    x, labels = sparse_batch(backend, f64)
    t = xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device))
    net = xpnet.TwoLayerNet(12, 6, 4, weight_init_std=2.0, seed=4, dtype=f64)
    assert _series_terms(0.5 * 6.0) is None
    fast = net.numerical_gradient(x, t, h=0.5)
    loop = net.numerical_gradient(x, t, h=0.5, method="loop")
    assert_matches_loop(fast, loop, backend, f64)


def test_chunking_does_not_change_the_result(backend, f64) -> None:
    x, labels = sparse_batch(backend, f64, n=10)
    t = xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device))
    net = xpnet.TwoLayerNet(12, 6, 4, weight_init_std=0.8, seed=2, dtype=f64)
    sigmoid = xpnet.layers.ACTIVATIONS["sigmoid"]()
    whole = two_layer_numerical_gradient(backend.xp, net.params, sigmoid, x, t, 1e-4)
    tiny = two_layer_numerical_gradient(backend.xp, net.params, sigmoid, x, t, 1e-4, budget_bytes=1)
    for name in whole:
        assert_close(
            tiny[name], to_numpy(whole[name]), backend=backend, dtype=f64, rtol=1e-12, atol=1e-15
        )


@pytest.mark.backend_independent
def test_series_terms_bound() -> None:
    assert _series_terms(0.0) == 0
    assert _series_terms(3e-4) == 4  # MNIST-sized steps: four terms
    assert _series_terms(1e-2) is not None and _series_terms(10.0) is None


@pytest.mark.reliability("bad input")
def test_bad_method(backend) -> None:
    net = xpnet.TwoLayerNet(12, 6, 4, seed=0)
    x, labels = sparse_batch(backend, "float32")
    with pytest.raises(ValueError, match="`method` must be one of 'structured', 'loop'"):
        net.numerical_gradient(
            x, xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device)), method="fast"
        )


@pytest.mark.mnist
def test_structured_equals_the_loop_on_mnist(backend, f64, mnist_dir) -> None:
    """The loop, 3,190 parameters one at a time, is the reference: it runs on NumPy (a seed
    gives the same weights on every backend; the loop on this backend is compared with the
    structured method above, on a small network), which takes 20 s of eager JAX calls."""
    (x, t), _ = xpnet.load_mnist(data_dir=mnist_dir, dtype="float64")
    xb, tb = x[:30, ...], t[:30]
    net = xpnet.TwoLayerNet(784, 4, 10, weight_init_std=0.1, seed=0, dtype=f64)
    host = xpnet.TwoLayerNet(784, 4, 10, weight_init_std=0.1, seed=0, dtype="float64",
                             backend="numpy")  # fmt: skip
    xh, th = (xpnet.asarray(to_numpy(a), backend="numpy") for a in (xb, tb))
    assert_matches_loop(
        net.numerical_gradient(xb, tb), host.numerical_gradient(xh, th, method="loop"), backend, f64
    )


# --- the batched engine ------------------------------------------------------------------


def test_batched_equals_one_at_a_time(backend, f64) -> None:
    host = np.random.default_rng(0).standard_normal((3, 4))
    x = xpnet.asarray(host, dtype=f64)
    xp = backend.xp

    def f(w):  # one point
        return xp.sum(xp.sin(w) * w)

    def f_batched(points):  # a stack of points
        return xp.sum(xp.sin(points) * points, axis=(1, 2))

    expected = to_numpy(xpnet.numerical_gradient(f, x))
    for chunk in (None, 1, 5, 100):
        got = xpnet.numerical_gradient(f_batched, x, batched=True, chunk_size=chunk)
        assert_close(got, expected, backend=backend, dtype=f64, rtol=1e-12, atol=1e-14)
    assert_close(x, host, backend=backend, dtype=f64, rtol=0)  # never modified


@pytest.mark.reliability("bad input")
def test_batched_float32_and_errors(backend) -> None:
    x = xpnet.asarray([1.0, -2.0], dtype="float32")
    xp = backend.xp
    got = xpnet.numerical_gradient(lambda p: xp.sum(p**2, axis=1), x, batched=True)
    assert_close(got, [2.0, -4.0], backend=backend, dtype=xp.float32, rtol=1e-3)
    with pytest.raises(
        ValueError, match=r"must map points of shape \(B, \*x.shape\) to values of shape \(B,\)"
    ):
        xpnet.numerical_gradient(lambda p: xp.sum(p), x, batched=True)
    with pytest.raises(ValueError, match="`chunk_size` must be positive"):
        xpnet.numerical_gradient(lambda p: xp.sum(p, axis=1), x, batched=True, chunk_size=0)
