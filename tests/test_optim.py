"""Optimizers: the book's update formulas, state on the device, schedules, exact resume."""

from __future__ import annotations

import math
from copy import deepcopy

import numpy as np
import pytest
from helpers import assert_array, assert_close, dtype_name

import xpnet
from xpnet.backend import index_dtype, to_numpy
from xpnet.optim import (
    SGD,
    AdaGrad,
    Adam,
    CosineDecay,
    Momentum,
    Nesterov,
    Optimizer,
    RMSprop,
    StepDecay,
    get,
)

# --- the textbook formulas, written out in NumPy as the book writes them -------------------


def book_sgd(lr):
    def step(p, g, s, t):
        return p - lr * g

    return step


def book_momentum(lr, momentum):
    def step(p, g, s, t):
        s["v"] = momentum * s.get("v", np.zeros_like(p)) - lr * g
        return p + s["v"]

    return step


def book_nesterov(lr, momentum):
    def step(p, g, s, t):
        v = s.get("v", np.zeros_like(p))
        v = v * momentum
        v = v - lr * g
        s["v"] = v
        return p + momentum * momentum * v - (1 + momentum) * lr * g

    return step


def book_adagrad(lr):
    def step(p, g, s, t):
        s["h"] = s.get("h", np.zeros_like(p)) + g * g
        return p - lr * g / (np.sqrt(s["h"]) + 1e-7)

    return step


def book_rmsprop(lr, decay_rate):
    def step(p, g, s, t):
        h = s.get("h", np.zeros_like(p)) * decay_rate
        s["h"] = h + (1 - decay_rate) * g * g
        return p - lr * g / (np.sqrt(s["h"]) + 1e-7)

    return step


def book_adam(lr, beta1, beta2):
    def step(p, g, s, t):
        lr_t = lr * np.sqrt(1.0 - beta2 ** (t + 1)) / (1.0 - beta1 ** (t + 1))
        m = s.get("m", np.zeros_like(p))
        v = s.get("v", np.zeros_like(p))
        s["m"] = m + (1 - beta1) * (g - m)
        s["v"] = v + (1 - beta2) * (g**2 - v)
        return p - lr_t * s["m"] / (np.sqrt(s["v"]) + 1e-7)

    return step


CASES = [
    (SGD(lr=0.1), book_sgd(0.1)),
    (Momentum(lr=0.05, momentum=0.8), book_momentum(0.05, 0.8)),
    (Nesterov(lr=0.05, momentum=0.7), book_nesterov(0.05, 0.7)),
    (AdaGrad(lr=0.2), book_adagrad(0.2)),
    (RMSprop(lr=0.01, decay_rate=0.9), book_rmsprop(0.01, 0.9)),
    (Adam(lr=0.01, beta1=0.8, beta2=0.99), book_adam(0.01, 0.8, 0.99)),
]
IDS = [type(case[0]).__name__ for case in CASES]


def fresh(optimizer: Optimizer) -> Optimizer:
    """A new optimizer with the same settings (no book-style state left from another test)."""
    copy = deepcopy(optimizer)
    copy.state = None
    return copy


