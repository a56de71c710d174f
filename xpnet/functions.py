"""Activation and loss functions of the chapter, for any array library.

Each function takes its namespace from its inputs and returns an array of the
same library, device and dtype. Losses return a 0-d array, not a Python float,
so nothing is read back from a GPU until you ask (``float(loss)``).

Examples
--------
>>> import numpy as np
>>> from xpnet import cross_entropy_error, mean_squared_error
>>> t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=np.float64)
>>> y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
>>> round(float(mean_squared_error(y, t)), 4), round(float(cross_entropy_error(y, t)), 4)
(0.0975, 0.5108)
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

from .backend import default_index_dtype, device, namespace

__all__ = [
    "check_labels",
    "cross_entropy_error",
    "identity_function",
    "mean_squared_error",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "step_function",
]

#: The chapter's guard inside the log: log(0) would be -inf.
LOG_EPS = 1e-7


def _check_floating(xp: ModuleType, x: Any, name: str) -> None:
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(
            f"`{name}` must be a real floating-point array. Received: {name}.dtype={x.dtype}. "
            f"Convert it with xpnet.asarray(..., dtype='float32')."
        )


def identity_function(x: Any) -> Any:
    """Return `x` unchanged: the output activation for regression.

    Examples
    --------
    >>> import numpy as np
    >>> identity_function(np.array([1.0, -2.0]))
    array([ 1., -2.])
    """
    namespace(x)
    return x


def step_function(x: Any) -> Any:
    """The step activation: 1 where ``x > 0``, else 0, in `x`'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> step_function(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 1.])
    """
    xp = namespace(x)
    return xp.astype(x > 0, x.dtype)


def sigmoid(x: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``, without overflow.

    ``exp`` only ever sees ``-|x|``, so huge inputs of either sign give 0 or 1
    with no overflow warning.

    Examples
    --------
    >>> import numpy as np
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    xp = namespace(x)
    _check_floating(xp, x, "x")
    return _sigmoid(xp, x)


def _sigmoid(xp: ModuleType, x: Any) -> Any:
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def relu(x: Any) -> Any:
    """The rectified linear unit ``max(x, 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> relu(np.array([-1.0, 0.5]))
    array([0. , 0.5])
    """
    return _relu(namespace(x), x)


def _relu(xp: ModuleType, x: Any) -> Any:
    return xp.where(x > 0, x, xp.zeros_like(x))


def softmax(x: Any, axis: int = -1) -> Any:
    """``exp(x) / sum(exp(x))`` along `axis`, each row of a batch on its own.

    The maximum along `axis` is subtracted first, which changes nothing
    mathematically and keeps ``exp`` from overflowing (inputs of ±1e4 are
    fine). The chapter's 2-D version subtracts the maximum of the wrong axis.

    Examples
    --------
    >>> import numpy as np
    >>> softmax(np.array([[1010.0, 1000.0, 990.0], [0.0, 0.0, 0.0]])).round(3)
    array([[1.   , 0.   , 0.   ],
           [0.333, 0.333, 0.333]])
    """
    xp = namespace(x)
    _check_floating(xp, x, "x")
    if x.ndim == 0 or x.shape[axis] == 0:
        raise ValueError(
            f"`x` needs at least one entry along axis {axis} to normalise over. "
            f"Received: x.shape={tuple(x.shape)}."
        )
    return _softmax(xp, x, axis)


def _softmax(xp: ModuleType, x: Any, axis: int = -1) -> Any:
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def one_hot(t: Any, num_classes: int, dtype: Any) -> Any:
    """Integer labels of shape (N,) -> a (N, num_classes) array of 0 and 1 in `dtype`.

    Built by comparison with ``arange``, which every backend can do (no index
    assignment). Labels outside ``[0, num_classes)`` give a row of zeros.

    Examples
    --------
    >>> import numpy as np
    >>> one_hot(np.array([2, 0]), 3, np.float32)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    return _one_hot(namespace(t), t, num_classes, dtype)


def _one_hot(xp: ModuleType, t: Any, num_classes: int, dtype: Any) -> Any:
    classes = xp.arange(num_classes, dtype=t.dtype, device=device(t))
    return xp.astype(t[..., None] == classes, dtype)


def check_labels(t: Any, num_classes: int, name: str = "t") -> None:
    """Raise unless `t` holds integer labels in ``[0, num_classes)``.

    This reads one boolean back to the host (a device synchronisation), so
    training loops check their data once rather than every mini-batch.

    Examples
    --------
    >>> import numpy as np
    >>> check_labels(np.array([0, 9]), 10)
    >>> check_labels(np.array([0, 10]), 10)
    Traceback (most recent call last):
    ...
    ValueError: `t` must hold labels in [0, 10). Received: labels from 0 to 10.
    """
    xp = namespace(t)
    if not xp.isdtype(t.dtype, "integral"):
        raise TypeError(
            f"`{name}` labels must be integers. Received: {name}.dtype={t.dtype}. "
            "Pass one-hot targets with the shape of `y`, or integer class labels."
        )
    if math.prod(t.shape) and bool(xp.any((t < 0) | (t >= num_classes))):
        lo, hi = int(xp.min(t)), int(xp.max(t))
        raise ValueError(
            f"`{name}` must hold labels in [0, {num_classes}). Received: labels from {lo} to {hi}."
        )


def _check_outputs(xp: ModuleType, y: Any) -> None:
    """`y` must be a non-empty floating array of shape (C,) or (N, C)."""
    _check_floating(xp, y, "y")
    if y.ndim not in (1, 2):
        raise ValueError(
            "`y` must have shape (C,) for one sample or (N, C) for a batch. "
            f"Received: y.shape={tuple(y.shape)}."
        )
    if math.prod(y.shape) == 0:
        raise ValueError(
            f"`y` is empty: a loss over no samples or no classes is undefined. "
            f"Received: y.shape={tuple(y.shape)}."
        )


def _as_batch(xp: ModuleType, y: Any, t: Any) -> tuple[Any, Any, bool]:
    """Validate (y, t) and return them as a batch, and whether `t` is labels."""
    _check_outputs(xp, y)
    if t.shape == y.shape:
        labels = False
    elif t.shape == y.shape[:-1]:
        labels = True
    else:
        raise ValueError(
            "`t` must be one-hot with the shape of `y`, or integer labels of shape "
            f"{tuple(y.shape[:-1])}. Received: y.shape={tuple(y.shape)}, t.shape={tuple(t.shape)}."
        )
    if y.ndim == 1:
        y, t = xp.reshape(y, (1, -1)), xp.reshape(t, (1, -1) if not labels else (1,))
    return y, t, labels


def mean_squared_error(y: Any, t: Any) -> Any:
    """Half the sum of squared errors: ``0.5 * sum((y - t)**2)``.

    For a batch of shape (N, C) this is the mean over the N samples of each
    sample's error, so the value does not grow with the batch size.

    Parameters
    ----------
    y : array of shape (C,) or (N, C), real floating
        The network's output.
    t : array of the same shape
        Targets (one-hot for classification).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.zeros(10); t[2] = 1
    >>> y = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])
    >>> round(float(mean_squared_error(y, t)), 4)
    0.5975
    """
    xp = namespace(y, t)
    _check_outputs(xp, y)
    if t.shape != y.shape:
        raise ValueError(
            "`y` and `t` must have the same shape. "
            f"Received: y.shape={tuple(y.shape)}, t.shape={tuple(t.shape)}."
        )
    err = 0.5 * xp.sum((y - xp.astype(t, y.dtype)) ** 2, axis=-1)
    return xp.mean(err) if y.ndim > 1 else err


def cross_entropy_error(y: Any, t: Any) -> Any:
    """Cross-entropy ``-sum(t * log(y + 1e-7))``, averaged over a batch.

    Parameters
    ----------
    y : array of shape (C,) or (N, C), real floating
        Predicted probabilities (softmax output).
    t : array
        One-hot targets with the shape of `y`, or integer class labels of
        shape () for one sample or (N,) for a batch.

    Returns
    -------
    0-d array in `y`'s dtype, on `y`'s device.

    Raises
    ------
    ValueError
        Shapes that don't match (labels of shape (N, 1) included, which the
        chapter's code silently broadcasts to N x N) or labels out of range.
    TypeError
        Non-floating `y`, or labels that are not integers.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]])
    >>> round(float(cross_entropy_error(y, np.array([7]))), 4)
    2.3026
    """
    xp = namespace(y, t)
    y, t, labels = _as_batch(xp, y, t)
    if labels:
        check_labels(t, y.shape[-1])
    return batch_cross_entropy(xp, y, t)


def batch_cross_entropy(xp: ModuleType, y: Any, t: Any) -> Any:
    """Cross-entropy of a batch `y` (N, C) against valid labels (N,) or one-hot (N, C).

    No checks: for callers that validated their data once already.
    """
    if t.ndim == y.ndim:
        return -xp.sum(xp.astype(t, y.dtype) * xp.log(y + LOG_EPS)) / y.shape[0]
    index = default_index_dtype(xp, device(t))
    if t.dtype != index:  # torch gathers with int64 only
        t = xp.astype(t, index)
    picked = xp.take_along_axis(y, xp.reshape(t, (-1, 1)), axis=1)
    return -xp.sum(xp.log(picked + LOG_EPS)) / y.shape[0]
