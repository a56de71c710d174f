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

import numbers
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ._validation import check_floating, non_negative_int, positive_float
from .backend import device, namespace
from .differences import NONE_MESSAGE, batched_differences, central_differences, check_step
from .errors import XpnetTypeError, XpnetValueError

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
    return _step(float(xp.finfo(dtype).eps))


def _step(eps: float) -> float:
    return max(1e-4, eps ** (1 / 3))


def numerical_diff(f: Callable[[Any], Any], x: Any, h: float | None = None) -> Any:
    """The derivative of `f` at `x` by central difference: ``(f(x+h) - f(x-h)) / 2h``.

    The central difference is exact for quadratics and its error shrinks as
    ``h**2``; the forward difference ``(f(x+h) - f(x)) / h`` only as ``h``.
    A step as small as 1e-50 fails outright: ``x + 1e-50 == x`` in float64.

    Parameters
    ----------
    f : callable
        A function of one number (or, element by element, of an array).
    x : float or real floating array
        Where to differentiate. Python numbers count as float64.
    h : float, optional
        The step; None picks one for `x`'s dtype, as :func:`numerical_gradient`
        does (1e-4 for float64, 4.9e-3 for float32; see :func:`default_step`).

    Examples
    --------
    >>> def function_1(x):
    ...     return 0.01 * x**2 + 0.1 * x
    >>> round(numerical_diff(function_1, 5.0), 10), round(numerical_diff(function_1, 10.0), 10)
    (0.2, 0.3)
    """
    if hasattr(x, "dtype"):
        xp = namespace(x)
        check_floating(xp, x, "x")
        step = default_step(xp, x.dtype)
    elif isinstance(x, numbers.Real) and not isinstance(x, bool):
        step = _step(sys.float_info.epsilon)
    else:
        raise XpnetTypeError(
            f"`x` must be a number or a real floating array. Received: {x!r} ({type(x).__name__})."
        )
    step = step if h is None else positive_float(h, "h")
    plus, minus = f(x + step), f(x - step)
    if plus is None or minus is None:
        raise XpnetTypeError(NONE_MESSAGE)
    return (plus - minus) / (2 * step)


def numerical_gradient(
    f: Callable[..., Any],
    x: Any,
    *args: Any,
    h: float | None = None,
    wrt: str | None = None,
    batched: bool = False,
    chunk_size: int | None = None,
) -> Any:
    """The gradient of scalar function `f` at array `x`, by central differences.

    ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / 2h`` for every element ``i``
    of `x`, which may have any number of dimensions.

    Two forms:

    * ``numerical_gradient(f, x)``: `f` is a function of `x`.
    * ``numerical_gradient(net.loss, x, t, wrt="W1")``: the gradient of
      ``net.loss(x, t)`` with respect to the network's parameter ``W1``
      (``net.params["W1"]``, else the attribute ``net.W1``). Each perturbed
      value is put in the network's place for the call and the original
      array is put back afterwards, so this works on every backend, JAX
      included, whether or not the array can be changed.

    Parameters
    ----------
    f : callable
        Maps an array shaped like `x` to a scalar (a 0-d array or a number).
        With ``batched=True``, maps a stack of B points, shape
        ``(B, *x.shape)``, to their B values, shape ``(B,)``. With `wrt`, a
        bound method (``net.loss``) called as ``f(x, *args)``.
    x : array, real floating
        Where to differentiate; with `wrt`, the first argument of `f`.
    *args
        With `wrt` only: the further arguments of `f`.
    h : float, optional
        The step; None picks one for the dtype (see :func:`default_step`).
    wrt : str, optional
        The name of the parameter of ``f.__self__`` to differentiate with
        respect to.
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
    array shaped like `x` (with `wrt`, like the parameter), in its library,
    device and dtype.

    Raises
    ------
    XpnetTypeError, XpnetValueError
        When `f` returns None, a non-scalar or a non-finite value; when `x`
        cannot be changed in place and `f` ignores its argument (see Notes).

    Notes
    -----
    One rule on every backend: `f` is always called with `x`, and when `x`
    can be changed in place (NumPy, CuPy, PyTorch — tensors that require
    grad included — and array-api-strict), `x` itself is perturbed one
    element at a time, so ``f = lambda W: net.loss(x, t)`` works as in the
    chapter even though it ignores its argument. Every element is restored
    bit for bit afterwards, also when `f` raises; nothing is recorded for
    automatic differentiation, and a tensor's ``requires_grad``, ``.grad`` and
    version counter are left as they were. When `x` cannot be changed (JAX
    arrays, read-only NumPy arrays), `f` gets perturbed copies; if it ignores
    them, so that every partial derivative comes out 0, that is an error
    naming the fixes, never a silently zero gradient.

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

    The explicit form, for the chapter's SimpleNet:

    >>> from xpnet import SimpleNet
    >>> net = SimpleNet(np.array([[0.47355232, 0.9977393, 0.84668094],
    ...                           [0.85557411, 0.03563661, 0.69422093]]))
    >>> x, t = np.array([0.6, 0.9]), np.array([0.0, 0.0, 1.0])
    >>> numerical_gradient(net.loss, x, t, wrt="W").round(3)
    array([[ 0.219,  0.144, -0.363],
           [ 0.329,  0.215, -0.544]])
    """
    if wrt is not None:
        if batched:
            raise XpnetValueError("`wrt` and `batched=True` cannot be combined.")
        return _gradient_wrt(f, (x, *args), wrt, h)
    if args:
        raise XpnetTypeError(
            f"numerical_gradient(f, x) takes one array; {len(args)} more positional "
            "argument(s) given. Pass the step as h=...; extra arguments of `f` go with "
            "the explicit form numerical_gradient(net.loss, x, t, wrt='W1')."
        )
    xp = namespace(x)
    check_floating(xp, x, "x")
    step = default_step(xp, x.dtype) if h is None else positive_float(h, "h")
    check_step(xp, x, step)
    if batched:
        return batched_differences(xp, f, x, step, chunk_size)
    return central_differences(xp, f, x, step)


