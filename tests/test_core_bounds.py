"""Where the model core meets careless input: memory known up front, evaluations in
chunks, batch norm with one sample, NaN at the door, the hint that names the culprit."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet
from xpnet.backend import index_dtype, to_numpy
from xpnet.training import compile as compile_module
from xpnet.training import memory


def problem(backend, n=60, d=6, c=3):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, c, n)
    x = rng.normal(size=(n, d)) + np.eye(c, d)[labels] * 2
    return (
        xpnet.asarray(x, dtype="float32"),
        xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device)),
    )


@pytest.mark.reliability("resource bounds")
def test_training_that_cannot_fit_is_refused_before_it_starts(backend, monkeypatch) -> None:
    """Parameters fit; with Adam's state, gradients and a batch's activations they do not."""
    if backend.library.free_memory(backend.device) is not None:
        pytest.skip("on an accelerator the device's own memory is what counts")
    net = xpnet.MultiLayerNet(6, [300, 300], 3, seed=0)  # 0.37 MB of float32 parameters
    before = {k: to_numpy(v).copy() for k, v in net.params.items()}
    monkeypatch.setattr(xpnet._memory, "host_memory", lambda: 10**6)
    with pytest.raises(xpnet.errors.XpnetValueError) as info:
        xpnet.train(net, problem(backend), iters=2, batch_size=50, optimizer="adam", verbose=0)
    message = str(info.value)
    assert message.startswith("Training MultiLayerNet with Adam and batches of 50 (parameters ")
    assert "more than the 1,000,000 bytes (1.0 MB) of memory available" in message
    assert "\n" not in message
    for name, value in net.params.items():  # refused before anything changed
        np.testing.assert_array_equal(to_numpy(value), before[name])


@pytest.mark.reliability("resource bounds")
def test_evaluations_of_wide_networks_run_in_chunks(backend, monkeypatch) -> None:
    """Accuracy counted chunk by chunk equals the count in one pass."""
    x, t = problem(backend, n=50)
    net = xpnet.TwoLayerNet(6, 20, 3, seed=1)
    whole = net.accuracy(x, t)
    # 7 rows of 43 activations (20 + 20 + 3) in float32, twice (outputs and temporaries)
    monkeypatch.setattr(memory, "EVALUATION_BYTES", 7 * 43 * 4 * 2)
    assert memory.evaluation_rows(net, 50) == 7
    engine = compile_module.Engine(net, xpnet.SGD(0.1), "backprop", None)
    calls = []
    counted = engine._correct
    engine._correct = lambda *args: calls.append(args[2].shape[0]) or counted(*args)
    assert engine.accuracy(net.params, net.buffers, x, t) == whole
    assert calls == [7] * 7 + [1]


@pytest.mark.reliability("bad input")
def test_batch_norm_refuses_a_batch_of_one(backend) -> None:
    """As PyTorch does: one sample's statistics would normalise it to 0."""
    net = xpnet.MultiLayerNetExtend(6, [4], 3, use_batchnorm=True, seed=0)
    x, t = problem(backend, n=10)
    with pytest.raises(xpnet.errors.XpnetValueError, match="more than one sample per batch"):
        xpnet.train(net, (x, t), iters=3, batch_size=1, verbose=0)
    with pytest.raises(xpnet.errors.XpnetValueError, match="Received: a batch of 1"):
        net.gradient(xpnet.head(x, 1), xpnet.head(t, 1))
    assert net.predict(xpnet.head(x, 1)).shape == (1, 3)  # test mode takes any batch


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_and_inf_inputs_are_refused_at_the_door(backend, bad) -> None:
    x, t = problem(backend, n=8)
    host = to_numpy(x).copy()
    host[3, 2] = bad
    x = xpnet.asarray(host, dtype="float32")
    net = xpnet.MultiLayerNet(6, [4], 3, seed=0)
    calls = {
        "predict": lambda: net.predict(x),
        "loss": lambda: net.loss(x, t),
        "accuracy": lambda: net.accuracy(x, t),
        "gradient": lambda: net.gradient(x, t),
        "numerical_gradient": lambda: net.numerical_gradient(x, t),
    }
    for name, call in calls.items():
        with pytest.raises(xpnet.errors.XpnetValueError, match="contains NaN or infinity"):
            call()
            pytest.fail(f"{name} accepted {bad}")


@pytest.mark.reliability("bad input")
def test_a_huge_weight_decay_is_named_as_the_cause(backend) -> None:
    """`--weight-decay 1e30` used to blame "lr=0.1 is probably too large"."""
    net = xpnet.TwoLayerNet(6, 4, 3, seed=0)
    with pytest.raises(xpnet.errors.TrainingDivergedError) as info, np.errstate(all="ignore"):
        xpnet.train(net, problem(backend), iters=20, batch_size=10, weight_decay=1e30, verbose=0)
    assert "the weight decay 1e+30 is probably too large" in str(info.value)
    assert "lr=0.1 is probably" not in str(info.value)


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize("net", [None, "TwoLayerNet", np.zeros(3)])
def test_something_that_is_not_a_network_is_named(net, backend) -> None:
    with pytest.raises(xpnet.errors.XpnetTypeError, match="`net` must be a network"):
        xpnet.train(net, problem(backend), iters=1, verbose=0)


def test_unknown_settings_suggest_the_right_name(backend) -> None:
    with pytest.raises(xpnet.errors.XpnetTypeError, match="Did you mean `batch_size`"):
        xpnet.train(xpnet.TwoLayerNet(6, 4, 3), problem(backend), batchsize=10)
