"""The error model of a central difference: its default step, rtol and atol.

A central difference of order p with step h estimates a derivative with two
errors (docs/checking-gradients.md derives them):

* truncation, ``C_p h**p |f^(p+1)|``: ``C_2 = 1/6`` for the 2-point stencil
  ``(f(x+h) - f(x-h)) / 2h``, ``C_4 = 1/30`` for the 4-point one
  ``(8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h``;
* rounding, ``K_p eps F / h``, where F is the size of the values of f and eps
  the machine epsilon: ``K_2 = 1`` and ``K_4 = 1.5`` (the stencil's weights
  summed, over 2 or 12), plus ``K_p eps |x| / 2h`` relative from rounding
  ``x ± h`` itself.

The step that balances them is ``eps ** (1/(p+1))``. Tolerances are these
errors times :data:`SAFETY`, with the unknown higher derivative taken to be of
the size of the gradient itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..gradient import default_step

__all__ = ["ORDERS", "SAFETY", "ErrorModel", "step_for"]

#: The supported stencils: 2 points (order 2) and 4 points (order 4).
ORDERS = (2, 4)
#: How far beyond the estimated error a difference must be to count as wrong.
SAFETY = 10.0
TRUNCATION = {2: 1 / 6, 4: 1 / 30}
ROUNDING = {2: 1.0, 4: 1.5}
#: sqrt(E[z ** (2 (p + 1))]) for z ~ N(0, 1): the (p+1)-th derivative along a
#: random direction whose elements move by about h each, relative to one element's.
DIRECTIONAL = {2: math.sqrt(15.0), 4: math.sqrt(945.0)}


def step_for(xp: Any, dtype: Any, order: int) -> float:
    """The default step: ``max(1e-4, eps ** (1/3))`` for order 2, ``eps ** (1/5)`` for order 4.

    Examples
    --------
    >>> import array_api_compat.numpy as xp
    >>> [round(step_for(xp, d, p), 5) for d in (xp.float32, xp.float64) for p in (2, 4)]
    [0.00492, 0.04123, 0.0001, 0.00074]
    """
    if order == 2:
        return default_step(xp, dtype)
    return float(xp.finfo(dtype).eps) ** (1 / 5)


@dataclass(frozen=True)
class ErrorModel:
    """The expected error of one stencil (`order`, step `h`) in a dtype of machine epsilon `eps`."""

    order: int
    h: float
    eps: float

    @property
    def truncation(self) -> float:
        """``C_p h**p``: truncation error relative to the derivatives' size."""
        return TRUNCATION[self.order] * self.h**self.order

    @property
    def rounding(self) -> float:
        """``K_p eps / h``: rounding error per unit of f's values."""
        return ROUNDING[self.order] * self.eps / self.h

    def full(self, f_scale: float, grad_scale: float, x_scale: float) -> tuple[float, float]:
        """``(rtol, atol)`` for element-wise differences ``|claimed - numerical|``.

        ``atol = S (C_p h^p G + K_p eps F / h)`` and
        ``rtol = S (C_p h^p + K_p eps X / 2h)``, with F the largest ``|f|``,
        G the largest numerical derivative and X the largest ``|x|`` (rounding
        ``x ± h`` to the dtype moves each point by up to ``eps |x| / 2``).
        """
        rtol = SAFETY * (self.truncation + self.rounding * x_scale / 2)
        atol = SAFETY * (self.truncation * grad_scale + self.rounding * f_scale)
        return rtol, atol

    def fast(
        self, s: float, f_scale: float, grad_scale: float, x_scale: float, n: int, sum_eps: float
    ) -> tuple[float, float]:
        """``(rtol, atol)`` for derivatives along random unit vectors, with step `s` along them.

        Each of the `n` elements moves by about ``e = s / sqrt(n)``, and G is
        the root mean square of the gradient (the size of a directional
        derivative): ``atol = S (M_p C_p e^p G + K_p eps (F + X sqrt(n) G / 2) / s
        + eps_sum sqrt(n) G)``, the last term for summing ``vdot(grad, v)`` in a
        dtype of epsilon `sum_eps`; ``rtol = S C_p e^p``.
        """
        root = math.sqrt(max(n, 1))
        moved = TRUNCATION[self.order] * (s / root) ** self.order
        rounding = ROUNDING[self.order] * self.eps * (f_scale + x_scale * root * grad_scale / 2) / s
        trunc = DIRECTIONAL[self.order] * moved * grad_scale
        atol = SAFETY * (trunc + rounding + sum_eps * root * grad_scale)
        return SAFETY * moved, atol
