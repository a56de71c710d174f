"""Chapter 6's layers and networks: BatchNormalization, Dropout, MultiLayerNet(Extend).

Backward passes are checked three ways: against hand-computed NumPy values,
against central differences (float64, every backend), and against an
autodiff oracle — torch.autograd on the PyTorch session, jax.grad on the JAX
session — differentiating a forward pass written here, independently of
xpnet's layers.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_array, assert_close

import xpnet
from xpnet.backend import dtype_name, float64_available, index_dtype, to_numpy
from xpnet.layers import BatchNormalization, Dropout, dropout_mask
from xpnet.nets import MultiLayerNet, MultiLayerNetExtend
from xpnet.optim import Adam
from xpnet.random import advance_key, key_uniform, new_key


@pytest.fixture
def f64(backend):
    if not float64_available(backend):
        pytest.skip("needs float64")
    return backend.xp.float64


def labels(backend, values):
    return xpnet.asarray(np.asarray(values), dtype=index_dtype(backend.xp, backend.device))


# --- the counter-based generator behind dropout ----------------------------------------------


def lowbias32(x: np.ndarray) -> np.ndarray:
    """The reference mixer on uint32 (xpnet computes it on int32 of any backend)."""
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def test_key_uniform_is_the_documented_hash_on_every_backend(backend) -> None:
    seed, counter, stream, shape = 123456789, 41, 3, (4, 5)
    key = new_key(seed)
    for _ in range(counter):
        key = advance_key(key)
    assert_array(key, backend=backend, dtype=backend.xp.int32, shape=(2,))
    golden, spread = np.uint32(0x9E3779B9), np.uint32(0x27D4EB2D)
    with np.errstate(over="ignore"):
        salted = np.asarray([counter], dtype=np.uint32) * golden + np.uint32(stream)
        base = lowbias32(np.asarray([seed], dtype=np.uint32) ^ lowbias32(salted))
        bits = lowbias32((np.arange(20, dtype=np.uint32) * spread) ^ base)
    expected = ((bits >> np.uint32(8)) & np.uint32(0xFFFFFF)) / 2.0**24
    got = key_uniform(key, shape, stream=stream, dtype=backend.xp.float32)
    assert_close(got, expected.reshape(shape), backend=backend, dtype=backend.xp.float32, rtol=0)


def test_uniform_numbers_look_uniform(backend) -> None:
    u = to_numpy(key_uniform(new_key(0), (100_000,), dtype=backend.xp.float32))
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > 9_500
    other = to_numpy(key_uniform(new_key(0), (100_000,), stream=1, dtype=backend.xp.float32))
    assert abs(np.corrcoef(u, other)[0, 1]) < 0.02


# --- layers ----------------------------------------------------------------------------


def test_batchnorm_forward_train_and_test(backend, dtype) -> None:
    rng = np.random.default_rng(0)
    x, gamma, beta = rng.normal(2.0, 3.0, (6, 4)), rng.random(4) + 0.5, rng.random(4)
    layer = BatchNormalization(xpnet.asarray(gamma, dtype=dtype), xpnet.asarray(beta, dtype=dtype))
    out = layer.forward(xpnet.asarray(x, dtype=dtype), train_flg=True)
    mu, var = x.mean(axis=0), x.var(axis=0)
    tol = 1e-5 if "32" in str(dtype) else 1e-12
    expected = gamma * (x - mu) / np.sqrt(var + 1e-6) + beta
    assert_close(out, expected, backend=backend, dtype=dtype, rtol=tol, atol=tol)
    assert_close(layer.running_mean, 0.1 * mu, backend=backend, dtype=dtype, rtol=tol)
    assert_close(layer.running_var, 0.9 + 0.1 * var, backend=backend, dtype=dtype, rtol=tol)
    test = layer.forward(xpnet.asarray(x, dtype=dtype), train_flg=False)
    expected = gamma * (x - 0.1 * mu) / np.sqrt(0.9 + 0.1 * var + 1e-6) + beta
    assert_close(test, expected, backend=backend, dtype=dtype, rtol=tol, atol=tol)


def _numerical(f, value):
    return to_numpy(xpnet.numerical_gradient(f, value, batched=False))


def test_batchnorm_backward_matches_central_differences(backend, f64) -> None:
    rng = np.random.default_rng(1)
    x, dout = (xpnet.asarray(rng.normal(size=(5, 3)), dtype=f64) for _ in range(2))
    gamma = xpnet.asarray(rng.random(3) + 0.5, dtype=f64)
    beta = xpnet.asarray(rng.random(3), dtype=f64)
    layer = BatchNormalization(gamma, beta)
    layer.forward(x)
    dx = layer.backward(dout)
    xp = backend.xp

    def objective(x_, gamma_=gamma, beta_=beta):
        return xp.sum(BatchNormalization(gamma_, beta_).forward(x_) * dout)

    assert_close(dx, _numerical(lambda v: objective(v), x), backend=backend, dtype=f64, rtol=1e-7)
    num_gamma = _numerical(lambda v: objective(x, v), gamma)
    num_beta = _numerical(lambda v: objective(x, gamma, v), beta)
    assert_close(layer.dgamma, num_gamma, backend=backend, dtype=f64, rtol=1e-7)
    assert_close(layer.dbeta, num_beta, backend=backend, dtype=f64, rtol=1e-7)


def test_dropout_train_test_backward(backend, dtype) -> None:
    x = xpnet.asarray(np.full((50, 40), 2.0), dtype=dtype)
    layer = Dropout(0.3, seed=5)
    out = to_numpy(layer.forward(x))
    kept = out != 0
    assert set(np.unique(out)) <= {0.0, 2.0} and 0.6 < kept.mean() < 0.8
    dx = layer.backward(xpnet.asarray(np.ones((50, 40)), dtype=dtype))
    assert_close(dx, kept.astype(float), backend=backend, dtype=dtype, rtol=0)
    again = Dropout(0.3, seed=5).forward(x)  # the same seed, the same first mask
    assert_close(again, out, backend=backend, dtype=dtype, rtol=0)
    assert not np.array_equal(to_numpy(layer.forward(x)), out)  # the next mask differs
    assert_close(layer.forward(x, train_flg=False), np.full((50, 40), 1.4), backend=backend,
                 dtype=dtype)  # fmt: skip


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_bad_layer_settings() -> None:
    with pytest.raises(ValueError, match=r"`dropout_ratio` must be in \[0, 1\)"):
        Dropout(1.0)
    with pytest.raises(ValueError, match=r"`momentum` must be in \[0, 1\)"):
        BatchNormalization(np.ones(2), np.zeros(2), momentum=1.5)


# --- an independent forward pass, for the autodiff oracles ---------------------------------


def reference_loss(xp, params, x, onehot, *, layers, bn, masks, decay, activation):
    """The book's network written out with plain array operations (no xpnet code)."""
    h = x
    for i in range(1, layers + 2):
        h = h @ params[f"W{i}"] + params[f"b{i}"]
        if i == layers + 1:
            break
        if bn:
            mu = xp.mean(h, axis=0)
            var = xp.mean((h - mu) ** 2, axis=0)
            h = params[f"gamma{i}"] * (h - mu) / xp.sqrt(var + 1e-6) + params[f"beta{i}"]
        h = xp.maximum(h, 0.0 * h) if activation == "relu" else 1 / (1 + xp.exp(-h))
        if i in masks:
            h = h * masks[i]
    h = h - xp.max(h, axis=1, keepdims=True)
    y = xp.exp(h) / xp.sum(xp.exp(h), axis=1, keepdims=True)
    loss = -xp.sum(xp.log(xp.sum(y * onehot, axis=1) + 1e-7)) / x.shape[0]
    for i in range(1, layers + 2):
        loss = loss + 0.5 * decay * xp.sum(params[f"W{i}"] ** 2)
    return loss


