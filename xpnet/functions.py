"""Activation and loss functions of the chapter, for any array library.

Each function takes its namespace from its inputs and returns an array of the
same library, device and dtype. All follow one signature, ``f(x, /, *, xp=None)``
(array-api-extra's): pass `xp` when you already know the namespace to skip
looking it up; the arguments are checked either way. Losses return a 0-d array, not a Python float,
so nothing is read back from a GPU until you ask (``float(loss)``).

Inputs must be arrays (``xpnet.asarray(...)``), with one exception: the
targets `t` of the losses may be Python data (a label ``2``, a list of
labels, one-hot rows), which is put on `y`'s device (integers as the
backend's index dtype, floats in `y`'s dtype).

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

import numbers
import warnings
from typing import Any

from ._typing import Array, Namespace
from ._validation import check_floating, check_labels, shape_str
from .backend import device, index_dtype, namespace, native
from .errors import ProbabilityWarning, XpnetTypeError, XpnetValueError

__all__ = [
    "LOG_EPS",
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


def identity_function(x: Array, /, *, xp: Namespace | None = None) -> Array:
    """Return `x` unchanged: the output activation for regression.

    Examples
    --------
    >>> import numpy as np
    >>> identity_function(np.array([1.0, -2.0]))
    array([ 1., -2.])
    """
    if xp is None:
        namespace(x)
    return x


def step_function(x: Array, /, *, xp: Namespace | None = None) -> Array:
    """The step activation: 1 where ``x > 0``, else 0, in `x`'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> step_function(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 1.])
    """
    xp = namespace(x) if xp is None else xp
    return xp.astype(x > 0, x.dtype)


def sigmoid(x: Array, /, *, xp: Namespace | None = None) -> Array:
    """The logistic function ``1 / (1 + exp(-x))``, without overflow.

    ``exp`` only ever sees ``-|x|``, so huge inputs of either sign give 0 or 1
    with no overflow warning.

    Examples
    --------
    >>> import numpy as np
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    xp = namespace(x) if xp is None else xp
    check_floating(xp, x, "x")
    own = native(xp, "sigmoid")  # torch.sigmoid…: one operation instead of nine
    if own is not None:
        return own(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def relu(x: Array, /, *, xp: Namespace | None = None) -> Array:
    """The rectified linear unit ``max(x, 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> relu(np.array([-1.0, 0.5]))
    array([0. , 0.5])
    """
    xp = namespace(x) if xp is None else xp
    # One pass; where(x > 0, x, zeros_like(x)) took three (4x the time on NumPy).
    return xp.maximum(x, 0)


def softmax(x: Array, /, axis: int = -1, *, xp: Namespace | None = None) -> Array:
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
    xp = namespace(x) if xp is None else xp
    check_floating(xp, x, "x")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise XpnetTypeError(f"`axis` must be an int. Received: {axis!r} ({type(axis).__name__}).")
    if x.ndim and not -x.ndim <= axis < x.ndim:
        raise XpnetValueError(
            f"`axis` must be in [{-x.ndim}, {x.ndim}) for `x` of shape {shape_str(x)}. "
            f"Received: axis={axis}."
        )
    if x.ndim == 0 or x.shape[axis] == 0:
        raise XpnetValueError(
            f"`x` needs at least one entry along axis {axis} to normalise over. "
            f"Received: x.shape={shape_str(x)}."
        )
    own = native(xp, "softmax")
    if own is not None:
        return own(x, axis)
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def one_hot(
    t: Array, /, num_classes: int, *, dtype: Any = None, xp: Namespace | None = None
) -> Array:
    """Integer labels of shape (N,) -> a (N, num_classes) array of 0 and 1.

    Built by comparison with ``arange``, which every backend can do (no index
    assignment). Labels outside ``[0, num_classes)`` give a row of zeros.
    `dtype` defaults to the labels' own dtype.

    Examples
    --------
    >>> import numpy as np
    >>> one_hot(np.array([2, 0]), 3, dtype=np.float32)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    xp = namespace(t) if xp is None else xp
    classes = xp.arange(num_classes, dtype=t.dtype, device=device(t))
    return xp.astype(t[..., None] == classes, t.dtype if dtype is None else dtype)


def _check_outputs(xp: Namespace, y: Array) -> None:
    """`y` must be a non-empty floating array of shape (C,) or (N, C)."""
    check_floating(xp, y, "y")
    if y.ndim not in (1, 2):
        raise XpnetValueError(
            "`y` must have shape (C,) for one sample or (N, C) for a batch. "
            f"Received: y.shape={shape_str(y)}."
        )
    if 0 in tuple(y.shape):
        raise XpnetValueError(
            "`y` is empty: a loss over no samples or no classes is undefined. "
            f"Received: y.shape={shape_str(y)}."
        )


def _python_kind(obj: Any) -> str:
    """'int' or 'float' for (nested lists of) Python numbers; else a TypeError."""
    if isinstance(obj, list | tuple):
        kinds = {_python_kind(item) for item in obj}
        return "float" if "float" in kinds else "int"
    if isinstance(obj, bool) or not isinstance(obj, numbers.Real):
        raise XpnetTypeError(
            "`t` must be an array, a label (int), or a list of labels or one-hot rows. "
            f"Received: {obj!r} ({type(obj).__name__})."
        )
    return "int" if isinstance(obj, numbers.Integral) else "float"


def _targets(xp: Namespace, y: Array, t: Any) -> Array:
    """`t` as an array of `y`'s library and device; Python labels and one-hot rows converted."""
    if hasattr(t, "shape"):
        namespace(y, t)  # one library, one device
        return t
    dev = device(y)
    kind = _python_kind(t)
    dtype = index_dtype(xp, dev) if kind == "int" else y.dtype
    return xp.asarray(t, dtype=dtype, device=dev)


def _warn_unless_probabilities(xp: Namespace, y: Array) -> None:
    """Warn, naming softmax, when `y` has negative entries or rows not summing to 1 (one sync)."""
    sums = xp.sum(y, axis=-1)
    tol = max(1e-3, 4 * y.shape[-1] * float(xp.finfo(y.dtype).eps))
    negative, off = xp.any(y < 0), xp.any(xp.abs(sums - 1) > tol)
    if not bool(negative | off):
        return
    if bool(negative):
        what = f"its smallest entry is {float(xp.min(y)):.4g}"
    else:
        low, high = float(xp.min(sums)), float(xp.max(sums))
        what = f"its rows sum to between {low:.4g} and {high:.4g}, not 1"
    warnings.warn(
        f"cross_entropy_error: `y` is not a probability distribution: {what}. Pass the "
        "softmax of the scores, cross_entropy_error(softmax(scores), t), not the scores.",
        ProbabilityWarning,
        stacklevel=3,
    )


def _as_batch(xp: Namespace, y: Array, t: Array) -> tuple[Array, Array, bool]:
    """Validate (y, t) and return them as a batch, and whether `t` is labels."""
    _check_outputs(xp, y)
    if t.shape == y.shape:
        labels = False
    elif t.shape == y.shape[:-1]:
        labels = True
    else:
        raise XpnetValueError(
            "`t` must be one-hot with the shape of `y`, or integer labels of shape "
            f"{tuple(y.shape[:-1])}. Received: y.shape={shape_str(y)}, t.shape={shape_str(t)}."
        )
    if y.ndim == 1:
        y, t = xp.reshape(y, (1, -1)), xp.reshape(t, (1, -1) if not labels else (1,))
    return y, t, labels


def mean_squared_error(y: Array, t: Array, /, *, xp: Namespace | None = None) -> Array:
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
    xp = namespace(y) if xp is None else xp
    t = _targets(xp, y, t)
    _check_outputs(xp, y)
    if t.shape != y.shape:
        raise XpnetValueError(
            "`y` and `t` must have the same shape. "
            f"Received: y.shape={shape_str(y)}, t.shape={shape_str(t)}."
        )
    err = 0.5 * xp.sum((y - xp.astype(t, y.dtype)) ** 2, axis=-1)
    return xp.mean(err) if y.ndim > 1 else err


def cross_entropy_error(y: Array, t: Array, /, *, xp: Namespace | None = None) -> Array:
    """Cross-entropy ``-sum(t * log(y + 1e-7))``, averaged over a batch.

    Parameters
    ----------
    y : array of shape (C,) or (N, C), real floating
        Predicted probabilities (softmax output). Negative entries, or rows
        that do not sum to 1, give a :class:`~xpnet.errors.ProbabilityWarning`
        naming softmax (the check reads one boolean back from the device).
    t : array, int or list
        One-hot targets with the shape of `y`, or integer class labels of
        shape () for one sample or (N,) for a batch. Python data is accepted
        (``cross_entropy_error(y, 2)``) and put on `y`'s device.

    Returns
    -------
    0-d array in `y`'s dtype, on `y`'s device.

    Raises
    ------
    XpnetValueError
        Shapes that don't match (labels of shape (N, 1) included, which the
        chapter's code silently broadcasts to N x N) or labels out of range.
    XpnetTypeError
        Non-floating `y`, or labels that are not integers.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]])
    >>> round(float(cross_entropy_error(y, np.array([7]))), 4)
    2.3026
    """
    xp = namespace(y) if xp is None else xp
    t = _targets(xp, y, t)
    y, t, labels = _as_batch(xp, y, t)
    _warn_unless_probabilities(xp, y)
    if not labels:
        return -xp.sum(xp.astype(t, y.dtype) * xp.log(y + LOG_EPS)) / y.shape[0]
    check_labels(xp, t, y.shape[-1])
    index = index_dtype(xp, device(t))
    if t.dtype != index:  # torch gathers with int64 only
        t = xp.astype(t, index)
    picked = xp.take_along_axis(y, xp.reshape(t, (-1, 1)), axis=1)
    return -xp.sum(xp.log(picked + LOG_EPS)) / y.shape[0]
