"""The book's ``common/gradient.py``: :func:`xpnet.numerical_gradient` under its names.

The book's networks call ``numerical_gradient(lambda W: self.loss(x, t),
self.params["W1"])``: `f` ignores its argument and sees the perturbation
because the array is changed in place, which xpnet does (and always
restores) on every library whose arrays can be written.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import gradient as _g
from ...backend import namespace

__all__ = ["np", "numerical_gradient", "numerical_gradient_2d"]


def numerical_gradient(f: Any, x: Any) -> Any:
    """Central differences of `f` at `x`, any number of dimensions."""
    return _g.numerical_gradient(f, x)


def numerical_gradient_2d(f: Any, X: Any) -> Any:
    """The gradient of `f` at each row of `X` (`f` takes one row), or at `X` if it is 1-D."""
    if X.ndim == 1:
        return _g.numerical_gradient(f, X)
    xp = namespace(X)
    return xp.stack([_g.numerical_gradient(f, X[i, ...]) for i in range(X.shape[0])])
