"""Backpropagation layers: each forward sits next to its backward.

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

from __future__ import annotations

from typing import Any

from .backend import namespace
from .functions import LOG_EPS, one_hot, sigmoid, softmax

__all__ = ["Affine", "Relu", "Sigmoid", "SoftmaxWithLoss"]


class Affine:
    """``out = x @ W + b`` for x of shape (N, D) (or (N, ...), flattened to (N, D))."""

    def __init__(self, W: Any, b: Any) -> None:
        self.W, self.b = W, b
        self.x: Any = None
        self.dW: Any = None
        self.db: Any = None

    def forward(self, x: Any) -> Any:
        xp = namespace(x, self.W)
        self._input_shape = tuple(x.shape)
        self.x = xp.reshape(x, (x.shape[0], -1))
        return self.x @ self.W + self.b

    def backward(self, dout: Any) -> Any:
        xp = namespace(dout)
        self.dW = xp.matrix_transpose(self.x) @ dout
        self.db = xp.sum(dout, axis=0)
        return xp.reshape(dout @ xp.matrix_transpose(self.W), self._input_shape)


class Sigmoid:
    """``out = sigmoid(x)``; its derivative is ``out * (1 - out)``."""

    def __init__(self) -> None:
        self.out: Any = None

    def forward(self, x: Any) -> Any:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: Any) -> Any:
        return dout * (1.0 - self.out) * self.out


class Relu:
    """``out = max(x, 0)``; the gradient passes where ``x > 0``."""

    def __init__(self) -> None:
        self.mask: Any = None

    def forward(self, x: Any) -> Any:
        xp = namespace(x)
        self.mask = x > 0
        return xp.where(self.mask, x, xp.zeros_like(x))

    def backward(self, dout: Any) -> Any:
        xp = namespace(dout)
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

    def __init__(self) -> None:
        self.loss: Any = None
        self.y: Any = None
        self.t: Any = None

    def forward(self, x: Any, t: Any) -> Any:
        xp = namespace(x, t)
        self.y = softmax(x)
        self.t = t if t.ndim == x.ndim else one_hot(t, x.shape[-1], x.dtype)
        self.t = xp.astype(self.t, x.dtype)
        y_t = xp.sum(self.y * self.t, axis=-1)
        self._ratio = y_t / (y_t + LOG_EPS)
        self.loss = -xp.sum(xp.log(y_t + LOG_EPS)) / x.shape[0]
        return self.loss

    def backward(self, dout: Any = 1.0) -> Any:
        batch = self.y.shape[0]
        return (self.y - self.t) * (self._ratio[:, None] * (dout / batch))