def _gradient_wrt(f: Callable[..., Any], args: tuple[Any, ...], wrt: str, h: Any) -> Any:
    """``numerical_gradient(net.loss, x, t, wrt="W1")``: put perturbed values in net's place."""
    owner = getattr(f, "__self__", None)
    if owner is None:
        raise XpnetTypeError(
            "`wrt` needs a bound method whose object holds the parameter, such as `net.loss`. "
            f"Received: {f!r}."
        )
    params = getattr(owner, "params", None)
    in_params = isinstance(params, dict) and isinstance(wrt, str) and wrt in params
    if not in_params and not (isinstance(wrt, str) and hasattr(getattr(owner, wrt, None), "shape")):
        names = sorted(params) if isinstance(params, dict) else []
        names += [k for k, v in vars(owner).items() if hasattr(v, "shape")]
        raise XpnetValueError(
            f"`wrt` must name a parameter of {type(owner).__name__}: "
            f"{', '.join(repr(n) for n in names) or 'it has none'}. Received: {wrt!r}."
        )

    def put(value: Any) -> None:
        if in_params:
            params[wrt] = value  # type: ignore[index]
        else:
            setattr(owner, wrt, value)

    original = params[wrt] if in_params else getattr(owner, wrt)  # type: ignore[index]

    def at(value: Any) -> Any:
        put(value)
        try:
            return f(*args)
        finally:
            put(original)

    return numerical_gradient(at, original, h=h)


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
        The learning rate (step size), finite and positive. One too large
        makes x grow until the finite-difference step vanishes next to it
        (``x + h == x``); from there the derivative is 0 and x stops, as in
        the book (lr=10 stops near -2.6e13). If `f` overflows first, that is
        an error naming the step and the learning rate.
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
    lr = positive_float(lr, "lr")
    steps = non_negative_int(step_num, "step_num")
    x = xp.asarray(init_x, copy=True)
    visited = []
    h = default_step(xp, x.dtype)
    for i in range(steps):
        if history:
            visited.append(x)
        try:
            grad = central_differences(xp, f, x, h)
        except XpnetValueError as exc:
            if i == 0:
                raise
            raise XpnetValueError(
                f"gradient_descent, step {i}: {exc} The steps grew without bound: "
                f"lr={lr:g} is probably too large."
            ) from None
        x = x - lr * grad
    if not history:
        return x
    if not visited:
        return x, xp.empty((0, *x.shape), dtype=x.dtype, device=device(x))
    return x, xp.stack(visited)
