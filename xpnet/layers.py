"""Backpropagation layers: each forward sits next to its backward.

Layers never modify their inputs or the upstream gradient (the book's
``Relu.backward`` writes zeros into ``dout``), and use only standard array
API operations, so they run on every backend. A layer built with ``xp=``
trusts that namespace (a network that checked its inputs passes it);
otherwise every forward looks the namespace up from its input, and the
backward of that call reuses it.

Examples
--------
>>> import numpy as np
>>> layer = Affine(np.ones((3, 2)), np.zeros(2))
>>> layer.forward(np.ones((4, 3)))[0]
array([3., 3.])
>>> layer.backward(np.ones((4, 2))).shape, layer.dW.shape, layer.db.tolist()
((4, 3), (3, 2), [4.0, 4.0])
"""

from __future__ import annotations

from typing import Any

from ._typing import Array, Namespace
from .backend import namespace
from .functions import LOG_EPS, one_hot, relu, sigmoid, softmax

__all__ = ["Affine", "Relu", "Sigmoid", "SoftmaxWithLoss"]


class Affine:
    """``out = x @ W + b`` for x of shape (N, D) (or (N, ...), flattened to (N, D)).

    Parameters
    ----------
    W, b : arrays of shape (D, M) and (M,)
    xp : namespace, optional
        The arrays' namespace, when the caller knows it (saves looking it up
        at every forward; the caller then vouches that inputs match).
    """

    def __init__(self, W: Array, b: Array, *, xp: Namespace | None = None) -> None:
        self.W, self.b = W, b
        self.xp = xp
        self.x: Any = None
        self.dW: Any = None
        self.db: Any = None

    def forward(self, x: Array) -> Array:
        xp = self._call_xp = self.xp or namespace(x, self.W)
        self._input_shape = tuple(x.shape)
        self.x = xp.reshape(x, (x.shape[0], -1))
        return self.x @ self.W + self.b

    def backward(self, dout: Array, *, input_grad: bool = True) -> Array | None:
        """Set ``dW`` and ``db``; return ``dx`` (None with ``input_grad=False``).

        The first layer of a network has no use for ``dx``, the largest of
        the three products; skipping it saves a third of the backward pass.
        """
        xp = self._call_xp
        self.dW = xp.matrix_transpose(self.x) @ dout
        self.db = xp.sum(dout, axis=0)
        if not input_grad:
            return None
        return xp.reshape(dout @ xp.matrix_transpose(self.W), self._input_shape)


class Sigmoid:
    """``out = sigmoid(x)``; its derivative is ``out * (1 - out)``."""

    def __init__(self, *, xp: Namespace | None = None) -> None:
        self.xp = xp
        self.out: Any = None

    def forward(self, x: Array) -> Array:
        self.out = sigmoid(x, xp=self.xp)
        return self.out

    def backward(self, dout: Array) -> Array:
        return dout * (1.0 - self.out) * self.out


class Relu:
    """``out = max(x, 0)``; the gradient passes where ``x > 0``."""

    def __init__(self, *, xp: Namespace | None = None) -> None:
        self.xp = xp
        self.mask: Any = None

    def forward(self, x: Array) -> Array:
        xp = self._call_xp = self.xp or namespace(x)
        self.mask = x > 0
        return relu(x, xp=xp)

    def backward(self, dout: Array) -> Array:
        xp = self._call_xp
        return xp.where(self.mask, dout, xp.zeros_like(dout))


class SoftmaxWithLoss:
    """Softmax followed by cross-entropy, the network's output layer.

    ``forward(x, t)`` returns ``-mean(log(softmax(x)[t] + 1e-7))`` for integer
    labels `t` of shape (N,) or one-hot `t` of shape (N, C). ``backward``
    returns the exact derivative of that value, 1e-7 guard included:
    ``(y - t) * r / N`` with ``r = y_t / (y_t + 1e-7)`` per sample. The usual
    ``(y - t) / N`` differs from it by about ``1e-7 / y_t`` relative, which a
    float64 gradient check would see.
    """

    def __init__(self, *, xp: Namespace | None = None) -> None:
        self.xp = xp
        self.loss: Any = None
        self.y: Any = None
        self.t: Any = None

    def forward(self, x: Array, t: Array) -> Array:
        xp = self.xp or namespace(x, t)
        self.y = softmax(x, xp=xp)
        if t.ndim == x.ndim:
            self.t = xp.astype(t, x.dtype)
        else:
            self.t = one_hot(t, x.shape[-1], dtype=x.dtype, xp=xp)
        y_t = xp.sum(self.y * self.t, axis=-1)
        self._ratio = y_t / (y_t + LOG_EPS)
        self.loss = -xp.sum(xp.log(y_t + LOG_EPS)) / x.shape[0]
        return self.loss

    def backward(self, dout: Any = 1.0) -> Array:
        batch = self.y.shape[0]
        return (self.y - self.t) * (self._ratio[:, None] * (dout / batch))
