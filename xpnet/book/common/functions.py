"""The book's ``common/functions.py``: xpnet's functions on any backend.

Arguments may mix NumPy arrays (made by a script with ``np``) with the
backend's; they are brought to one library first (:mod:`xpnet.book._interop`).
``import *`` also gives ``np``, as the book's module does.

Examples
--------
>>> import numpy as np
>>> softmax(np.array([0.0, 0.0])), float(sigmoid_grad(np.array(0.0)))
(array([0.5, 0.5]), 0.25)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import functions as _f
from ...backend import device, index_dtype
from .._interop import align

# `np` as the book's `from common.functions import *` gives it.
__all__ = [
    "cross_entropy_error",
    "identity_function",
    "np",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_loss",
    "step_function",
    "sum_squared_error",
]


def identity_function(x: Any) -> Any:
    """``x``, unchanged."""
    return x


def step_function(x: Any) -> Any:
    """1 where ``x > 0``, else 0, as integers (the book's ``dtype=int``)."""
    xp, (x,) = align(x)
    return xp.astype(x > 0, index_dtype(xp, device(x)))


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))`` (:func:`xpnet.sigmoid`)."""
    xp, (x,) = align(x)
    return _f.sigmoid(x, xp=xp)


def sigmoid_grad(x: Any) -> Any:
    """``(1 - sigmoid(x)) * sigmoid(x)``."""
    y = sigmoid(x)
    return (1.0 - y) * y


def relu(x: Any) -> Any:
    """``max(0, x)`` (:func:`xpnet.relu`)."""
    xp, (x,) = align(x)
    return _f.relu(x, xp=xp)


def relu_grad(x: Any) -> Any:
    """1 where ``x >= 0``, else 0, in `x`'s dtype (the book's, 1 at 0 included)."""
    xp, (x,) = align(x)
    return xp.astype(x >= 0, x.dtype)


def softmax(x: Any) -> Any:
    """Softmax over the last axis (:func:`xpnet.softmax`)."""
    xp, (x,) = align(x)
    return _f.softmax(x, xp=xp)


def sum_squared_error(y: Any, t: Any) -> Any:
    """``0.5 * sum((y - t)**2)`` over every entry, as the book sums it."""
    xp, (y, t) = align(y, t)
    return 0.5 * xp.sum((y - t) ** 2)


def cross_entropy_error(y: Any, t: Any) -> Any:
    """Cross-entropy of probabilities `y` and one-hot or label targets `t`, batch-averaged."""
    xp, (y, t) = align(y, t)
    return _f.cross_entropy_error(y, t, xp=xp)


def softmax_loss(X: Any, t: Any) -> Any:
    """``cross_entropy_error(softmax(X), t)``."""
    return cross_entropy_error(softmax(X), t)
