"""What a sweep tries: a grid of values, or draws from distributions (random search).

A *point* is one run's swept settings, a dict such as ``{"lr": 0.1,
"hidden": 50}``. :func:`grid` makes every combination of the values of each
axis; :func:`random_search` draws `n` points, each setting from its own
distribution (chapter 6's advice: draw learning rates and weight decays on
a log scale). Both are plain lists of dicts, so any list of dicts is a space
too.

Draws use Python's own ``random.Random(seed)``: the same seed gives the same
points on every machine and every version of NumPy.

Examples
--------
>>> grid({"lr": [0.01, 0.1], "hidden": [50, 100]})  # doctest: +NORMALIZE_WHITESPACE
[{'lr': 0.01, 'hidden': 50}, {'lr': 0.01, 'hidden': 100},
 {'lr': 0.1, 'hidden': 50}, {'lr': 0.1, 'hidden': 100}]
>>> points = random_search({"lr": LogUniform(1e-6, 1e-2), "hidden": [50, 100]}, n=3, seed=0)
>>> [f"{p['lr']:.2e}" for p in points], [p["hidden"] for p in points]
(['2.39e-03', '1.45e-06', '4.17e-05'], [100, 100, 100])
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._validation import finite_float, non_negative_int, positive_int
from ..errors import XpnetTypeError, XpnetValueError

__all__ = ["Choice", "LogUniform", "Uniform", "as_points", "grid", "random_search"]


@dataclass(frozen=True)
class Uniform:
    """Real numbers drawn uniformly from ``[low, high]``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        low, high = finite_float(self.low, "low"), finite_float(self.high, "high")
        if not low < high:
            raise XpnetValueError(f"`low` must be below `high`. Received: low={low}, high={high}.")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class LogUniform(Uniform):
    """Positive numbers whose logarithm is uniform: ``10 ** uniform(log10 low, log10 high)``.

    The book's ``lr = 10 ** np.random.uniform(-6, -2)`` is ``LogUniform(1e-6, 1e-2)``.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.low <= 0:
            raise XpnetValueError(f"`low` must be positive on a log scale. Received: {self.low}.")

    def sample(self, rng: random.Random) -> float:
        return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))


@dataclass(frozen=True)
class Choice:
    """One of `values`, each equally likely."""

    values: tuple[Any, ...]

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", _values(values, "values"))

    def sample(self, rng: random.Random) -> Any:
        return self.values[rng.randrange(len(self.values))]


Distribution = Uniform | Choice


def _values(values: Any, name: str) -> tuple[Any, ...]:
    """The values of an axis as a tuple; an error for a scalar, a string or nothing."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise XpnetTypeError(
            f"Axis `{name}` must be a list of values. Received: {values!r}. "
            f"A single value is a fixed setting: pass {name}={values!r} to sweep()."
        )
    found = tuple(values)
    if not found:
        raise XpnetValueError(f"Axis `{name}` is empty: give it at least one value.")
    return found


def _axes(axes: Any) -> Mapping[str, Any]:
    if not isinstance(axes, Mapping) or not axes:
        received = repr(axes)[:200]
        raise XpnetTypeError(
            f"A space must be a non-empty dict of setting names to values. Received: {received}."
        )
    for name in axes:
        if not isinstance(name, str) or not name.isidentifier():
            raise XpnetTypeError(f"Setting names must be identifiers. Received: {name!r}.")
    return axes


def grid(axes: Mapping[str, Iterable[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the last axis varying fastest."""
    values = {name: _values(v, name) for name, v in _axes(axes).items()}
    return [dict(zip(values, combo, strict=True)) for combo in itertools.product(*values.values())]


def random_search(
    axes: Mapping[str, Distribution | Sequence[Any]], n: int, seed: int = 0
) -> list[dict[str, Any]]:
    """`n` points, each setting drawn from its distribution (a list means :class:`Choice`).

    Parameters
    ----------
    axes : dict
        Setting name -> :class:`LogUniform`, :class:`Uniform`, :class:`Choice`
        or a list of values.
    n : int
        Number of points (runs).
    seed : int
        Seed of the draws: the same seed gives the same points everywhere.
    """
    dists = {
        name: d if isinstance(d, Uniform | Choice) else Choice(_values(d, name))
        for name, d in _axes(axes).items()
    }
    rng = random.Random(non_negative_int(seed, "seed"))
    return [{name: d.sample(rng) for name, d in dists.items()} for _ in range(positive_int(n, "n"))]


def as_points(space: Any) -> list[dict[str, Any]]:
    """A space as a list of points: a dict is a :func:`grid`; a list of dicts is taken as it is."""
    if isinstance(space, Mapping):
        return grid(space)
    if isinstance(space, str | bytes) or not isinstance(space, Iterable):
        raise XpnetTypeError(
            "`space` must be a dict of axes (a grid), or a list of points such as "
            f"random_search(...) returns. Received: {type(space).__name__}."
        )
    points = list(space)
    if not points:
        raise XpnetValueError("`space` holds no points: nothing to run.")
    for point in points:
        if not isinstance(point, Mapping):
            raise XpnetTypeError(
                f"Each point of `space` must be a dict of settings. Received: {point!r}."
            )
        if point:
            _axes(point)
    return [dict(point) for point in points]
