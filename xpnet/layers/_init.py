"""Initial weight scales: a number, or Xavier's and He's rules by name, for a layer's fan-in."""

from __future__ import annotations

import math
from typing import Any

from .._validation import finite_float, one_of
from ..backend import Backend, resolve_dtype
from ..errors import XpnetValueError

__all__ = ["INIT_NAMES", "check_weight_init", "weight_scale"]

#: Names `weight_init_std` accepts, and the variance each gives a weight: 1/n_in or 2/n_in.
INIT_NAMES = {"xavier": 1.0, "sigmoid": 1.0, "he": 2.0, "relu": 2.0}


def check_weight_init(
    weight_init_std: Any, dtype: str | None = None, b: Backend | None = None
) -> float | str:
    """`weight_init_std` checked: a finite number, or one of :data:`INIT_NAMES` (lower-cased).

    Given the weights' `dtype` (a name) and backend `b`, a number must
    also be small enough that no draw overflows that dtype.
    """
    if isinstance(weight_init_std, str):
        return one_of(weight_init_std.lower(), "weight_init_std", tuple(INIT_NAMES))
    std = finite_float(weight_init_std, "weight_init_std")
    if dtype is None or b is None:
        return std
    limit = float(b.xp.finfo(resolve_dtype(b, dtype)).max)
    if abs(std) > limit / 10:  # draws reach 10 standard deviations with probability ~1e-23
        raise XpnetValueError(
            f"`weight_init_std` is too large for {dtype}: weights drawn with it overflow to "
            f"infinity ({dtype} holds numbers up to {limit:.3g}). Received: {std:g}."
        )
    return std


def weight_scale(weight_init_std: float | str, n_in: int) -> float:
    """The standard deviation of a layer's initial weights, for `n_in` inputs per unit.

    A number is used as it is; ``"xavier"`` or ``"sigmoid"`` give
    ``sqrt(1 / n_in)`` (Glorot and Bengio, 2010, in the book's simplified
    form), ``"he"`` or ``"relu"`` give ``sqrt(2 / n_in)`` (He et al., 2015).

    Examples
    --------
    >>> weight_scale("he", 50), weight_scale(0.01, 784)
    (0.2, 0.01)
    """
    checked = check_weight_init(weight_init_std)
    if isinstance(checked, str):
        return math.sqrt(INIT_NAMES[checked] / n_in)
    return checked