def small_problem(steps=5, seed=0):
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    grads = [{"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)} for _ in range(steps)]
    return params, grads


@pytest.mark.parametrize(("optimizer", "book"), CASES, ids=IDS)
def test_apply_follows_the_book_formula(backend, dtype, optimizer, book) -> None:
    params, grads = small_problem()
    ours = {k: xpnet.asarray(v, dtype=dtype) for k, v in params.items()}
    state = optimizer.init(ours)
    theirs, slots = dict(params), {k: {} for k in params}
    rtol = 1e-5 if dtype_name(backend.xp, dtype) == "float32" else 1e-12
    for t, g in enumerate(grads):
        before = {k: to_numpy(v).copy() for k, v in ours.items()}
        new, state = optimizer.apply(
            ours, {k: xpnet.asarray(v, dtype=dtype) for k, v in g.items()}, state
        )
        for k, v in ours.items():  # apply is pure: its inputs are unchanged
            np.testing.assert_array_equal(to_numpy(v), before[k])
        ours = new
        theirs = {k: book(theirs[k], g[k], slots[k], t) for k in params}
        for k in params:
            assert_close(ours[k], theirs[k], backend=backend, dtype=dtype, rtol=rtol, atol=rtol)


@pytest.mark.parametrize(("optimizer", "book"), CASES, ids=IDS)
def test_update_changes_the_dict_it_is_given(backend, optimizer, book) -> None:
    """The book's call: the network's dict sees the new values; state is kept inside."""
    optimizer = fresh(optimizer)
    params, grads = small_problem(steps=3)
    mine = {k: xpnet.asarray(v, dtype="float64") for k, v in params.items()}
    theirs, slots = dict(params), {k: {} for k in params}
    for t, g in enumerate(grads):
        optimizer.update(mine, {k: xpnet.asarray(v, dtype="float64") for k, v in g.items()})
        theirs = {k: book(theirs[k], g[k], slots[k], t) for k in params}
    for k in params:
        assert_close(mine[k], theirs[k], backend=backend, dtype=backend.xp.float64, rtol=1e-12)


def test_state_lives_on_the_parameters_device(backend, dtype) -> None:
    params = {"W": xpnet.asarray(np.ones((3, 2)), dtype=dtype)}
    state = Adam().init(params)
    assert sorted(state) == ["m.W", "step", "v.W"]
    assert_array(state["m.W"], backend=backend, dtype=dtype, shape=(3, 2))
    assert_array(state["step"], backend=backend, dtype=backend.xp.int32, shape=(1,))
    assert SGD().init(params) == {} and sorted(Momentum().init(params)) == ["v.W"]
    spec = Adam().state_spec({"W": ((3, 2), "float32")})
    assert spec == {"m.W": ((3, 2), "float32"), "v.W": ((3, 2), "float32"), "step": ((1,), "int32")}


@pytest.mark.parametrize(("optimizer", "book"), CASES, ids=IDS)
def test_apply_never_reads_back_to_the_host(backend, optimizer, book, monkeypatch) -> None:
    """No .item(), float(), bool() or .numpy() in a step: a GPU would wait at every one.

    PyTorch: every way of reading a tensor back raises during apply. JAX:
    apply must trace under jax.jit, which fails on any host conversion.
    Other backends have nothing to check.
    """
    optimizer = fresh(optimizer)
    optimizer.lr = StepDecay(0.1, step_size=2)  # a schedule too: its count is state
    params, grads = small_problem(steps=1)
    ours = {k: xpnet.asarray(v, dtype="float32") for k, v in params.items()}
    g = {k: xpnet.asarray(v, dtype="float32") for k, v in grads[0].items()}
    state = optimizer.init(ours)
    if backend.name == "torch":
        import torch

        def refuse(*args, **kwargs):
            raise AssertionError("host read-back inside the step")

        for name in ("item", "tolist", "numpy", "__float__", "__bool__", "__int__", "__index__"):
            monkeypatch.setattr(torch.Tensor, name, refuse)
        optimizer.apply(ours, g, state)
    elif backend.name == "jax":
        import jax

        jax.jit(optimizer.apply)(ours, g, state)
    else:
        pytest.skip("no device to synchronise with")


# --- learning-rate schedules ---------------------------------------------------------------


def test_schedules_values(backend) -> None:
    xp = backend.xp
    steps = xpnet.asarray([0.0, 99.0, 100.0, 250.0], dtype="float32")
    assert_close(
        StepDecay(0.1, 100, gamma=0.5)(steps), [0.1, 0.1, 0.05, 0.025],
        backend=backend, dtype=xp.float32,
    )  # fmt: skip
    cosine = [0.01 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(s, 200) / 200)) + 0.1)
              for s in (0, 99, 100, 250)]  # fmt: skip
    assert_close(
        CosineDecay(0.01, 200, alpha=0.1)(steps), cosine, backend=backend, dtype=xp.float32
    )


@pytest.mark.parametrize(
    "schedule",
    [StepDecay(0.5, 2, gamma=0.1), CosineDecay(0.5, 3), lambda step: 0.5 / (1.0 + step)],
    ids=["StepDecay", "CosineDecay", "callable"],
)
def test_sgd_with_a_schedule(backend, schedule) -> None:
    rates = [0.5, 0.5, 0.05, 0.05] if isinstance(schedule, StepDecay) else None
    if isinstance(schedule, CosineDecay):
        rates = [0.5 * 0.5 * (1 + math.cos(math.pi * min(s, 3) / 3)) for s in range(4)]
    if rates is None:
        rates = [0.5 / (1.0 + s) for s in range(4)]
    optimizer = SGD(schedule)
    p = {"w": xpnet.asarray([1.0], dtype="float64")}
    state = optimizer.init(p)
    expected = 1.0
    for rate in rates:
        p, state = optimizer.apply(p, {"w": xpnet.asarray([1.0], dtype="float64")}, state)
        expected -= rate
    assert_close(p["w"], [expected], backend=backend, dtype=backend.xp.float64, rtol=1e-12)
    assert to_numpy(state["step"]).tolist() == [4]


