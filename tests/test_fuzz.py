"""Fuzzing public functions with shapes, dtypes and values from hypothesis.

Whatever comes in, the result is either correct in kind (namespace, dtype,
shape, finite where the inputs are) or a TypeError / ValueError naming the
argument, never another exception and never a silently wrong shape.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xpnet
from xpnet.backend import float64_available

DTYPES = ["float32", "float64", "int32", "int64", "uint8", "bool"]

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


def on_backend(backend, host: np.ndarray, dtype: str):
    if dtype.endswith("64") and not float64_available(backend):
        dtype = dtype.replace("64", "32")
    if not dtype.startswith("float"):  # integers: small values, no overflow in the cast
        host = np.clip(np.round(host), 0, 9)
    return xpnet.asarray(host.astype(dtype), dtype=dtype)


def expect_clean_failure(call, *names: str) -> None:
    """Run `call`; any exception must be a TypeError/ValueError naming one of `names`."""
    try:
        call()
    except (TypeError, ValueError) as exc:
        assert any(f"`{name}`" in str(exc) for name in names), str(exc)


fuzz = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# Random `y` are not probabilities; that warning is tested in tests/test_reader.py.
@pytest.mark.filterwarnings("ignore::xpnet.errors.ProbabilityWarning")
@pytest.mark.reliability("bad input (fuzzed)")
@fuzz
@given(
    y_shape=shapes,
    t_shape=shapes,
    y_dtype=st.sampled_from(DTYPES),
    t_dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 99),
)
def test_losses_fuzzed(backend, y_shape, t_shape, y_dtype, t_dtype, seed) -> None:
    rng = np.random.default_rng(seed)
    y = on_backend(backend, rng.random(y_shape), y_dtype)
    t = on_backend(backend, rng.integers(0, 3, size=t_shape), t_dtype)
    for loss in (xpnet.cross_entropy_error, xpnet.mean_squared_error):
        expect_clean_failure(lambda loss=loss: check_loss(backend, loss(y, t), y), "y", "t")


def check_loss(backend, value, y) -> None:
    assert tuple(value.shape) == ()
    assert value.dtype == y.dtype
    assert np.isfinite(xpnet.to_numpy(value))


@pytest.mark.reliability("bad input (fuzzed)")
@fuzz
@given(shape=shapes, dtype=st.sampled_from(DTYPES), scale=st.sampled_from([1.0, 1e4, 1e30]))
def test_activations_fuzzed(backend, shape, dtype, scale) -> None:
    x = on_backend(backend, np.random.default_rng(0).standard_normal(shape) * scale, dtype)
    for f in (xpnet.sigmoid, xpnet.softmax):

        def call(f=f):
            out = f(x)
            assert tuple(out.shape) == tuple(x.shape) and out.dtype == x.dtype
            host = xpnet.to_numpy(out)
            assert np.isfinite(host).all() and (host >= 0).all() and (host <= 1).all()

        if len(shape) == 0 and f is xpnet.softmax:
            continue  # softmax of a 0-d array has no axis
        expect_clean_failure(call, "x")


@pytest.mark.reliability("bad input (fuzzed)")
@fuzz
@given(
    n=st.integers(0, 5), d=st.integers(1, 6), dtype=st.sampled_from(DTYPES),
    label_shift=st.integers(-2, 4), one_hot=st.booleans(),
)  # fmt: skip
def test_network_fuzzed(backend, n, d, dtype, label_shift, one_hot) -> None:
    net = xpnet.TwoLayerNet(4, 3, 3, seed=0)
    x = on_backend(backend, np.random.default_rng(1).random((n, d)), dtype)
    labels = np.arange(n) % 3 + label_shift
    t = on_backend(
        backend,
        np.eye(4)[labels % 4][:, :3] if one_hot else labels,
        "float32" if one_hot else "int64",
    )
    before = xpnet.to_numpy(net.params["W1"]).copy()
    for method in (net.loss, net.accuracy, net.gradient):
        expect_clean_failure(lambda method=method: method(x, t), "x", "t")
    np.testing.assert_array_equal(xpnet.to_numpy(net.params["W1"]), before)
