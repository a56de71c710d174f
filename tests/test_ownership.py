"""Who owns a network's arrays: arrays set are checked and copied, training never
changes an array a caller holds, a file of another network is refused before
anything changes."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet
from xpnet.backend import index_dtype, to_numpy
from xpnet.errors import CheckpointError, XpnetValueError


def problem(backend, n=40, d=8, c=3):
    rng = np.random.default_rng(0)
    x = xpnet.asarray(rng.random((n, d)), dtype="float32")
    t = xpnet.asarray(np.arange(n) % c, dtype=index_dtype(backend.xp, backend.device))
    return x, t


def host(net):
    return {name: to_numpy(value).copy() for name, value in net.state_arrays().items()}


def test_training_leaves_arrays_a_caller_holds_alone(backend) -> None:
    """Eager steps update in place (NumPy, CuPy, PyTorch) — copies made at the start."""
    net = xpnet.TwoLayerNet(8, 5, 3, seed=0)
    held = dict(net.params)
    before = host(net)
    xpnet.train(net, problem(backend), iters=3, batch_size=10, verbose=0)
    for name, value in held.items():
        np.testing.assert_array_equal(to_numpy(value), before[name])
    assert not np.array_equal(to_numpy(net.params["W1"]), before["W1"])
    assert xpnet.namespace(net.params["W1"]) is backend.xp
    assert net.params["W1"].dtype == backend.xp.float32


def test_set_state_arrays_checks_names_and_shapes_before_assigning(backend) -> None:
    net = xpnet.TwoLayerNet(8, 5, 3, seed=0)
    before = host(net)
    arrays = dict(before)
    del arrays["b2"]
    with pytest.raises(XpnetValueError, match=r"missing \['b2'\], unexpected \[\]"):
        net.set_state_arrays(arrays)
    arrays = {**before, "W1": np.zeros((5, 8), dtype=np.float32)}
    with pytest.raises(XpnetValueError) as info:
        net.set_state_arrays(arrays)
    assert str(info.value) == ("`arrays['W1']` must have shape (8, 5). Received: shape (5, 8).")
    for name, value in host(net).items():  # unchanged
        np.testing.assert_array_equal(value, before[name])


def test_set_state_arrays_copies(backend) -> None:
    net = xpnet.TwoLayerNet(8, 5, 3, seed=0)
    arrays = {name: np.ones_like(value) for name, value in host(net).items()}
    net.set_state_arrays(arrays)
    arrays["W1"][...] = 7.0
    assert float(to_numpy(net.params["W1"]).max()) == 1.0
    assert xpnet.namespace(net.params["W1"]) is backend.xp


def test_load_params_refuses_another_network_naming_what_differs(backend, tmp_path) -> None:
    conv = {"filter_num": 3, "filter_size": 3, "pad": 0, "stride": 1}
    saved = xpnet.SimpleConvNet(input_dim=(1, 8, 8), conv_param=conv, hidden_size=4)
    saved.save_params(tmp_path / "params.npz")
    other = xpnet.SimpleConvNet(
        input_dim=(1, 8, 8), conv_param={**conv, "filter_num": 2}, hidden_size=4
    )
    before = host(other)
    with pytest.raises(CheckpointError) as info:
        other.load_params(tmp_path / "params.npz")
    assert "holds a different network: conv_param=" in str(info.value)
    assert "(this network: {'filter_num': 2," in str(info.value)
    for name, value in host(other).items():
        np.testing.assert_array_equal(value, before[name])
    same = xpnet.SimpleConvNet(input_dim=(1, 8, 8), conv_param=conv, hidden_size=4, seed=5)
    same.load_params(tmp_path / "params.npz")
    for name, value in host(same).items():
        np.testing.assert_array_equal(value, host(saved)[name])


def test_two_dropouts_after_one_layer_draw_different_masks(backend) -> None:
    """Each random layer has its own stream of the network's key (the first keeps 0.2's)."""
    layers = [xpnet.layers.Affine(units=6), xpnet.layers.Dropout(0.5), xpnet.layers.Dropout(0.5)]
    net = xpnet.Sequential([*layers, xpnet.layers.Affine(units=2)], input_shape=(4,), seed=0)
    streams = [slot.stream for slot in net._slots if slot.layer.random]
    assert streams == [1, 1 + 2**16]
    x = xpnet.asarray(np.ones((50, 4)), dtype="float32")
    _, caches, _ = net._forward(net.params, net.buffers, x, train=True, advance=True)
    first, second = (to_numpy(cache["mask"]) for cache in caches[1:3])
    assert first.shape == second.shape == (50, 6)
    assert 0.3 < first.mean() < 0.7 and 0.3 < second.mean() < 0.7
    assert not np.array_equal(first, second)