@pytest.mark.backend_independent
def test_configs_name_everything() -> None:
    assert Adam().get_config() == {"class": "Adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999}
    assert SGD(StepDecay(0.1, 10)).get_config() == {
        "class": "SGD",
        "lr": {"class": "StepDecay", "lr": 0.1, "step_size": 10, "gamma": 0.1},
    }
    assert repr(get("momentum", lr=0.1)) == "Momentum(lr=0.1, momentum=0.9)"
    assert isinstance(get("ADAM"), Adam)


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Momentum(momentum=1.0), ValueError, r"`momentum` must be in \[0, 1\)"),
        (lambda: Nesterov(momentum=-0.1), ValueError, r"`momentum` must be in \[0, 1\)"),
        (lambda: Adam(beta1=0.0), ValueError, r"`beta1` must be in \(0, 1\)"),
        (lambda: Adam(beta2=1.0), ValueError, r"`beta2` must be in \(0, 1\)"),
        (lambda: RMSprop(decay_rate=1.0), ValueError, r"`decay_rate` must be in \[0, 1\)"),
        (lambda: SGD(lr=0.0), ValueError, "`lr` must be a finite positive number"),
        (lambda: Adam(lr=float("nan")), ValueError, "`lr` must be a finite positive number"),
        (lambda: AdaGrad(lr=float("inf")), ValueError, "`lr` must be a finite positive number"),
        (lambda: SGD(lr="0.1"), TypeError, "`lr` must be a real number"),
        (lambda: StepDecay(0.1, 0), ValueError, "`step_size` must be positive"),
        (lambda: StepDecay(0.1, 5, gamma=0.0), ValueError, r"`gamma` must be in \(0, 1\]"),
        (lambda: CosineDecay(0.1, 5, alpha=2.0), ValueError, r"`alpha` must be in \[0, 1\]"),
        (lambda: get("lion"), ValueError, "`optimizer` must be one of 'sgd', 'momentum'"),
        (lambda: get(Adam(), lr=0.1), TypeError, "`lr` applies to an optimizer given by name"),
        (lambda: get(3), TypeError, "`optimizer` must be a name"),
    ],
)
@pytest.mark.reliability("bad input")
def test_bad_hyper_parameters(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()


# --- exact resume ----------------------------------------------------------------------


def blobs(backend, n=90, d=5, c=3):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, c, size=n)
    x = rng.normal(0.0, 0.5, size=(n, d)) + np.eye(c, d)[labels] * 2
    t = xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device))
    return xpnet.asarray(x, dtype="float32"), t


@pytest.mark.parametrize(
    "optimizer",
    [*[case[0] for case in CASES], SGD(CosineDecay(0.5, 20))],
    ids=[*IDS, "SGD+CosineDecay"],
)
@pytest.mark.reliability("data integrity")
def test_resume_is_exact_for_every_optimizer(backend, tmp_path, optimizer) -> None:
    """Stop after 13 of 24 iterations, resume in a fresh process-like setting: bit for bit."""
    data = blobs(backend)
    run = dict(batch_size=10, eval_every=6, seed=2, verbose=0)
    reference = xpnet.TwoLayerNet(5, 6, 3, weight_init_std=0.5, seed=1)
    expected = xpnet.train(reference, data, iters=24, optimizer=fresh(optimizer), **run)
    path = tmp_path / "state.npz"
    first = xpnet.TwoLayerNet(5, 6, 3, weight_init_std=0.5, seed=1)
    xpnet.train(first, data, iters=13, optimizer=fresh(optimizer), checkpoint=path, **run)
    resumed_net = xpnet.TwoLayerNet(5, 6, 3, seed=7)  # weights come from the checkpoint
    resumed = xpnet.train(
        resumed_net, data, iters=24, optimizer=fresh(optimizer), checkpoint=path, resume=True, **run
    )
    assert resumed.train_loss == expected.train_loss
    for name, value in reference.params.items():
        np.testing.assert_array_equal(to_numpy(resumed_net.params[name]), to_numpy(value))


@pytest.mark.reliability("security")
def test_resume_refuses_another_optimizer(backend, tmp_path) -> None:
    data = blobs(backend)
    path = tmp_path / "state.npz"
    run = dict(iters=5, batch_size=10, seed=2, verbose=0, checkpoint=path)
    xpnet.train(xpnet.TwoLayerNet(5, 6, 3, seed=1), data, optimizer=Adam(), **run)
    with pytest.raises(xpnet.errors.CheckpointError, match=r"trained with .*Adam"):
        xpnet.train(
            xpnet.TwoLayerNet(5, 6, 3, seed=1), data, optimizer=Adam(beta1=0.8), resume=True, **run
        )
