"""Numerical differentiation and gradient descent, for any array library.

Examples
--------
>>> import numpy as np
>>> from xpnet import numerical_gradient, gradient_descent
>>> def function_2(x):
...     return x[0] ** 2 + x[1] ** 2
>>> numerical_gradient(function_2, np.array([3.0, 4.0])).round(6)
array([6., 8.])
>>> gradient_descent(function_2, np.array([-3.0, 4.0]), lr=0.1, step_num=100)
array([-6.11110793e-10,  8.14814391e-10])
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import array_api_extra as xpx

from ._validation import check_floating, non_negative_int, positive_int
from .backend import device, is_writeable, namespace
from .errors import XpnetValueError

__all__ = ["default_step", "gradient_descent", "numerical_diff", "numerical_gradient"]


def default_step(xp: ModuleType, dtype: Any) -> float:
    """The finite-difference step used when ``h=None``: ``max(1e-4, eps ** (1/3))``.

    A central difference has truncation error about ``h**2 * |f'''| / 6`` and
    rounding error about ``eps * |f| / h``; their sum is smallest near
    ``h = eps ** (1/3)``. For float64 (eps 2.2e-16) that is 6e-6, and the
    chapter's 1e-4 is just as good (both errors stay below 1e-8), so it is
    kept. For float32 (eps 1.2e-7) the optimum is 4.9e-3: the chapter's 1e-4
    would lose about three of float32's seven digits to rounding. For
    float16 (eps 9.8e-4) it is 0.099.

    Examples
    --------
    >>> import numpy as np
    >>> import array_api_compat.numpy as xp
    >>> default_step(xp, xp.float64), round(default_step(xp, xp.float32), 4)
    (0.0001, 0.0049)
    """
    return max(1e-4, float(xp.finfo(dtype).eps) ** (1 / 3))


def numerical_diff(f: Callable[[Any], Any], x: Any, h: float = 1e-4) -> Any:
    """The derivative of `f` at `x` by central difference: ``(f(x+h) - f(x-h)) / 2h``.

    The central difference is exact for quadratics and its error shrinks as
    ``h**2``; the forward difference ``(f(x+h) - f(x)) / h`` only as ``h``.
    A step as small as 1e-50 fails outright: ``x + 1e-50 == x`` in float64.

    Examples
    --------
    >>> def function_1(x):
    ...     return 0.01 * x**2 + 0.1 * x
    >>> round(numerical_diff(function_1, 5.0), 10), round(numerical_diff(function_1, 10.0), 10)
    (0.2, 0.3)
    """
    return (f(x + h) - f(x - h)) / (2 * h)


#: Default memory for the stacked points of ``numerical_gradient(batched=True)``.
BATCH_BUDGET_BYTES = 64 * 2**20


def numerical_gradient(
    f: Callable[[Any], Any],
    x: Any,
    h: float | None = None,
    *,
    batched: bool = False,
    chunk_size: int | None = None,
) -> Any:
    """The gradient of scalar function `f` at array `x`, by central differences.

    ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / 2h`` for every element ``i``
    of `x`, which may have any number of dimensions.

    Parameters
    ----------
    f : callable
        Maps an array shaped like `x` to a scalar (a 0-d array or a float).
        With ``batched=True``, maps a stack of B points, shape
        ``(B, *x.shape)``, to their B values, shape ``(B,)``.
    x : array, real floating
        Where to differentiate.
    h : float, optional
        The step; None picks one for `x`'s dtype (see :func:`default_step`).
    batched : bool
        Evaluate many perturbed points per call of `f`: the points
        ``x + h e_i`` and ``x - h e_i`` of a chunk of elements are stacked
        along a new leading axis. One call replaces up to thousands, which on
        a GPU turns thousands of tiny kernel launches into a few large ones.
        `x` is never modified.
    chunk_size : int, optional
        Elements per batched call (each makes 2 points); by default as many
        as fit in 64 MiB of stacked points.

    Returns
    -------
    array shaped like `x`, in its library, device and dtype.

    Notes
    -----
    On writable arrays (NumPy, CuPy, PyTorch, array-api-strict), `x` itself is
    perturbed one element at a time, so ``f = lambda W: net.loss(x, t)`` works
    as in the chapter even though it ignores its argument. Every element is
    restored bit for bit afterwards, also when `f` raises. Immutable arrays
    (JAX) cannot be perturbed in place: `f` gets perturbed copies and must use
    its argument; a warning says so when every component comes out zero.

    Examples
    --------
    >>> import numpy as np
    >>> numerical_gradient(lambda x: x[0] ** 2 + x[1] ** 2, np.array([3.0, 0.0])).round(6)
    array([6., 0.])

    Batched, `f` sums over all axes but the leading one:

    >>> def f(points):
    ...     return (points**2).sum(axis=(1, 2))
    >>> numerical_gradient(f, np.array([[1.0, 2.0], [3.0, 4.0]]), batched=True).round(6)
    array([[2., 4.],
           [6., 8.]])
    """
    xp = namespace(x)
    check_floating(xp, x, "x")
    step = default_step(xp, x.dtype) if h is None else float(h)
    if batched:
        return _batched(xp, f, x, step, chunk_size)
    plus_values: list[Any] = []
    if is_writeable(x):
        parts = _perturb_in_place(xp, f, x, step)
    else:
        parts = _perturb_copies(xp, f, x, step, plus_values)
    if not parts:
        return xp.zeros_like(x)
    grad = xp.reshape(xp.stack(parts), x.shape)
    if plus_values and _argument_ignored(xp, f, x, step, grad, plus_values):
        warnings.warn(
            "numerical_gradient: every partial derivative is exactly 0. The array is "
            "immutable (e.g. JAX), so `f` is called with perturbed copies of `x`; "
            "if `f` ignores its argument (as in `lambda W: net.loss(x, t)`), "
            "it never sees the perturbation. Make `f` use its argument.",
            RuntimeWarning,
            stacklevel=2,
        )
    return grad


def _argument_ignored(
    xp: ModuleType, f: Callable[[Any], Any], x: Any, h: float, grad: Any, plus_values: list[Any]
) -> bool:
    """Every derivative is 0 and f gave f(x) at every perturbed point: it ignores x.

    A genuine stationary point (x0**2 + x1**2 at the origin) has a zero
    gradient too, but there f(x + h e_i) differs from f(x). And where x is so
    large that ``x + h == x``, no function could see the step.
    """
    if bool(xp.any(grad != 0)) or not bool(xp.any(x + h != x)):
        return False
    at_x = _scalar(xp, f(x), x)
    return all(bool(_scalar(xp, value, x) == at_x) for value in plus_values)


def _scalar(xp: ModuleType, value: Any, like: Any) -> Any:
    """`value` (a float or 0-d array) as a 0-d array of `like`'s dtype and device."""
    return xp.asarray(value, dtype=like.dtype, device=device(like))


def _perturb_in_place(xp: ModuleType, f: Callable[[Any], Any], x: Any, h: float) -> list[Any]:
    parts = []
    for index in itertools.product(*(range(n) for n in x.shape)):
        original = xp.asarray(x[index], copy=True)  # x[index] may be a view
        try:
            x[index] = original + h
            f_plus = f(x)
            x[index] = original - h
            f_minus = f(x)
        finally:
            x[index] = original
        parts.append(_scalar(xp, (f_plus - f_minus) / (2 * h), x))
    return parts


def _perturb_copies(
    xp: ModuleType, f: Callable[[Any], Any], x: Any, h: float, plus_values: list[Any]
) -> list[Any]:
    """Differences from perturbed copies; the values f(x + h e_i) go to `plus_values`."""
    flat = xp.reshape(x, (-1,))
    parts = []
    for i in range(flat.shape[0]):
        f_plus = f(xp.reshape(xpx.at(flat, i).add(h, copy=True), x.shape))
        f_minus = f(xp.reshape(xpx.at(flat, i).subtract(h, copy=True), x.shape))
        plus_values.append(f_plus)
        parts.append(_scalar(xp, (f_plus - f_minus) / (2 * h), x))
    return parts


def _batched(
    xp: ModuleType, f: Callable[[Any], Any], x: Any, h: float, chunk_size: int | None
) -> Any:
    """Central differences with the perturbed points stacked along a leading axis."""
    n = math.prod(x.shape)
    if chunk_size is None:
        itemsize = xp.finfo(x.dtype).bits // 8
        chunk_size = max(1, BATCH_BUDGET_BYTES // (2 * max(n, 1) * itemsize))
    else:
        chunk_size = positive_int(chunk_size, "chunk_size")
    dev = device(x)
    flat = xp.reshape(x, (1, n))
    positions = xp.arange(n, device=dev)
    parts = []
    for start in range(0, n, chunk_size):
        rows = xp.arange(start, min(start + chunk_size, n), device=dev)
        step = xp.astype(rows[:, None] == positions[None, :], x.dtype) * h  # h on the diagonal
        points = xp.concat([flat + step, flat - step], axis=0)
        values = f(xp.reshape(points, (points.shape[0], *x.shape)))
        if tuple(values.shape) != (points.shape[0],):
            raise XpnetValueError(
                f"With batched=True, `f` must map points of shape (B, *x.shape) to values of "
                f"shape (B,). Received: {tuple(values.shape)} for B={points.shape[0]}."
            )
        b = rows.shape[0]
        parts.append(xp.astype((values[:b] - values[b:]) / (2 * h), x.dtype))
    if not parts:
        return xp.zeros_like(x)
    return xp.reshape(xp.concat(parts), x.shape)


def gradient_descent(
    f: Callable[[Any], Any],
    init_x: Any,
    lr: float = 0.01,
    step_num: int = 100,
    history: bool = False,
) -> Any:
    """Minimise `f` by ``step_num`` steps of ``x <- x - lr * numerical_gradient(f, x)``.

    Parameters
    ----------
    f : callable
        Scalar function of an array shaped like `init_x`.
    init_x : array, real floating
        The starting point; it is never modified.
    lr : float
        The learning rate (step size).
    step_num : int
        How many steps to take.
    history : bool
        Also return every point visited before each step, as an array of shape
        ``(step_num, *init_x.shape)``.

    Returns
    -------
    x : array shaped like `init_x`
    history : array, only when ``history=True``

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: x[0] ** 2 + x[1] ** 2
    >>> x, path = gradient_descent(f, np.array([-3.0, 4.0]), lr=10.0, history=True)
    >>> path.shape, bool(abs(x[0]) > 1e12)
    ((100, 2), True)
    """
    xp = namespace(init_x)
    check_floating(xp, init_x, "init_x")
    steps = non_negative_int(step_num, "step_num")
    x = xp.asarray(init_x, copy=True)
    visited = []
    for _ in range(steps):
        if history:
            visited.append(x)
        x = x - lr * numerical_gradient(f, x)
    if not history:
        return x
    if not visited:
        return x, xp.empty((0, *x.shape), dtype=x.dtype, device=device(x))
    return x, xp.stack(visited)
