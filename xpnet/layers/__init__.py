"""Layers: each declares its parameters and buffers, and has a pure forward and backward.

One file a family: :mod:`~xpnet.layers.affine` (Affine),
:mod:`~xpnet.layers.activations` (Sigmoid, Relu),
:mod:`~xpnet.layers.normalization` (BatchNormalization),
:mod:`~xpnet.layers.dropout` (Dropout), :mod:`~xpnet.layers.loss`
(SoftmaxWithLoss). The protocol is :class:`Layer` (see :mod:`xpnet.layers._base`):

* pure, for networks and compilers: ``pure_forward(params, buffers, x, ctx)``
  and ``pure_backward(params, cache, dout, ctx)``, with the arrays passed in;
* the book's, for readers: ``Affine(W, b)``, ``layer.forward(x)``,
  ``layer.backward(dout)``, then ``layer.dW``, ``layer.db``.

Layers never modify their inputs or the upstream gradient (the book's
``Relu.backward`` writes zeros into ``dout``), and use only standard array
API operations, so they run on every backend.

Examples
--------
>>> import numpy as np
>>> layer = Affine(np.ones((3, 2)), np.zeros(2))
>>> layer.forward(np.ones((4, 3)))[0]
array([3., 3.])
>>> layer.backward(np.ones((4, 2))).shape, layer.dW.shape, layer.db.tolist()
((4, 3), (3, 2), [4.0, 4.0])
"""

from ._base import ACTIVATIONS, LAYERS, NORMALIZATIONS, Context, Layer, Shape
from ._init import INIT_NAMES, check_weight_init, weight_scale
from .activations import Relu, Sigmoid
from .affine import Affine
from .dropout import Dropout, dropout_mask
from .loss import SoftmaxWithLoss, softmax_loss, softmax_loss_backward
from .normalization import BatchNormalization

__all__ = [
    "ACTIVATIONS",
    "INIT_NAMES",
    "LAYERS",
    "NORMALIZATIONS",
    "Affine",
    "BatchNormalization",
    "Context",
    "Dropout",
    "Layer",
    "Relu",
    "Shape",
    "Sigmoid",
    "SoftmaxWithLoss",
    "check_weight_init",
    "dropout_mask",
    "softmax_loss",
    "softmax_loss_backward",
    "weight_scale",
]
