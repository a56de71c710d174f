"""Argument checks shared by the modules that take sizes from users."""

from __future__ import annotations

import operator
from typing import Any

__all__ = ["positive_int"]


def positive_int(value: Any, name: str) -> int:
    """Return `value` as an int, or raise naming `name` unless it is a positive integer."""
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"`{name}` must be an int. Received: {value!r}.") from None
    if number <= 0:
        raise ValueError(f"`{name}` must be positive. Received: {number}.")
    return number
