"""Central differences, the engines behind :func:`xpnet.numerical_gradient`.

* :func:`central_differences` perturbs one element at a time: in place when
  the array can be changed (inside the library's ``perturbation`` context,
  which on PyTorch leaves autograd and the version counter alone), else on
  copies. The values of `f` are checked as they come: None, arrays that are
  not one number, and non-finite values are errors a learner understands,
  and so is a zero gradient from an `f` that never saw the perturbations.
* :func:`batched_differences` stacks the perturbed points along a leading
  axis and calls `f` once per chunk.

Examples
--------
>>> import numpy as np
>>> import array_api_compat.numpy as xp
>>> central_differences(xp, lambda w: xp.sum(w**2), np.array([1.0, -2.0]), 1e-4).round(6)
array([ 2., -4.])
"""

from __future__ import annotations

import itertools
import math
import numbers
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import array_api_extra as xpx

from ._validation import positive_int
from .backend import device, is_writeable, perturbation, read_only_reason, to_numpy
from .errors import XpnetTypeError, XpnetValueError

__all__ = [
    "BATCH_BUDGET_BYTES",
    "NONE_MESSAGE",
    "batched_differences",
    "central_differences",
    "check_step",
    "checked_value",
]

#: Default memory for the stacked points of ``numerical_gradient(batched=True)``.
BATCH_BUDGET_BYTES = 64 * 2**20

NONE_MESSAGE = (
    "`f` returned None: did you forget `return`? `f` must return the function's value "
    "(a number or a 0-d array)."
)


def check_step(xp: ModuleType, x: Any, h: float) -> None:
    """An error if ``x + h == x`` somewhere: `f` could not see that step (one device sync)."""
    lost = x + h == x
    if not bool(xp.any(lost)):
        return
    flat = to_numpy(xp.reshape(lost, (-1,))).tolist()
    i = flat.index(True)
    where = ", ".join(str(k) for k in _unravel(i, tuple(x.shape)))
    value = to_numpy(xp.reshape(x, (-1,)))[i]
    raise XpnetValueError(
        f"The step h={h:g} vanishes next to x[{where}] = {value} (x + h == x in "
        f"{x.dtype}), so `f` cannot see it and the derivative would come out 0. "
        "Use a larger h, or a point of smaller magnitude."
    )


def central_differences(xp: ModuleType, f: Callable[[Any], Any], x: Any, h: float) -> Any:
    """``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every element, one at a time; shaped like x."""
    writable = is_writeable(x)
    plus: list[Any] = []
    minus: list[Any] = []
    with perturbation(x) as target:
        if writable:
            _perturb_in_place(xp, f, x, target, h, plus, minus)
        else:
            _perturb_copies(xp, f, x, h, plus, minus)
        if not plus:
            return xp.zeros_like(x)
        parts = [_scalar(xp, (p - m) / (2 * h), x) for p, m in zip(plus, minus, strict=True)]
        grad = xp.reshape(xp.stack(parts), x.shape)
        _check_finite(xp, grad, plus, minus, x.shape)
        if _argument_ignored(xp, f, x, h, grad, plus):
            _ignored_argument(x, writable)
    return grad


def checked_value(value: Any) -> Any:
    """`f`'s value, or an error a learner understands when it is not one number."""
    if value is None:
        raise XpnetTypeError(NONE_MESSAGE)
    if hasattr(value, "shape"):
        if tuple(value.shape) != ():
            raise XpnetValueError(
                "`f` must return one number (a scalar or a 0-d array), the function's value "
                f"at `x`. Received: an array of shape {tuple(value.shape)}. Reduce it to one "
                "number, e.g. with xp.sum(...) or xp.mean(...)."
            )
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise XpnetTypeError(
            "`f` must return a number or a 0-d array. "
            f"Received: {value!r} ({type(value).__name__})."
        )
    return value


def _host_float(value: Any) -> float:
    return float(to_numpy(value)) if hasattr(value, "shape") else float(value)


def _check_finite(
    xp: ModuleType, grad: Any, plus: list[Any], minus: list[Any], shape: tuple[int, ...]
) -> None:
    """An error naming the first element where `f` was not finite (one device sync)."""
    if bool(xp.all(xp.isfinite(grad))):
        return
    flat = to_numpy(xp.reshape(grad, (-1,)))
    i = next(i for i, g in enumerate(flat.tolist()) if not abs(g) < float("inf"))
    index = tuple(int(k) for k in _unravel(i, shape))
    raise XpnetValueError(
        f"`f` is not finite near `x`: at element {index}, f(x + h*e) = "
        f"{_host_float(plus[i])} and f(x - h*e) = {_host_float(minus[i])}, so the partial "
        f"derivative is {flat[i]}. A numerical gradient needs finite values of `f` around `x`."
    )