def oracle_gradient(backend, params, loss_of):
    """d loss / d params by torch.autograd (PyTorch session) or jax.grad (JAX session)."""
    if backend.name == "torch":
        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        loss_of(leaves).backward()
        return {k: v.grad for k, v in leaves.items()}
    if backend.name == "jax":
        import jax

        return jax.grad(loss_of)(params)
    pytest.skip("no autodiff oracle on this backend (torch and jax sessions have one)")


NETWORKS = [
    ("relu-decay", MultiLayerNet, {"activation": "relu", "weight_decay_lambda": 0.1}),
    ("batchnorm", MultiLayerNetExtend, {"use_batchnorm": True}),
    ("dropout", MultiLayerNetExtend, {"use_dropout": True, "dropout_ration": 0.3}),
    (
        "batchnorm-dropout-sigmoid-decay",
        MultiLayerNetExtend,
        {
            "use_batchnorm": True,
            "use_dropout": True,
            "activation": "sigmoid",
            "weight_decay_lambda": 0.05,
        },
    ),
]


def make_net(cls, kwargs, dtype, seed=3):
    """A small network whose biases are random too (zero biases put ReLU on its kink).

    Every layer is 4 wide: few distinct shapes keep JAX's per-shape compiles few.
    """
    net = cls(4, [4, 4], 4, weight_init_std=0.8, dtype=dtype, seed=seed, **kwargs)
    rng = np.random.default_rng(seed)
    for name, value in net.params.items():
        if name.startswith(("b", "beta")):
            net.params[name] = xpnet.asarray(rng.normal(0, 0.5, value.shape), dtype=dtype)
        if name.startswith("gamma"):
            net.params[name] = xpnet.asarray(rng.random(value.shape) + 0.5, dtype=dtype)
    return net


