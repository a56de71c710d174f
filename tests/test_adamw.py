"""AdamW: an optimizer added as one class, found by name everywhere optimizers are."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import xpnet
from xpnet.backend import float64_available, index_dtype, to_numpy
from xpnet.optim import OPTIMIZERS, Adam, AdamW, from_config


@pytest.fixture
def f64(backend):
    if not float64_available(backend):
        pytest.skip("needs float64")
    return backend.xp.float64


def arrays(backend, dtype, seed=0):
    rng = np.random.default_rng(seed)
    host = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=4)}
    # copies: an array made from host memory may share it, and in-place steps write there
    return host, {k: xpnet.asarray(v.copy(), dtype=dtype) for k, v in host.items()}


@pytest.mark.parametrize("in_place", [False, True])
def test_the_decay_is_decoupled_from_the_gradient(backend, f64, in_place) -> None:
    """With no gradient, weights shrink by lr * weight_decay a step; biases stay."""
    host, params = arrays(backend, f64)
    zero = {k: backend.xp.zeros_like(v) for k, v in params.items()}
    opt = AdamW(lr=0.1, weight_decay=0.2)
    state = opt.init(params)
    for _ in range(3):
        params, state = opt.apply(
            params, zero, state, in_place=in_place and backend.library.in_place
        )
    assert_close(params["W"], host["W"] * 0.98**3, backend=backend, dtype=f64)
    assert_close(params["b"], host["b"], backend=backend, dtype=f64)


def test_without_decay_it_is_adam(backend, f64) -> None:
    _, params = arrays(backend, f64)
    _, grads = arrays(backend, f64, seed=1)
    adam, adamw = Adam(lr=0.01), AdamW(lr=0.01, weight_decay=0.0)
    a, _ = adam.apply(params, grads, adam.init(params))
    w, _ = adamw.apply(params, grads, adamw.init(params))
    for name in a:
        np.testing.assert_array_equal(to_numpy(w[name]), to_numpy(a[name]))


def test_it_follows_the_formula(backend, f64) -> None:
    """Two steps against Loshchilov and Hutter's update written out in NumPy."""
    host, params = arrays(backend, f64)
    lr, b1, b2, wd, eps = 0.01, 0.9, 0.999, 0.1, 1e-7
    opt = AdamW(lr=lr, beta1=b1, beta2=b2, weight_decay=wd)
    state = opt.init(params)
    expected = {k: v.copy() for k, v in host.items()}
    m = {k: np.zeros_like(v) for k, v in host.items()}
    v = {k: np.zeros_like(v) for k, v in host.items()}
    for step in (1, 2):
        host_grads, grads = arrays(backend, f64, seed=step)
        params, state = opt.apply(params, grads, state)
        lr_t = lr * np.sqrt(1 - b2**step) / (1 - b1**step)
        for k, g in host_grads.items():
            if expected[k].ndim >= 2:
                expected[k] = expected[k] - lr * wd * expected[k]
            m[k] += (1 - b1) * (g - m[k])
            v[k] += (1 - b2) * (g * g - v[k])
            expected[k] = expected[k] - lr_t * m[k] / (np.sqrt(v[k]) + eps)
    for k, value in expected.items():
        assert_close(params[k], value, backend=backend, dtype=f64)


def test_it_is_found_by_name_and_trains(backend, tmp_path) -> None:
    assert OPTIMIZERS["adamw"] is AdamW
    assert from_config(AdamW(lr=0.02, weight_decay=0.3).get_config()).weight_decay == 0.3
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 90)
    x = xpnet.asarray(rng.normal(size=(90, 6)) + np.eye(3, 6)[labels] * 2, dtype="float32")
    t = xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device))
    run = dict(iters=40, batch_size=10, optimizer="adamw", lr=0.02, seed=1, verbose=0)
    whole = xpnet.MultiLayerNet(6, [8], 3, seed=0)
    history = xpnet.train(whole, (x, t), **run)
    assert history.config["optimizer"]["class"] == "AdamW"
    assert history.train_acc[-1] > 0.8 > history.train_acc[0]
    path = tmp_path / "c.npz"
    half = xpnet.MultiLayerNet(6, [8], 3, seed=0)
    xpnet.train(half, (x, t), checkpoint=path, **{**run, "iters": 20})
    resumed = xpnet.MultiLayerNet(6, [8], 3, seed=9)
    again = xpnet.train(resumed, (x, t), checkpoint=path, resume=True, **run)
    assert again.train_loss == history.train_loss


def test_weight_decay_by_name_is_adamws_own_decay(backend) -> None:
    """optimizer="adamw" with weight_decay: AdamW's decoupled decay, no L2 term in the loss."""
    rng = np.random.default_rng(1)
    x = xpnet.asarray(rng.normal(size=(40, 6)), dtype="float32")
    t = xpnet.asarray(rng.integers(0, 3, 40), dtype=index_dtype(backend.xp, backend.device))
    run = dict(iters=5, batch_size=10, lr=0.01, seed=2, verbose=0, compile=False)
    named = xpnet.MultiLayerNet(6, [8], 3, seed=0)
    history = xpnet.train(named, (x, t), optimizer="adamw", weight_decay=0.5, **run)
    assert history.config["optimizer"]["weight_decay"] == 0.5
    built = xpnet.MultiLayerNet(6, [8], 3, seed=0)
    optimizer = AdamW(lr=0.01, weight_decay=0.5)
    same = xpnet.train(built, (x, t), optimizer=optimizer, **{**run, "lr": None})
    assert same.train_loss == history.train_loss  # no second, L2, decay
    for name, value in named.params.items():
        np.testing.assert_array_equal(to_numpy(value), to_numpy(built.params[name]))
    assert named.params["W1"].dtype == backend.xp.float32
    assert xpnet.namespace(named.params["W1"]) is backend.xp


def test_a_rate_with_an_optimizer_object_is_refused(backend) -> None:
    with pytest.raises(xpnet.errors.XpnetTypeError) as info:
        xpnet.TrainConfig(optimizer=Adam(lr=0.01), lr=0.1)
    assert str(info.value) == (
        "`lr` applies to an optimizer given by name; an optimizer object keeps its own rate "
        "(set it there). Received: lr=0.1 with Adam(lr=0.01, beta1=0.9, beta2=0.999)."
    )