def _unravel(i: int, shape: tuple[int, ...]) -> list[int]:
    index = []
    for n in reversed(shape):
        i, k = divmod(i, n)
        index.append(k)
    return index[::-1]


def _argument_ignored(
    xp: ModuleType, f: Callable[[Any], Any], x: Any, h: float, grad: Any, plus: list[Any]
) -> bool:
    """Every derivative is 0 and f gave f(x) at every perturbed point: it ignores x.

    A genuine stationary point (x0**2 + x1**2 at the origin) has a zero
    gradient too, but there f(x + h e_i) differs from f(x). Where ``x + h == x``
    (only gradient_descent lets that through) no function could see the step.
    """
    if bool(xp.any(grad != 0)) or not bool(xp.all(x + h != x)):
        return False
    at_x = _host_float(checked_value(f(x)))
    return all(_host_float(value) == at_x for value in plus)


def _ignored_argument(x: Any, writable: bool) -> None:
    """Warn (x was perturbed: f is constant) or raise (x could not be: f never saw it)."""
    if writable:
        warnings.warn(
            "numerical_gradient: `f` returned the same value at every perturbed point, so "
            "every partial derivative is 0: `f` does not depend on `x`. If `f` reads another "
            "array (as `lambda W: net.loss(x, t)` reads net.W), pass that array itself as `x`.",
            RuntimeWarning,
            stacklevel=4,
        )
        return
    raise XpnetValueError(
        "numerical_gradient: `f` ignores its argument, and `x` cannot be changed in place "
        f"({read_only_reason(x)}); so `f` never saw the perturbations and every partial "
        "derivative came out 0. Either make `f` use its argument (write "
        "`lambda W: SimpleNet(W).loss(x, t)`, not `lambda W: net.loss(x, t)`), or let "
        "xpnet put the perturbed values in the network: `net.numerical_gradient(x, t)`, "
        "or `numerical_gradient(net.loss, x, t, wrt='W')`."
    )


def _scalar(xp: ModuleType, value: Any, like: Any) -> Any:
    """`value` (a float or 0-d array) as a 0-d array of `like`'s dtype and device."""
    return xp.asarray(value, dtype=like.dtype, device=device(like))


def _perturb_in_place(
    xp: ModuleType,
    f: Callable[[Any], Any],
    x: Any,
    target: Any,
    h: float,
    plus: list[Any],
    minus: list[Any],
) -> None:
    """Write x ± h e_i into `target` (x's writable view) and call f(x) at each."""
    for index in itertools.product(*(range(n) for n in x.shape)):
        original = xp.asarray(target[index], copy=True)  # target[index] may be a view
        try:
            target[index] = original + h
            plus.append(checked_value(f(x)))
            target[index] = original - h
            minus.append(checked_value(f(x)))
        finally:
            target[index] = original


def _perturb_copies(
    xp: ModuleType,
    f: Callable[[Any], Any],
    x: Any,
    h: float,
    plus: list[Any],
    minus: list[Any],
) -> None:
    """Call f at perturbed copies of x."""
    flat = xp.reshape(x, (-1,))
    for i in range(flat.shape[0]):
        plus.append(checked_value(f(xp.reshape(xpx.at(flat, i).add(h, copy=True), x.shape))))
        minus.append(checked_value(f(xp.reshape(xpx.at(flat, i).subtract(h, copy=True), x.shape))))


def batched_differences(
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
        if values is None:
            raise XpnetTypeError(NONE_MESSAGE)
        if tuple(getattr(values, "shape", ())) != (points.shape[0],):
            raise XpnetValueError(
                f"With batched=True, `f` must map points of shape (B, *x.shape) to values of "
                f"shape (B,). Received: {tuple(getattr(values, 'shape', ()))} for "
                f"B={points.shape[0]}."
            )
        b = rows.shape[0]
        parts.append(xp.astype((values[:b] - values[b:]) / (2 * h), x.dtype))
    if not parts:
        return xp.zeros_like(x)
    grad = xp.reshape(xp.concat(parts), x.shape)
    if not bool(xp.all(xp.isfinite(grad))):
        raise XpnetValueError(
            "`f` is not finite near `x`: some partial derivatives are NaN or infinite. "
            "A numerical gradient needs finite values of `f` around `x`."
        )
    return grad
