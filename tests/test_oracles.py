"""Autodiff oracles: xpnet's derivatives against torch.autograd and jax.grad.

In the torch sessions the oracle is ``torch.autograd``, in the JAX session
``jax.grad``, each differentiating xpnet's own forward code on that backend's
arrays. Every function with a derivative (sigmoid, relu, softmax, both
losses), every layer's backward and TwoLayerNet's gradient must agree with
it, on random shapes; and ``check_grads`` must pass the oracle's gradient.
Other sessions have no autodiff library of their own: they skip, and import
neither torch nor jax.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xpnet
from xpnet import functions as F
from xpnet.backend import float64_available, to_numpy
from xpnet.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss

BACKEND = os.environ.get("XPNET_BACKEND") or "numpy"
pytestmark = pytest.mark.skipif(
    BACKEND not in ("torch", "jax"),
    reason=f"autodiff oracles run in the torch and jax sessions; {BACKEND!r} has no autodiff",
)
#: Random shapes; JAX compiles every operation anew for each shape (seconds on
#: 2 cores), so its session draws values, not shapes.
ROWS = st.sampled_from([4] if BACKEND == "jax" else [1, 2, 4, 7])
COLS = st.sampled_from([3] if BACKEND == "jax" else [2, 3, 5, 10])
SIZES = st.sampled_from([2] if BACKEND == "jax" else [1, 2, 4])
ORACLE = settings(max_examples=6, deadline=None, derandomize=True)


def autodiff(backend, fn, x):
    """The gradient of scalar `fn` at `x` (an array or a dict of arrays) by the backend's autodiff."""
    if BACKEND == "jax":
        import jax

        return jax.grad(fn)(x)
    import torch

    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in as_dict(x).items()}
    grads = torch.autograd.grad(
        fn(leaves if isinstance(x, dict) else leaves["x"]), list(leaves.values())
    )
    out = dict(zip(leaves, grads, strict=True))
    return out if isinstance(x, dict) else out["x"]


def as_dict(x):
    return x if isinstance(x, dict) else {"x": x}


def use_dtype(backend, name):
    if name == "float64" and not float64_available(backend):
        pytest.skip(f"{backend} has no float64")
    return getattr(backend.xp, name)


def assert_same(actual, expected, dtype_name: str, floor: float = 0.0) -> None:
    """Rounding-level agreement, relative to the larger of the two arrays (or `floor`)."""
    a, e = to_numpy(actual).astype(np.float64), to_numpy(expected).astype(np.float64)
    assert a.shape == e.shape
    eps = np.finfo(dtype_name).eps
    scale = max(np.abs(a).max(), np.abs(e).max(), floor, 1e-300)
    np.testing.assert_allclose(a, e, rtol=0, atol=200 * eps * scale)


def random(backend, dtype, shape, seed, scale=1.0):
    return xpnet.random.default_rng(seed).normal(shape, scale, dtype=dtype, backend=backend)


def labels(backend, n, c, seed):
    return xpnet.random.default_rng(seed).integers(c, (n,), backend=backend)


# -- functions ---------------------------------------------------------------------------


def away_from_kink(xp, x):
    """Shift values away from 0 (relu's kink) by 0.1, keeping their sign."""
    return xp.where(x >= 0, x + 0.1, x - 0.1)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sigmoid", "relu", "softmax"])
@ORACLE
@given(n=ROWS, c=COLS, seed=st.integers(0, 2**16))
def test_activations_match_the_oracle(backend, dtype_name, name, n, c, seed) -> None:
    xp, dtype = backend.xp, use_dtype(backend, dtype_name)
    x = away_from_kink(xp, random(backend, dtype, (n, c), seed, 3.0))
    w = random(backend, dtype, (n, c), seed + 1)
    fn = {"sigmoid": F.sigmoid, "relu": F.relu, "softmax": F.softmax}[name]
    oracle = autodiff(backend, lambda v: xp.sum(w * fn(v)), x)
    if name == "softmax":  # J^T w = y * (w - sum(w * y)), row by row
        y = F.softmax(x)
        derivative = y * (w - xp.sum(w * y, axis=-1, keepdims=True))
    else:  # the layer's backward is the function's derivative
        layer = Sigmoid() if name == "sigmoid" else Relu()
        layer.forward(x)
        derivative = layer.backward(w)
    assert_same(derivative, oracle, dtype_name)
    xpnet.check_grads(lambda v: xp.sum(w * fn(v)), x, oracle)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("target", ["labels", "one-hot"])
