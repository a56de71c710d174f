"""Layers: each declares its parameters and buffers, and has a pure forward and backward.

One file a family: :mod:`~xpnet.layers.affine` (Affine),
:mod:`~xpnet.layers.activations` (Sigmoid, Relu),
:mod:`~xpnet.layers.normalization` (BatchNormalization, LayerNorm),
:mod:`~xpnet.layers.convolution` (Convolution, im2col, col2im),
:mod:`~xpnet.layers.pooling` (Pooling),
:mod:`~xpnet.layers.dropout` (Dropout), :mod:`~xpnet.layers.loss`
(SoftmaxWithLoss). The protocol is :class:`Layer` (see :mod:`xpnet.layers._base`):

* pure, for networks and compilers: ``pure_forward(params, buffers, x, ctx)``
  and ``pure_backward(params, cache, dout, ctx)``, with the arrays passed in;
* the book's, for readers: ``Affine(W, b)``, ``layer.forward(x)``,
  ``layer.backward(dout)``, then ``layer.dW``, ``layer.db``.

Layers never modify their inputs or the upstream gradient (the book's
``Relu.backward`` writes zeros into ``dout``), and use only standard array
API operations, so they run on every backend. What a family module lists in
its ``__all__`` is exported here, and every layer class registers itself
(:data:`LAYERS`; activations in :data:`ACTIVATIONS`, normalisations in
:data:`NORMALIZATIONS`): a new layer is a class in one file.

Examples
--------
>>> import numpy as np
>>> layer = Affine(np.ones((3, 2)), np.zeros(2))
>>> layer.forward(np.ones((4, 3)))[0]
array([3., 3.])
>>> layer.backward(np.ones((4, 2))).shape, layer.dW.shape, layer.db.tolist()
((4, 3), (3, 2), [4.0, 4.0])
"""

from . import _base, _init, activations, affine, convolution, dropout, loss, normalization, pooling
from ._base import *  # noqa: F403
from ._init import *  # noqa: F403
from .activations import *  # noqa: F403
from .affine import *  # noqa: F403
from .convolution import *  # noqa: F403
from .dropout import *  # noqa: F403
from .loss import *  # noqa: F403
from .normalization import *  # noqa: F403
from .pooling import *  # noqa: F403

_FAMILIES = (_base, _init, activations, affine, convolution, dropout, loss, normalization, pooling)
__all__ = sorted({name for module in _FAMILIES for name in module.__all__})