def small_batch(backend, dtype, n=7):
    rng = np.random.default_rng(0)
    return xpnet.asarray(rng.random((n, 4)), dtype=dtype), labels(backend, rng.integers(0, 4, n))


@pytest.mark.parametrize(("name", "cls", "kwargs"), NETWORKS, ids=[n[0] for n in NETWORKS])
def test_gradient_matches_numerical_gradient(backend, f64, name, cls, kwargs) -> None:
    """gradcheck below 1e-6 in float64, dropout included (its masks are fixed by the key)."""
    net = make_net(cls, kwargs, f64)
    x, t = small_batch(backend, f64)
    bp, num = net.gradient(x, t), net.numerical_gradient(x, t)
    report = xpnet.gradcheck(net, x, t)
    assert list(report) == net.param_names()
    for param, value in report.items():
        if net.use_batchnorm and param in ("b1", "b2"):
            # A bias right before BatchNormalization cancels out: its true gradient is
            # 0, so both methods give rounding noise and the ratio means nothing.
            assert float(np.abs(to_numpy(bp[param])).max()) < 1e-12
            assert float(np.abs(to_numpy(num[param])).max()) < 1e-9
        else:
            assert value < 1e-6, (param, report)


@pytest.mark.parametrize(("name", "cls", "kwargs"), NETWORKS, ids=[n[0] for n in NETWORKS])
def test_gradient_matches_the_autodiff_oracle(backend, f64, name, cls, kwargs) -> None:
    net = make_net(cls, kwargs, f64)
    x, t = small_batch(backend, f64)
    xp = backend.xp
    loss, grads, buffers = net.loss_gradient_buffers(x, t)
    masks = {}
    if net.use_dropout:
        masks = {i: dropout_mask(buffers["dropout_key"], (7, n), net.dropout_ration, stream=i, dtype=f64)
                 for i, n in ((1, 4), (2, 4))}  # fmt: skip
    onehot = xp.astype(t[:, None] == xp.arange(4, device=backend.device)[None, :], f64)
    settings = dict(
        layers=2, bn=net.use_batchnorm, masks=masks, decay=net.weight_decay_lambda,
        activation=net.activation,
    )  # fmt: skip
    oracle = oracle_gradient(
        backend, net.params, lambda p: reference_loss(xp, p, x, onehot, **settings)
    )
    assert_close(loss, float(reference_loss(xp, net.params, x, onehot, **settings)),
                 backend=backend, dtype=f64, rtol=1e-12)  # fmt: skip
    for param in net.param_names():
        assert_close(grads[param], to_numpy(oracle[param]), backend=backend, dtype=f64,
                     rtol=1e-9, atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_two_layer_net_matches_the_autodiff_oracle(backend, f64, activation) -> None:
    net = xpnet.TwoLayerNet(4, 4, 4, weight_init_std=0.8, activation=activation, dtype=f64, seed=2)
    x, t = small_batch(backend, f64)
    xp = backend.xp
    onehot = xp.astype(t[:, None] == xp.arange(4, device=backend.device)[None, :], f64)
    settings = dict(layers=1, bn=False, masks={}, decay=0.0, activation=activation)
    oracle = oracle_gradient(
        backend, net.params, lambda p: reference_loss(xp, p, x, onehot, **settings)
    )
    for name, value in net.gradient(x, t).items():
        assert_close(value, to_numpy(oracle[name]), backend=backend, dtype=f64, rtol=1e-9,
                     atol=1e-12)  # fmt: skip


@pytest.mark.backend_independent
def test_the_networks_follow_the_training_protocol() -> None:
    """One protocol for every network: buffers are a dict, empty for most."""
    from xpnet._typing import Trainable

    plain, extended = MultiLayerNet(4, [3], 2), MultiLayerNetExtend(4, [3], 2, use_dropout=True)
    two = xpnet.TwoLayerNet(4, 3, 2)
    assert all(isinstance(net, Trainable) for net in (plain, extended, two))
    assert list(extended.buffers) == ["dropout_key"] and plain.buffers == {} == two.buffers


def test_batchnorm_layer_matches_the_autodiff_oracle(backend, f64) -> None:
    rng = np.random.default_rng(4)
    x = xpnet.asarray(rng.normal(1.0, 2.0, (6, 3)), dtype=f64)
    dout = xpnet.asarray(rng.normal(size=(6, 3)), dtype=f64)
    params = {
        "x": x,
        "gamma": xpnet.asarray(rng.random(3) + 0.5, dtype=f64),
        "beta": xpnet.asarray(rng.random(3), dtype=f64),
    }
    xp = backend.xp

    def objective(p):
        mu = xp.mean(p["x"], axis=0)
        var = xp.mean((p["x"] - mu) ** 2, axis=0)
        out = p["gamma"] * (p["x"] - mu) / xp.sqrt(var + 1e-6) + p["beta"]
        return xp.sum(out * dout)

    oracle = oracle_gradient(backend, params, objective)
    layer = BatchNormalization(params["gamma"], params["beta"])
    layer.forward(x)
    got = {"x": layer.backward(dout), "gamma": layer.dgamma, "beta": layer.dbeta}
    for name, value in got.items():
        assert_close(value, to_numpy(oracle[name]), backend=backend, dtype=f64, rtol=1e-10,
                     atol=1e-12)  # fmt: skip


def test_dropout_layer_matches_the_autodiff_oracle(backend, f64) -> None:
    x = xpnet.asarray(np.random.default_rng(0).normal(size=(4, 6)), dtype=f64)
    layer = Dropout(0.4, seed=1)
    layer.forward(x)
    mask, xp = layer.mask, backend.xp
    oracle = oracle_gradient(backend, {"x": x}, lambda p: xp.sum(xp.sin(p["x"] * mask)))
    assert_close(layer.backward(xp.cos(x * mask)), to_numpy(oracle["x"]), backend=backend,
                 dtype=f64, rtol=1e-12)  # fmt: skip


# --- networks --------------------------------------------------------------------------------


def test_book_parameter_names_and_buffers(backend, dtype) -> None:
    net = MultiLayerNetExtend(
        784, [100, 50], 10, use_batchnorm=True, use_dropout=True, dtype=dtype, seed=0
    )
    assert net.param_names() == [
        "W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1", "gamma2", "beta2",
    ]  # fmt: skip
    assert sorted(net.params) == sorted(net.param_names())
    assert sorted(net.buffers) == [
        "dropout_key", "running_mean1", "running_mean2", "running_var1", "running_var2",
    ]  # fmt: skip
    assert_array(net.params["W2"], backend=backend, dtype=dtype, shape=(100, 50))
    assert_array(net.buffers["dropout_key"], backend=backend, dtype=backend.xp.int32, shape=(2,))
    assert_close(net.params["gamma1"], np.ones(100), backend=backend, dtype=dtype, rtol=0)
    assert_close(net.buffers["running_var2"], np.ones(50), backend=backend, dtype=dtype, rtol=0)


def test_eager_training_in_place_gives_the_pure_steps_numbers(backend) -> None:
    """Updating in place (NumPy, CuPy, PyTorch) changes no number: every array is its own.

    A network whose batch-norm scale and running variance were one array (both
    start at ones) trained differently in place; this compares an eager run
    with the same run stepped purely by hand, batch by batch.
    """
    from xpnet.random import BatchSampler
    from xpnet.training import make_step

    if not backend.library.in_place:
        pytest.skip(f"{backend.name} arrays are not updated in place: nothing to compare")

    def network():
        return MultiLayerNetExtend(8, [6, 5], 3, use_batchnorm=True, use_dropout=True,
                                   dropout_ration=0.3, seed=3)  # fmt: skip

    net = network()
    arrays = [*net.params.values(), *net.buffers.values()]
    assert len({id(a) for a in arrays}) == len(arrays)  # no array serves twice
    rng = np.random.default_rng(0)
    x = xpnet.asarray(rng.normal(size=(40, 8)), dtype="float32")
    t = xpnet.asarray(rng.integers(0, 3, 40), dtype=index_dtype(backend.xp, backend.device))
    xpnet.train(net, (x, t), iters=12, batch_size=10, optimizer="adam", lr=0.05, seed=5,
                verbose=0, compile=False)  # fmt: skip
    ref, optimizer = network(), Adam(lr=0.05)
    step, state = make_step(ref, optimizer), optimizer.init(ref.params)
    params, buffers = ref.params, ref.buffers
    batches = BatchSampler(40, 10, seed=5).indices(0, 12, backend=backend)
    for i in range(12):
        index = batches[i, ...]
        xb, tb = backend.xp.take(x, index, axis=0), backend.xp.take(t, index, axis=0)
        params, buffers, state, _ = step(params, buffers, state, xb, tb)
    for name, value in {**params, **buffers}.items():
        mine = net.params.get(name, net.buffers.get(name))
        np.testing.assert_array_equal(to_numpy(mine), to_numpy(value), err_msg=name)


@pytest.mark.parametrize(
    ("init", "scales"),
    [("he", [np.sqrt(2 / 784), np.sqrt(2 / 30), np.sqrt(2 / 20)]),
     ("xavier", [np.sqrt(1 / 784), np.sqrt(1 / 30), np.sqrt(1 / 20)]),
     (0.05, [0.05, 0.05, 0.05])],
)  # fmt: skip
def test_initial_weights_are_the_same_on_every_backend(backend, dtype, init, scales) -> None:
    net = MultiLayerNet(784, [30, 20], 10, weight_init_std=init, dtype=dtype, seed=42)
    rng = np.random.default_rng(42)
    host = np.dtype(dtype_name(dtype, xp=backend.xp))  # drawn in the weights' own dtype
    for i, (shape, scale) in enumerate(zip([(784, 30), (30, 20), (20, 10)], scales, strict=True)):
        expected = rng.standard_normal(shape, dtype=host) * host.type(scale)
        assert_close(net.params[f"W{i + 1}"], expected, backend=backend, dtype=dtype)
    two = xpnet.TwoLayerNet(784, 30, 10, weight_init_std=init, dtype=dtype, seed=42)
    assert_close(two.params["W1"], to_numpy(net.params["W1"]), backend=backend, dtype=dtype,
                 rtol=0)  # fmt: skip


def test_train_mode_updates_buffers_test_mode_does_not(backend) -> None:
    net = MultiLayerNetExtend(4, [4], 4, use_batchnorm=True, use_dropout=True, seed=0)
    x, t = small_batch(backend, backend.xp.float32)
    before = {k: to_numpy(v).copy() for k, v in net.buffers.items()}
    net.predict(x)
    net.accuracy(x, t)
    net.loss(x, t)
    net.numerical_gradient(x, t)
    net.loss_and_gradient(x, t)
    for k, v in net.buffers.items():
        np.testing.assert_array_equal(to_numpy(v), before[k])
    net.gradient(x, t)  # one training pass, as the book's gradient
    assert to_numpy(net.buffers["dropout_key"])[1] == before["dropout_key"][1] + 1
    assert not np.array_equal(to_numpy(net.buffers["running_mean1"]), before["running_mean1"])
    scores = net.predict(x, train_flg=True)
    assert_array(scores, backend=backend, dtype=backend.xp.float32, shape=(7, 4))
    assert to_numpy(net.buffers["dropout_key"])[1] == before["dropout_key"][1] + 2


def test_save_and_load_keep_buffers(backend, dtype, tmp_path) -> None:
    net = MultiLayerNetExtend(4, [4, 4], 4, use_batchnorm=True, use_dropout=True, dtype=dtype,
                              seed=1)  # fmt: skip
    net.gradient(*small_batch(backend, dtype))  # running statistics and key move
    net.save(tmp_path / "net.npz")
    for target in (backend.name, "numpy"):
        loaded = MultiLayerNetExtend.load(tmp_path / "net.npz", backend=target)
        assert loaded.get_config() == net.get_config()
        for name, value in net.state_arrays().items():
            np.testing.assert_array_equal(to_numpy(loaded.state_arrays()[name]), to_numpy(value))
    with pytest.raises(xpnet.errors.CheckpointError, match="not a MultiLayerNet"):
        MultiLayerNet.load(tmp_path / "net.npz")


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_bad_network_arguments() -> None:
    with pytest.raises(ValueError, match="`weight_init_std` must be one of 'xavier', 'sigmoid'"):
        MultiLayerNet(4, [3], 2, weight_init_std="lecun")
    with pytest.raises(TypeError, match="`hidden_size_list` must be a list of ints"):
        MultiLayerNet(4, 3, 2)
    with pytest.raises(ValueError, match="`hidden_size_list` must be positive"):
        MultiLayerNet(4, [3, 0], 2)
    with pytest.raises(ValueError, match=r"`dropout_ration` must be in \[0, 1\)"):
        MultiLayerNetExtend(4, [3], 2, use_dropout=True, dropout_ration=1.0)
    with pytest.raises(ValueError, match="`weight_decay_lambda` must be >= 0"):
        MultiLayerNet(4, [3], 2, weight_decay_lambda=-1)
    with pytest.raises(TypeError, match="`use_batchnorm` must be True or False"):
        MultiLayerNetExtend(4, [3], 2, use_batchnorm="yes")
