"""Every argument check, in one place: numbers, choices, arrays and (x, t) data.

The library calls these at its public doors and the command line uses the
same ones as argparse types (:func:`parser_type`), so a bad value gets the
same words wherever it comes in. Array checks take the namespace `xp` from
the caller: this module imports no array library (the role of
scikit-learn's ``utils/validation.py``).

Examples
--------
>>> positive_int(3, "iters")
3
>>> positive_float("0.1", "lr")
Traceback (most recent call last):
...
xpnet.errors.XpnetTypeError: `lr` must be a real number. Received: '0.1' (str).
"""

from __future__ import annotations

import argparse
import math
import numbers
import operator
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from ._typing import Array, Namespace
from .errors import XpnetTypeError, XpnetValueError

__all__ = [
    "bounded_float",
    "check_floating",
    "check_labels",
    "check_xt",
    "finite_float",
    "non_negative_int",
    "one_of",
    "parser_type",
    "positive_float",
    "positive_int",
    "shape_str",
]

T = TypeVar("T")


# -- numbers --------------------------------------------------------------------------


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise XpnetTypeError(f"`{name}` must be an int. Received: {value!r} (bool).")
    try:
        return operator.index(value)
    except TypeError:
        raise XpnetTypeError(
            f"`{name}` must be an int. Received: {value!r} ({type(value).__name__})."
        ) from None


def positive_int(value: Any, name: str) -> int:
    """`value` as an int, or an error naming `name` unless it is an integer > 0."""
    number = _integer(value, name)
    if number <= 0:
        raise XpnetValueError(f"`{name}` must be positive. Received: {number}.")
    return number


def non_negative_int(value: Any, name: str) -> int:
    """`value` as an int, or an error naming `name` unless it is an integer >= 0."""
    number = _integer(value, name)
    if number < 0:
        raise XpnetValueError(f"`{name}` must be non-negative. Received: {number}.")
    return number


def _shown(value: Any) -> str:
    """`value` for a message: an integer too long to read is described, not printed."""
    if isinstance(value, numbers.Integral) and abs(int(value)) >= 10**30:
        return f"an integer of {len(str(abs(int(value))))} digits"
    return repr(value)


def _as_float(value: Any, name: str, expected: str) -> float:
    """``float(value)``; an integer beyond float's range (``10**400``) is not finite either."""
    try:
        return float(value)
    except OverflowError:
        raise XpnetValueError(f"`{name}` must be {expected}. Received: {_shown(value)}.") from None


def finite_float(value: Any, name: str) -> float:
    """`value` as a float, or an error unless it is a finite real number.

    Any real scalar is accepted (``int``, ``float``, NumPy scalars), bools are not;
    an integer beyond float's range is not finite.

    >>> finite_float(10**400, "lr")
    Traceback (most recent call last):
    ...
    xpnet.errors.XpnetValueError: `lr` must be finite. Received: an integer of 401 digits.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise XpnetTypeError(
            f"`{name}` must be a real number. Received: {value!r} ({type(value).__name__})."
        )
    number = _as_float(value, name, "finite")
    if not math.isfinite(number):
        raise XpnetValueError(f"`{name}` must be finite. Received: {value!r}.")
    return number


def positive_float(value: Any, name: str) -> float:
    """`value` as a float, or an error unless it is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        finite_float(value, name)  # the type error
    number = _as_float(value, name, "a finite positive number")
    if not (math.isfinite(number) and number > 0):
        raise XpnetValueError(f"`{name}` must be a finite positive number. Received: {value!r}.")
    return number


def bounded_float(
    value: Any,
    name: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = True,
) -> float:
    """`value` as a float, or an error unless it is a real number in the interval given.

    The interval is ``[low, high)`` by default; `low_open` and `high_open` say
    whether each end is excluded.

    >>> bounded_float(0.9, "momentum", 0.0, 1.0)
    0.9
    >>> bounded_float(1.0, "beta1", 0.0, 1.0, low_open=True)
    Traceback (most recent call last):
    ...
    xpnet.errors.XpnetValueError: `beta1` must be in (0, 1). Received: 1.0.
    """
    number = finite_float(value, name)
    above = number > low if low_open else number >= low
    below = number < high if high_open else number <= high
    if not (above and below):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise XpnetValueError(f"`{name}` must be in {interval}. Received: {value!r}.")
    return number


def one_of(value: T, name: str, options: Collection[T]) -> T:
    """`value` itself, or an error listing the `options` it must be one of."""
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise XpnetValueError(f"`{name}` must be one of {listed}. Received: {value!r}.")
    return value


def parser_type(
    check: Callable[[Any, str], T], convert: Callable[[str], Any], expected: str
) -> Callable[[str], T]:
    """An argparse ``type=``: `convert` the text, then `check` it; errors say what is `expected`.

    >>> parse = parser_type(positive_int, int, "a positive integer")
    >>> parse("5")
    5
    >>> parse("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a positive integer, got 0
    """

    def parse(text: str) -> T:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        try:
            return check(value, "value")
        except (XpnetValueError, XpnetTypeError):
            raise argparse.ArgumentTypeError(f"must be {expected}, got {text}") from None

    parse.__name__ = check.__name__  # argparse names the type in its messages
    return parse


