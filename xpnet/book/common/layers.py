"""The book's ``common/layers.py``: xpnet's layers with the book's constructors.

``Relu()``, ``Sigmoid()``, ``Affine(W, b)``, ``SoftmaxWithLoss()``,
``Dropout(dropout_ratio=0.5)``, ``BatchNormalization(gamma, beta,
momentum=0.9, running_mean=None, running_var=None)``, ``Convolution(W, b,
stride=1, pad=0)`` and ``Pooling(pool_h, pool_w, stride=2, pad=0)``.

They are xpnet's classes (:mod:`xpnet.layers`), with the book's attributes
(``layer.W``, ``layer.dW``, ``relu.mask`` true where ``x <= 0``…), and one
difference for the book's own networks: a layer keeps the arrays it was
given, as the book's does, and takes NumPy arrays and the backend's mixed
(a network built with ``np.random.randn`` fed with ``load_mnist``'s arrays):
it computes in the backend's library, and gives each parameter's gradient
(``dW``) in the parameter's library, so that the book's update
``params[key] -= lr * grads[key]`` works on the arrays it made.

Examples
--------
>>> import numpy as np
>>> layer = Affine(np.ones((3, 2)), np.zeros(2))
>>> layer.forward(np.ones((4, 3), dtype=np.float32))[0]
array([3., 3.])
>>> layer.backward(np.ones((4, 2))).shape, layer.dW.shape
((4, 3), (3, 2))
"""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401  (the book's `import *` gives np)

from ... import layers as _layers
from ...backend import asarray, backend_of, library_of, to_numpy
from .._interop import align
from .functions import *  # noqa: F403  (the book's module gives its functions too)
from .functions import __all__ as _functions
from .util import col2im, im2col  # noqa: F401  (the book's module gives them too)

__all__ = sorted(
    {*_functions, "np", "im2col", "col2im"}
    | {"Affine", "BatchNormalization", "Convolution", "Dropout", "Pooling", "Relu"}
    | {"Sigmoid", "SoftmaxWithLoss"}
)


class _Aligned:
    """The book's forward/backward over xpnet's, the arrays brought to one library first.

    The layer's own arrays (``self.params``, which the book's networks share
    with their ``params`` dict) are never replaced: the aligned copies are
    used for the call only, so an in-place update of the network's arrays
    is seen by the next pass, as in the book.
    """

    params: dict[str, Any]
    buffers: dict[str, Any]

    def _aligned(self, *arrays: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        names, k = list(self.params), len(arrays)
        buffers = list(self.buffers)
        _, out = align(*arrays, *self.params.values(), *self.buffers.values())
        self.buffers = dict(zip(buffers, out[k + len(names) :], strict=True))
        return out[:k], dict(zip(names, out[k : k + len(names)], strict=True))

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        (x,), params = self._aligned(x)
        own, self.params = self.params, params
        try:
            self._out = super().forward(x, *args, **kwargs)  # type: ignore[misc]
        finally:
            self.params = own
        return self._out

    def backward(self, dout: Any, *args: Any, **kwargs: Any) -> Any:
        ref = getattr(self, "_out", None)
        aligned, params = self._aligned(dout, *(() if ref is None else (ref,)))
        own, self.params = self.params, params
        try:
            dx = super().backward(aligned[0], *args, **kwargs)  # type: ignore[misc]
        finally:
            self.params = own
        for name, value in own.items():  # a gradient lives where its parameter does
            setattr(self, f"d{name}", _like(getattr(self, f"d{name}"), value))
        return dx


def _like(grad: Any, param: Any) -> Any:
    """`grad` in `param`'s library, device and dtype (`param` made by the script with ``np``)."""
    if library_of(grad) == library_of(param):
        return grad
    b = backend_of(param)
    return asarray(to_numpy(grad), dtype=param.dtype, backend=b)


class Relu(_Aligned, _layers.Relu, register=False):
    """``max(0, x)``; ``mask`` is True where ``x <= 0`` (where the book zeroes the gradient)."""

    @property
    def mask(self) -> Any:
        """Where the last forward's input was ``<= 0`` (xpnet's ``mask`` is its complement)."""
        return self.x <= 0


class Sigmoid(_Aligned, _layers.Sigmoid, register=False):
    """``1 / (1 + exp(-x))``; ``out`` is kept for the backward."""


class Affine(_Aligned, _layers.Affine, register=False):
    """``x @ W + b`` for the book's ``Affine(W, b)``; ``dW`` and ``db`` after a backward."""

    def __init__(self, W: Any, b: Any) -> None:
        super().__init__(W, b)

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        out = super().forward(x, *args, **kwargs)
        self.original_x_shape = tuple(x.shape)
        return out


class SoftmaxWithLoss(_layers.SoftmaxWithLoss):
    """Softmax and cross-entropy: ``forward(x, t)`` gives the loss, ``backward(dout=1)``."""

    def forward(self, x: Any, t: Any) -> Any:
        _, (x, t) = align(x, t)
        return super().forward(x, t)


class Dropout(_Aligned, _layers.Dropout, register=False):
    """The book's ``Dropout(dropout_ratio=0.5)``: ``forward(x, train_flg=True)``."""

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        super().__init__(dropout_ratio)

    def backward(self, dout: Any = 1.0, *args: Any, **kwargs: Any) -> Any:
        _, (dout, mask) = align(dout, self.mask)
        return dout * mask


class BatchNormalization(_Aligned, _layers.BatchNormalization, register=False):
    """The book's ``BatchNormalization(gamma, beta, momentum=0.9, running_mean, running_var)``."""

    def __init__(
        self,
        gamma: Any,
        beta: Any,
        momentum: float = 0.9,
        running_mean: Any = None,
        running_var: Any = None,
    ) -> None:
        super().__init__(gamma, beta, momentum, running_mean, running_var)


class Convolution(_Aligned, _layers.Convolution, register=False):
    """The book's ``Convolution(W, b, stride=1, pad=0)``; ``dW`` and ``db`` after a backward."""


class Pooling(_Aligned, _layers.Pooling, register=False):
    """The book's ``Pooling(pool_h, pool_w, stride=2, pad=0)`` (max pooling)."""

    def __init__(self, pool_h: int, pool_w: int, stride: int = 2, pad: int = 0) -> None:
        super().__init__(pool_h, pool_w, stride, pad)  # the book's code defaults to 2
