"""The parser's pieces every command shares: its error, its class, the types of its values."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .._validation import bounded_float, parser_type, positive_float, positive_int
from ..errors import XpnetValueError

__all__ = [
    "FRACTION",
    "NON_NEGATIVE_FLOAT",
    "POSITIVE_FLOAT",
    "POSITIVE_INT",
    "RATIO",
    "Parser",
    "UsageError",
    "hidden_sizes",
    "weight_init",
]


class UsageError(XpnetValueError):
    """Bad command-line options: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


POSITIVE_INT = parser_type(positive_int, int, "a positive integer")
POSITIVE_FLOAT = parser_type(positive_float, float, "a finite positive number")
FRACTION = parser_type(
    lambda v, name: bounded_float(v, name, 0.0, 1.0, low_open=True), float, "a number in (0, 1)"
)
RATIO = parser_type(lambda v, name: bounded_float(v, name, 0.0, 1.0), float, "a number in [0, 1)")
NON_NEGATIVE_FLOAT = parser_type(
    lambda v, name: bounded_float(v, name, 0.0, float("inf")), float, "a number >= 0"
)


def hidden_sizes(text: str) -> list[int]:
    """``--hidden 100,100,100`` -> [100, 100, 100]."""
    expected = "positive integers separated by commas" if "," in text else "a positive integer"
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text}")
    return sizes


def weight_init(text: str) -> float | str:
    """``--weight-init he`` or ``--weight-init 0.01``."""
    from ..layers import INIT_NAMES

    if text.lower() in INIT_NAMES:
        return text.lower()
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a standard deviation or one of {', '.join(INIT_NAMES)}, got {text!r}"
        ) from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite positive number, got {text}")
    return value
