"""LayerNorm: a layer added as one class in one file, used by every network and compiler."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import xpnet
from xpnet.backend import float64_available, index_dtype, to_numpy
from xpnet.layers import NORMALIZATIONS, Affine, LayerNorm, Relu


@pytest.fixture
def f64(backend):
    if not float64_available(backend):
        pytest.skip("needs float64")
    return backend.xp.float64


def reference(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def test_forward_normalises_each_sample_over_its_features(backend, f64) -> None:
    rng = np.random.default_rng(0)
    x, gamma, beta = rng.normal(2.0, 3.0, (5, 4)), rng.random(4) + 0.5, rng.random(4)
    layer = LayerNorm(xpnet.asarray(gamma, dtype=f64), xpnet.asarray(beta, dtype=f64))
    out = layer.forward(xpnet.asarray(x, dtype=f64))
    assert_close(out, reference(x, gamma, beta), backend=backend, dtype=f64)
    assert_close(  # the same in test mode, and for a batch of one
        layer.forward(xpnet.asarray(x[:1, :], dtype=f64), train_flg=False),
        reference(x[:1, :], gamma, beta), backend=backend, dtype=f64,
    )  # fmt: skip


def test_backward_passes_the_gradient_check(backend, f64) -> None:
    rng = np.random.default_rng(1)
    x = xpnet.asarray(rng.normal(size=(6, 5)), dtype=f64)
    dout = xpnet.asarray(rng.normal(size=(6, 5)), dtype=f64)
    params = {
        "x": x,
        "gamma": xpnet.asarray(rng.random(5) + 0.5, dtype=f64),
        "beta": xpnet.asarray(rng.random(5), dtype=f64),
    }
    xp = backend.xp
    layer = LayerNorm(params["gamma"], params["beta"])

    def objective(p):
        return xp.sum(LayerNorm(p["gamma"], p["beta"]).forward(p["x"]) * dout)

    layer.forward(x)
    claimed = {"x": layer.backward(dout), "gamma": layer.dgamma, "beta": layer.dbeta}
    assert xpnet.check_grads(objective, params, claimed).passed


def test_backward_matches_the_autodiff_oracle(backend, f64) -> None:
    rng = np.random.default_rng(2)
    x = xpnet.asarray(rng.normal(1.0, 2.0, (4, 3)), dtype=f64)
    dout = xpnet.asarray(rng.normal(size=(4, 3)), dtype=f64)
    gamma, beta = (xpnet.asarray(rng.random(3) + 0.5, dtype=f64) for _ in range(2))
    xp = backend.xp

    def objective(p):  # the formula written out, for the library's autodiff
        mu = xp.mean(p["x"], axis=1, keepdims=True)
        var = xp.mean((p["x"] - mu) ** 2, axis=1, keepdims=True)
        return xp.sum((p["gamma"] * (p["x"] - mu) / xp.sqrt(var + 1e-5) + p["beta"]) * dout)

    params = {"x": x, "gamma": gamma, "beta": beta}
    if backend.name == "torch":
        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        objective(leaves).backward()
        oracle = {k: v.grad for k, v in leaves.items()}
    elif backend.name == "jax":
        import jax

        oracle = jax.grad(objective)(params)
    else:
        pytest.skip("no autodiff oracle on this backend (torch and jax sessions have one)")
    layer = LayerNorm(gamma, beta)
    layer.forward(x)
    got = {"x": layer.backward(dout), "gamma": layer.dgamma, "beta": layer.dbeta}
    for name, value in got.items():
        assert_close(value, to_numpy(oracle[name]), backend=backend, dtype=f64, rtol=1e-10,
                     atol=1e-12)  # fmt: skip


def data(backend, n=60, d=8, c=3):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, c, n)
    x = rng.normal(0.0, 1.0, (n, d)) + np.eye(c, d)[labels] * 2
    return (
        xpnet.asarray(x, dtype="float32"),
        xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device)),
    )


def test_networks_take_it_by_name(backend, tmp_path) -> None:
    assert NORMALIZATIONS["layer"] is LayerNorm
    net = xpnet.MultiLayerNetExtend(8, [6, 5], 3, normalization="layer", seed=0)
    assert net.param_names() == ["W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1",
                                 "gamma2", "beta2"]  # fmt: skip
    assert net.buffers == {} and net.get_config()["normalization"] == "layer"
    x, t = data(backend)
    assert net.check_gradient(xpnet.head(x, 10), xpnet.head(t, 10), mode="fast", seed=0).passed
    history = xpnet.train(net, (x, t), iters=60, batch_size=10, optimizer="adam", lr=0.02,
                          seed=0, verbose=0)  # fmt: skip
    assert history.train_acc[-1] > 0.8 > history.train_acc[0]
    net.save(tmp_path / "ln.npz")
    again = xpnet.MultiLayerNetExtend.load(tmp_path / "ln.npz")
    np.testing.assert_array_equal(to_numpy(again.predict(x)), to_numpy(net.predict(x)))


def test_sequential_and_every_compiler_run_it(backend) -> None:
    """In a Sequential of one's own, eager and (where the backend has one) compiled alike."""
    x, t = data(backend)

    def network():
        layers = [Affine(units=6), LayerNorm(), Relu(), Affine(units=3)]
        return xpnet.Sequential(layers, (8,), seed=1)

    eager = network()
    h1 = xpnet.train(eager, (x, t), iters=30, batch_size=10, seed=0, lr=0.5, verbose=0,
                     compile=False)  # fmt: skip
    if backend.library.compiler is None:
        return
    compiled = network()
    h2 = xpnet.train(compiled, (x, t), iters=30, batch_size=10, seed=0, lr=0.5, verbose=0,
                     compile=True)  # fmt: skip
    np.testing.assert_allclose(h2.train_loss, h1.train_loss, rtol=1e-4)


def test_two_normalisations_at_once_are_refused(backend) -> None:
    with pytest.raises(ValueError, match="give one of them"):
        xpnet.MultiLayerNetExtend(8, [6], 3, use_batchnorm=True, normalization="layer")
