"""Assertions for your own tests: is a layer's backward the derivative of its forward?

:func:`assert_grads_close` is :func:`xpnet.check_grads` as an assertion: it
returns nothing useful on success and raises an ``AssertionError`` (a
:class:`xpnet.errors.GradientCheckError`) whose message shows the arrays,
the worst elements with both values, and the tolerances. The step and the
tolerances come from the dtype, so the same test works in float32 and float64
and on every backend.

Examples
--------
A hand-written layer, ``y = tanh(x @ W)``, tested through a random projection
of its output (the gradient of ``sum(dout * y)`` is what ``backward(dout)``
returns):

>>> import numpy as np
>>> from xpnet.testing import assert_grads_close
>>> rng = np.random.default_rng(0)
>>> x, W, dout = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(3, 2))
>>> def forward(W):
...     return np.tanh(x @ W)
>>> def backward_W(W):  # what the layer's backward computes for dW
...     return x.T @ (dout * (1 - np.tanh(x @ W) ** 2))
>>> assert_grads_close(lambda W: np.sum(dout * forward(W)), W, backward_W)
>>> def wrong_backward_W(W):  # the tanh derivative forgotten
...     return x.T @ dout
>>> assert_grads_close(lambda W: np.sum(dout * forward(W)), W, wrong_backward_W)
Traceback (most recent call last):
...
xpnet.errors.GradientCheckError: Gradients differ from their finite differences.
...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .checking import check_grads
from .errors import GradientCheckError

__all__ = ["assert_grads_close"]


def assert_grads_close(
    f: Callable[[Any], Any],
    x: Any,
    grad: Any,
    *,
    mode: str = "full",
    directions: int = 4,
    h: float | None = None,
    order: int = 2,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int | None = None,
    batched: bool = False,
    err_msg: str = "",
) -> None:
    """Assert that `grad` is the gradient of `f` at `x`, within the dtype's tolerances.

    The arguments are those of :func:`xpnet.check_grads`; `err_msg` is
    printed first when the assertion fails (as in ``numpy.testing``).

    Raises
    ------
    GradientCheckError
        An ``AssertionError``: the table of the check, the worst elements with
        their indices, claimed and numerical values, and the tolerances.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    try:
        check_grads(
            f, x, grad, mode=mode, directions=directions, h=h, order=order,
            rtol=rtol, atol=atol, seed=seed, batched=batched,
        )  # fmt: skip
    except GradientCheckError as exc:
        header = "Gradients differ from their finite differences." + (
            f" {err_msg}" if err_msg else ""
        )
        raise GradientCheckError(f"{header}\n{exc}", exc.report) from None