# The check's perturbed rows no longer sum to 1 (by the step, 5e-3 in float32).
@pytest.mark.filterwarnings("ignore::xpnet.errors.ProbabilityWarning")
@ORACLE
@given(n=ROWS, c=COLS, seed=st.integers(0, 2**16))
def test_losses_match_the_oracle(backend, dtype_name, target, n, c, seed) -> None:
    dtype = use_dtype(backend, dtype_name)
    # probabilities well above the step h, where -log(y) is smooth at the step's scale
    y = F.softmax(random(backend, dtype, (n, c), seed, 0.3))
    t = labels(backend, n, c, seed + 1)
    hot = F.one_hot(t, c, dtype=dtype)
    t_arg = t if target == "labels" else hot
    oracle = autodiff(backend, lambda v: F.cross_entropy_error(v, t_arg), y)
    assert_same(-hot / (y + F.LOG_EPS) / n, oracle, dtype_name)  # d/dy of -mean log(y_t + 1e-7)
    xpnet.check_grads(lambda v: F.cross_entropy_error(v, t_arg), y, oracle)
    oracle = autodiff(backend, lambda v: F.mean_squared_error(v, hot), y)
    assert_same((y - hot) / n, oracle, dtype_name)  # d/dy of mean 0.5 sum (y - t)**2
    xpnet.check_grads(lambda v: F.mean_squared_error(v, hot), y, oracle)


# -- layers --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@ORACLE
@given(n=ROWS, d=COLS, m=SIZES, image=st.booleans(), seed=st.integers(0, 2**16))
def test_affine_backward_matches_the_oracle(backend, dtype_name, n, d, m, image, seed) -> None:
    xp, dtype = backend.xp, use_dtype(backend, dtype_name)
    shape = (n, 1, d) if image else (n, d)  # (N, ...) inputs are flattened
    p = {
        "x": random(backend, dtype, shape, seed),
        "W": random(backend, dtype, (d, m), seed + 1),
        "b": random(backend, dtype, (m,), seed + 2),
    }
    dout = random(backend, dtype, (n, m), seed + 3)
    oracle = autodiff(backend, lambda q: xp.sum(dout * Affine(q["W"], q["b"]).forward(q["x"])), p)
    layer = Affine(p["W"], p["b"])
    layer.forward(p["x"])
    dx = layer.backward(dout)
    for name, value in {"x": dx, "W": layer.dW, "b": layer.db}.items():
        assert_same(value, oracle[name], dtype_name)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("target", ["labels", "one-hot"])
@ORACLE
@given(n=ROWS, c=COLS, scale=st.sampled_from([0.5, 1.0]), seed=st.integers(0, 2**16))
def test_softmax_with_loss_backward_matches_the_oracle(
    backend, dtype_name, target, n, c, scale, seed
) -> None:
    dtype = use_dtype(backend, dtype_name)
    x = random(backend, dtype, (n, c), seed, 3.0)
    t = labels(backend, n, c, seed + 1)
    t_arg = t if target == "labels" else F.one_hot(t, c, dtype=dtype)
    oracle = autodiff(backend, lambda v: scale * SoftmaxWithLoss().forward(v, t_arg), x)
    layer = SoftmaxWithLoss()
    layer.forward(x, t_arg)
    # y - t cancels where y_t is near 1: an error of eps * scale / n in each score
    assert_same(layer.backward(scale), oracle, dtype_name, floor=scale / n)


# -- TwoLayerNet -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@ORACLE
@given(n=ROWS, d=COLS, h=SIZES, seed=st.integers(0, 2**16))
def test_two_layer_net_gradient_matches_the_oracle(
    backend, dtype_name, activation, n, d, h, seed
) -> None:
    dtype = use_dtype(backend, dtype_name)
    net = xpnet.TwoLayerNet(
        d, h, 3, weight_init_std=1.0, activation=activation, seed=seed, dtype=dtype
    )
    x = random(backend, dtype, (n, d), seed + 1)
    t = labels(backend, n, 3, seed + 2)

    def loss(params):
        return net.loss_and_gradient(x, t, params=params, check_input=False)[0]

    oracle = autodiff(backend, loss, dict(net.params))
    _, grads = net.loss_and_gradient(x, t)
    for name, value in grads.items():
        # The layer's y - t cancels where a prediction is confident (y_t near 1):
        # an error of eps relative to 1, not to the gradient, in each score.
        assert_same(value, oracle[name], dtype_name, floor=1.0)
