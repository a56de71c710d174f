"""Careless use of the layers and networks gets one clear error naming the argument,
what was expected and what came — never a KeyError, AttributeError or a wrong number."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet
from xpnet.backend import index_dtype
from xpnet.errors import XpnetTypeError, XpnetValueError

L = xpnet.layers


def floats(backend, shape, value=1.0):
    return xpnet.asarray(np.full(shape, value), dtype="float32")


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: xpnet.Sequential([L.Affine(units=3)], input_shape=4),
            XpnetTypeError,
            "`input_shape` must be a tuple of ints, one sample's shape: (784,) or (1, 28, 28). "
            "Received: 4.",
        ),
        (
            lambda: xpnet.Sequential(L.Affine(units=3), input_shape=(4,)),
            XpnetTypeError,
            "`layers` must be a non-empty list of layers, such as [Affine(units=100), Relu(), "
            "Affine(units=10)]. Received: Affine(units=3).",
        ),
        (
            lambda: xpnet.DeepConvNet(conv_param_1=3),
            XpnetValueError,
            "`conv_param_1` must be a dict with the keys filter_num, filter_size, pad, stride. "
            "Received: 3.",
        ),
        (
            lambda: L.BatchNormalization(gamma=np.ones(3)),
            XpnetTypeError,
            "`gamma` and `beta` must be given together (arrays of one shape), or neither (in a "
            "network). Received: gamma=ndarray, beta=NoneType.",
        ),
        (
            lambda: L.Affine(np.ones((4, 3))),
            XpnetTypeError,
            "`b` must be an array of shape (3,) beside `W`. Received: None.",
        ),
    ],
    ids=["input_shape", "layers", "conv_param", "gamma alone", "W alone"],
)
def test_constructors_name_what_is_wrong(backend, make, error, message) -> None:
    with pytest.raises(error) as info:
        make()
    assert str(info.value) == message


@pytest.mark.reliability("bad input")
def test_the_books_layers_need_their_arrays_and_a_forward_first(backend) -> None:
    x = floats(backend, (3, 4))
    with pytest.raises(XpnetValueError) as info:
        L.BatchNormalization().forward(x)
    assert str(info.value) == (
        "BatchNormalization used on its own needs its arrays: BatchNormalization(gamma, beta), "
        "as the book builds it (in a network, the network holds them). Received: no gamma, beta."
    )
    with pytest.raises(XpnetValueError, match=r"Affine used on its own needs its arrays"):
        L.Affine(units=3).forward(x)
    for layer in (L.Relu(), L.Affine(floats(backend, (4, 3)), floats(backend, 3, 0.0))):
        with pytest.raises(XpnetValueError, match=r"backward\(\) uses what forward\(\) kept"):
            layer.backward(floats(backend, (3, 3)))
    with pytest.raises(XpnetValueError, match=r"SoftmaxWithLoss.backward\(\) uses what"):
        L.SoftmaxWithLoss().backward()
    relu = L.Relu()  # after a forward, the book's backward works
    out = relu.forward(x)
    assert xpnet.namespace(relu.backward(out)) is backend.xp


@pytest.mark.reliability("bad input")
def test_targets_of_the_outputs_shape_must_be_one_hot(backend) -> None:
    """Soft targets would silently give -log(sum(y * t)), not a cross-entropy: refused."""
    net = xpnet.TwoLayerNet(4, 3, 2, weight_init_std=0.5, seed=0)
    x = xpnet.asarray(np.random.default_rng(0).random((5, 4)), dtype="float32")
    labels = np.array([0, 1, 0, 1, 1])
    for bad in (np.full((5, 2), 0.5), np.full((5, 2), 3.0), np.ones((5, 2))):
        with pytest.raises(XpnetValueError, match=r"must be one-hot targets: each row zeros"):
            net.loss(x, xpnet.asarray(bad, dtype="float32"))
    one_hot = net.loss(x, xpnet.asarray(np.eye(2)[labels], dtype="float32"))
    label = net.loss(x, xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device)))
    assert float(one_hot) == float(label)
    assert xpnet.namespace(one_hot) is backend.xp and one_hot.dtype == backend.xp.float32
