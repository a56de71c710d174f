"""SoftmaxWithLoss: softmax and cross-entropy, the output layer of every network.

Examples
--------
>>> import numpy as np
>>> layer = SoftmaxWithLoss()
>>> round(float(layer.forward(np.array([[2.0, 0.0, 0.0]]), np.array([0]))), 4)
0.2395
>>> layer.backward().round(3)
array([[-0.213,  0.107,  0.107]])
"""

from __future__ import annotations

from typing import Any

from .._typing import Array, Namespace
from ..backend import device, namespace
from ..errors import XpnetValueError
from ..functions import LOG_EPS, one_hot, softmax

__all__ = ["SoftmaxWithLoss", "softmax_loss", "softmax_loss_backward"]


def softmax_loss(xp: Namespace, x: Array, t: Array) -> tuple[Array, dict[str, Any]]:
    """``-mean(log(softmax(x)[t] + 1e-7))`` and what its backward needs.

    `t` is integer labels (N,) or one-hot targets (N, C). Scores stacked on
    leading axes, (B, N, C), give B losses (the batched numerical gradient).
    Labels pick each sample's probability with one gather, as the book's
    ``y[np.arange(N), t]`` does; one-hot targets weigh every class.
    """
    y = softmax(x, xp=xp)
    if t.ndim == 1 and y.ndim == 2:
        y_t = xp.reshape(xp.take_along_axis(y, t[:, None], axis=1), (-1,))
    else:
        target = t if t.ndim > 1 else one_hot(t, x.shape[-1], dtype=x.dtype, xp=xp)
        y_t = xp.sum(y * xp.astype(target, x.dtype), axis=-1)
    loss = -xp.sum(xp.log(y_t + LOG_EPS), axis=-1) / x.shape[-2]
    return loss, {"y": y, "t": t, "ratio": y_t / (y_t + LOG_EPS)}


def softmax_loss_backward(
    cache: dict[str, Any], dout: Any = 1.0, *, xp: Namespace | None = None
) -> Array:
    """The exact derivative of :func:`softmax_loss`, 1e-7 guard included.

    ``(y - t) * r / N`` with ``r = y_t / (y_t + 1e-7)`` per sample. The usual
    ``(y - t) / N`` differs from it by about ``1e-7 / y_t`` relative, which a
    float64 gradient check would see.
    """
    y, t = cache["y"], cache["t"]
    xp = namespace(y) if xp is None else xp
    if t.ndim == 1:  # y - one_hot(t), without making the one-hot array
        classes = xp.arange(y.shape[-1], dtype=t.dtype, device=device(y))
        difference = xp.where(t[:, None] == classes, y - 1.0, y)
    else:
        difference = y - xp.astype(t, y.dtype)
    return difference * (cache["ratio"][:, None] * (dout / y.shape[0]))


class SoftmaxWithLoss:
    """Softmax followed by cross-entropy (the book's class, over :func:`softmax_loss`).

    ``forward(x, t)`` returns the loss for integer labels `t` of shape (N,)
    or one-hot `t` of shape (N, C) and keeps ``y`` (the probabilities),
    ``t`` (one-hot) and ``loss``; ``backward(dout=1)`` returns the gradient
    of the scores.
    """

    def __init__(self, *, xp: Namespace | None = None) -> None:
        self.xp = xp
        self.loss: Any = None
        self.y: Any = None
        self.t: Any = None

    def forward(self, x: Array, t: Array) -> Array:
        xp = self.xp or namespace(x, t)
        self.loss, self._cache = softmax_loss(xp, x, t)
        self.y = self._cache["y"]
        self.t = t if t.ndim == x.ndim else one_hot(t, x.shape[-1], dtype=x.dtype, xp=xp)
        return self.loss

    def backward(self, dout: Any = 1.0) -> Array:
        if not hasattr(self, "_cache"):
            raise XpnetValueError(
                "SoftmaxWithLoss.backward() uses what forward(x, t) kept: call forward() first."
            )
        return softmax_loss_backward(self._cache, dout, xp=self.xp)