# -- arrays ---------------------------------------------------------------------------


def shape_str(x: Array) -> str:
    """``x.shape`` as a plain tuple's text, the same on every library."""
    return str(tuple(x.shape))


def check_floating(xp: Namespace, x: Array, name: str) -> None:
    """An error unless `x` is a real floating-point array."""
    if not xp.isdtype(x.dtype, "real floating"):
        raise XpnetTypeError(
            f"`{name}` must be a real floating-point array. Received: {name}.dtype={x.dtype}. "
            f"Convert it with xpnet.asarray(..., dtype='float32')."
        )


def check_labels(xp: Namespace, t: Array, num_classes: int, name: str = "t") -> None:
    """An error unless `t` holds integer labels in ``[0, num_classes)``.

    This reads one boolean back to the host (a device synchronisation), so
    training loops check their data once rather than every mini-batch.
    """
    if not xp.isdtype(t.dtype, "integral"):
        raise XpnetTypeError(
            f"`{name}` labels must be integers. Received: {name}.dtype={t.dtype}. "
            "Pass one-hot targets with the shape of the outputs, or integer class labels."
        )
    if math.prod(t.shape) and bool(xp.any((t < 0) | (t >= num_classes))):
        lo, hi = int(xp.min(t)), int(xp.max(t))
        raise XpnetValueError(
            f"`{name}` must hold labels in [0, {num_classes}). Received: labels from {lo} to {hi}."
        )


def check_targets(xp: Namespace, t: Array, name: str = "t") -> None:
    """An error unless every row of `t` is one-hot: zeros and a single one.

    The loss is the book's for one-hot targets, ``-log(y[t] + 1e-7)``; soft
    targets would need another formula. One synchronisation, as
    :func:`check_labels`.
    """
    if not xp.isdtype(t.dtype, ("real floating", "integral")):
        raise XpnetTypeError(f"`{name}` targets must be numbers. Received: {name}.dtype={t.dtype}.")
    binary = xp.all((t == 0) | (t == 1))
    if math.prod(t.shape) and not bool(binary & xp.all(xp.sum(t, axis=-1) == 1)):
        raise XpnetValueError(
            f"`{name}` of the outputs' shape must be one-hot targets: each row zeros and a "
            "single 1 (soft targets are not supported; integer labels are). Received: "
            f"values from {float(xp.min(t)):g} to {float(xp.max(t)):g}, rows summing to "
            f"{float(xp.min(xp.sum(t, axis=-1))):g}..{float(xp.max(xp.sum(t, axis=-1))):g}."
        )


def check_xt(
    xp: Namespace,
    x: Array,
    t: Array | None,
    *,
    input_size: int,
    output_size: int,
    dtype: Any,
    names: tuple[str, str] = ("x", "t"),
    finite: bool = False,
) -> None:
    """An error unless `x` is a non-empty batch (N, input_size) of `dtype` and `t` fits it.

    `t` may be integer labels of shape (N,) in ``[0, output_size)``, one-hot
    targets of shape (N, output_size), or None (only `x` is checked). `names`
    are how the error messages call `x` and `t`; ``finite=True`` also refuses
    NaN and infinity in `x` (one device synchronisation).
    """
    x_name, t_name = names
    n = x.shape[0] if x.ndim else 0
    if x.ndim < 2 or math.prod(x.shape[1:]) != input_size or n == 0:
        raise XpnetValueError(
            f"`{x_name}` must have shape (N, {input_size}) with N > 0. "
            f"Received: {x_name}.shape={shape_str(x)}."
        )
    if x.dtype != dtype:
        raise XpnetTypeError(
            f"`{x_name}` must have the network's dtype {dtype}. Received: {x_name}.dtype="
            f"{x.dtype}. Convert it with xpnet.asarray(..., dtype=...) or build the network "
            "with the data's dtype."
        )
    # max and min propagate NaN (the standard says so) and show ±inf: two reductions,
    # no (N, D) array of booleans (torch.isfinite over MNIST takes 0.4 s on a CPU).
    if finite and not bool(xp.isfinite(xp.max(x)) & xp.isfinite(xp.min(x))):
        raise XpnetValueError(f"`{x_name}` contains NaN or infinity; clean the data first.")
    if t is None:
        return
    if tuple(t.shape) == (n, output_size):
        check_targets(xp, t, name=t_name)
        return
    if tuple(t.shape) != (n,):
        raise XpnetValueError(
            f"`{t_name}` must have shape ({n},) (labels) or ({n}, {output_size}) (one-hot). "
            f"Received: {t_name}.shape={shape_str(t)}."
        )
    check_labels(xp, t, output_size, name=t_name)
