"""Numerical differentiation and gradient descent."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

import xpnet
from xpnet.backend import index_dtype, is_writeable, to_numpy
from xpnet.gradient import default_step


def function_2(x):
    return x[0] ** 2 + x[1] ** 2


@pytest.mark.backend_independent
def test_numerical_diff_chapter_values() -> None:
    def function_1(x):
        return 0.01 * x**2 + 0.1 * x

    assert xpnet.numerical_diff(function_1, 5.0) == pytest.approx(0.2, abs=1e-9)
    assert xpnet.numerical_diff(function_1, 10.0) == pytest.approx(0.3, abs=1e-9)


@pytest.mark.parametrize(
    ("point", "expected"),
    [((3.0, 4.0), (6.0, 8.0)), ((0.0, 2.0), (0.0, 4.0)), ((3.0, 0.0), (6.0, 0.0))],
)
def test_gradient_chapter_values(backend, dtype, point, expected) -> None:
    x = xpnet.asarray(point, dtype=dtype)
    rtol, atol = (1e-8, 1e-8) if "64" in str(dtype) else (1e-4, 1e-4)
    assert_close(
        xpnet.numerical_gradient(function_2, x),
        expected,
        backend=backend,
        dtype=dtype,
        rtol=rtol,
        atol=atol,
    )


@pytest.mark.parametrize(
    ("lr", "expected", "rtol"),
    [
        (0.1, (-6.11110793e-10, 8.14814391e-10), 1e-6),
        (10.0, (-2.58983747e13, -1.29524862e12), 1e-6),
        (1e-10, (-2.99999994, 3.99999992), 1e-8),
    ],
)
def test_gradient_descent_chapter_values(backend, lr, expected, rtol) -> None:
    if not xpnet.backend.float64_available(backend):
        pytest.skip("the chapter's values are float64")
    dtype = backend.xp.float64
    init = xpnet.asarray([-3.0, 4.0], dtype=dtype)
    x = xpnet.gradient_descent(function_2, init, lr=lr, step_num=100)
    assert_close(x, expected, backend=backend, dtype=dtype, rtol=rtol)
    assert_close(init, [-3.0, 4.0], backend=backend, dtype=dtype, rtol=0)


def test_gradient_descent_history(backend, dtype) -> None:
    init = xpnet.asarray([-3.0, 4.0], dtype=dtype)
    x, path = xpnet.gradient_descent(function_2, init, lr=0.1, step_num=20, history=True)
    expected = np.array([[-3.0, 4.0]]) * (0.8 ** np.arange(20))[:, None]
    assert_close(path, expected, backend=backend, dtype=dtype, rtol=1e-3)
    assert_close(x, [-3.0 * 0.8**20, 4.0 * 0.8**20], backend=backend, dtype=dtype, rtol=1e-3)
    _, empty = xpnet.gradient_descent(function_2, init, step_num=0, history=True)
    assert tuple(empty.shape) == (0, 2)


def test_four_dimensional_weights(backend, dtype) -> None:
    host = np.random.default_rng(0).standard_normal((2, 3, 2, 2))
    x = xpnet.asarray(host, dtype=dtype)
    grad = xpnet.numerical_gradient(lambda w: backend.xp.sum(w**3), x)
    rtol = 1e-7 if "64" in str(dtype) else 2e-2
    assert_close(grad, 3 * host**2, backend=backend, dtype=dtype, rtol=rtol, atol=rtol)


def test_chapter_idiom_with_a_closure(backend) -> None:
    """`f` ignores its argument and reads the array it closes over."""
    w = xpnet.asarray([[1.0, 2.0], [3.0, 4.0]], dtype="float32")
    before = to_numpy(w).copy()

    def loss(_):
        return backend.xp.sum(w * w)

    if is_writeable(w):
        grad = xpnet.numerical_gradient(loss, w)
        assert_close(grad, 2 * before, backend=backend, dtype=w.dtype, rtol=1e-3)
    else:  # never a silently zero gradient
        with pytest.raises(ValueError, match="`f` ignores its argument"):
            xpnet.numerical_gradient(loss, w)
    np.testing.assert_array_equal(to_numpy(w), before)


@pytest.mark.reliability("faults")
def test_restores_bit_for_bit_when_f_raises(backend) -> None:
    values = np.array([0.1, -0.0, 1e-30, 3.0000001], dtype=np.float32)
    x = xpnet.asarray(values, dtype="float32")
    calls = []

    def flaky(v):
        calls.append(1)
        if len(calls) == 5:
            raise KeyError("boom")
        return backend.xp.sum(v)

    with pytest.raises(KeyError, match="boom"):
        xpnet.numerical_gradient(flaky, x)
    np.testing.assert_array_equal(to_numpy(x).view(np.uint32), values.view(np.uint32))


def test_default_step_depends_on_dtype(xp) -> None:
    assert default_step(xp, xp.float64) == 1e-4
    assert default_step(xp, xp.float32) == pytest.approx(4.9e-3, rel=0.01)


@pytest.mark.reliability("bad input")
def test_integer_arrays_are_refused(backend) -> None:
    x = xpnet.asarray([3, 4], dtype=index_dtype(backend.xp, backend.device))
    with pytest.raises(TypeError, match=r"`x` must be a real floating.*int"):
        xpnet.numerical_gradient(function_2, x)
    with pytest.raises(TypeError, match="`init_x` must be a real floating"):
        xpnet.gradient_descent(function_2, x)
    with pytest.raises(ValueError, match="`step_num` must be non-negative"):
        xpnet.gradient_descent(function_2, xpnet.asarray([1.0]), step_num=-1)


ANALYTIC = {
    "sum of squares": (lambda xp, w: xp.sum(w**2), lambda w: 2 * w),
    "sum of sines": (lambda xp, w: xp.sum(xp.sin(w)), np.cos),
    "log-sum-exp": (lambda xp, w: xp.log(xp.sum(xp.exp(w))), lambda w: np.exp(w) / np.exp(w).sum()),
}


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(sorted(ANALYTIC)),
    shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple),
    seed=st.integers(0, 2**16),
)
def test_matches_analytic_gradients(backend, name, shape, seed) -> None:
    f, df = ANALYTIC[name]
    host = np.random.default_rng(seed).uniform(-2, 2, size=shape)
    dtype = backend.xp.float64 if xpnet.backend.float64_available(backend) else backend.xp.float32
    x = xpnet.asarray(host, dtype=dtype)
    tol = 1e-6 if dtype == backend.xp.float64 else 2e-2
    assert_close(
        xpnet.numerical_gradient(lambda w: f(backend.xp, w), x),
        df(host),
        backend=backend,
        dtype=dtype,
        rtol=tol,
        atol=tol,
    )


def test_stationary_point_is_not_mistaken_for_an_ignored_argument(backend) -> None:
    """At the origin every derivative of x0**2 + x1**2 is 0, and no warning is due."""
    import warnings

    x = xpnet.asarray([0.0, 0.0], dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grad = xpnet.numerical_gradient(function_2, x)
    assert_close(grad, [0.0, 0.0], backend=backend, dtype=x.dtype)
