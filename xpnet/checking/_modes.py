"""The two ways to check: every element (full) and random directions (fast).

Both compare with the tolerances of :mod:`._tolerance`. Where default
tolerances are exceeded, a second step of 2h is taken and the truncation
error each estimate carries, ``|D(2h) - D(h)| / (2**p - 1)`` (Richardson),
is added to the tolerance: a function far more curved than its gradient is
large (``x**3`` near 0) is then not mistaken for a wrong gradient, while a
wrong gradient, whose error does not depend on h, still fails.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._typing import Array, Namespace
from ..backend import device, float64_available, library_of, resolve_backend
from ..gradient import numerical_gradient
from ..random import default_rng
from ._calls import Counted, host_floats
from ._report import ArrayCheck, compare_arrays, compare_values
from ._tolerance import SAFETY, ErrorModel, step_for

__all__ = [
    "Settings",
    "central_differences",
    "fast_report",
    "fast_step",
    "full_report",
    "value_at",
]


@dataclass(frozen=True)
class Settings:
    """The checked options of one gradient check."""

    mode: str
    order: int
    h: float | None
    rtol: float | None
    atol: float | None
    directions: int
    seed: int
    batched: bool

    @property
    def default_tolerances(self) -> bool:
        return self.rtol is None and self.atol is None

    def tolerances(self, model_rtol: float, model_atol: float) -> tuple[float, float]:
        """The model's (rtol, atol), each unless given explicitly."""
        return (
            model_rtol if self.rtol is None else self.rtol,
            model_atol if self.atol is None else self.atol,
        )


def _max_abs(xp: Namespace, a: Array) -> float:
    return float(xp.max(xp.abs(a))) if math.prod(a.shape) else 0.0


# -- mode="full": every element --------------------------------------------------------


def central_differences(
    xp: Namespace, f: Counted, work: dict[Any, Array], key: Any, h: float, batched: bool
) -> Array:
    """``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every element of `work[key]`."""
    if batched:

        def f_key(points: Array) -> Any:
            b = points.shape[0]
            stack = {
                k: points if k == key else xp.broadcast_to(xp.expand_dims(a, axis=0), (b, *a.shape))
                for k, a in work.items()
            }
            return f(stack, points=b)

    else:

        def f_key(points: Array) -> Any:  # one point, shaped like work[key]
            return f({**work, key: points})

    with warnings.catch_warnings():
        # f always gets its argument here, so the warning about closures that ignore it is moot.
        warnings.filterwarnings(
            "ignore", "numerical_gradient: `f` returned the same", RuntimeWarning
        )
        return numerical_gradient(f_key, work[key], h=h, batched=batched)


def value_at(xp: Namespace, f: Counted, work: dict[Any, Array], batched: bool) -> float:
    """f at the unperturbed point, as a float."""
    if batched:
        point = {k: xp.expand_dims(xp.asarray(a, copy=True), axis=0) for k, a in work.items()}
        return host_floats([f(point, 1)])[0]
    return host_floats([f(work)])[0]


def full_report(
    xp: Namespace,
    arrays: dict[Any, Array],
    claimed: dict[Any, Array],
    differences: Callable[[Any, float], Array],
    f_value: float,
    opts: Settings,
) -> dict[str, ArrayCheck]:
    """Compare each array element-wise; ``differences(key, h)`` gives its central differences."""
    out = {}
    for key, a in arrays.items():
        h = step_for(xp, a.dtype, opts.order) if opts.h is None else opts.h
        cache: dict[float, Array] = {}

        def stencil(step: float, key: Any = key, cache: dict[float, Array] = cache) -> Array:
            for s in (step, 2 * step)[: opts.order // 2]:
                if s not in cache:
                    cache[s] = differences(key, s)
            if opts.order == 2:
                return cache[step]
            return (4 * cache[step] - cache[2 * step]) / 3  # Richardson: the 4-point stencil

        num = stencil(h)
        model = ErrorModel(opts.order, h, float(xp.finfo(a.dtype).eps))
        rtol, atol = opts.tolerances(*model.full(abs(f_value), _max_abs(xp, num), _max_abs(xp, a)))
        check = compare_arrays(xp, str(key), claimed[key], num, rtol, atol)
        if not check.passed and opts.default_tolerances:
            truncation = xp.abs(stencil(2 * h) - num) / (2**opts.order - 1)
            # where f is not finite at x ± 2h, there is no estimate: nothing is added
            truncation = xp.where(xp.isfinite(truncation), truncation, xp.zeros_like(truncation))
            check = compare_arrays(xp, str(key), claimed[key], num, rtol, atol, SAFETY * truncation)
        out[str(key)] = check
    return out


# -- mode="fast": random directions -------------------------------------------------------


class _Directions:
    """Random unit vectors over all elements of all arrays, and f along them (cached)."""

    def __init__(self, xp: Namespace, f: Counted, work: dict[Any, Array], opts: Settings) -> None:
        first = next(iter(work.values()))
        backend = resolve_backend(library_of(first), device(first))
        self.acc = xp.float64 if float64_available(backend) else first.dtype  # for vdot
        self.xp, self.f, self.work, self.opts = xp, f, work, opts
        self.n = sum(math.prod(a.shape) for a in work.values())
        rng = default_rng(opts.seed)
        self.v = []
        for _ in range(opts.directions):
            v = {
                k: rng.normal(tuple(a.shape), dtype=a.dtype, backend=backend)
                for k, a in work.items()
            }
            norm = math.sqrt(self.vdot(v, v))
            self.v.append({k: u / norm for k, u in v.items()})
        self.values: dict[tuple[int, float], float] = {}

    def vdot(self, a: dict[Any, Array], b: dict[Any, Array]) -> float:
        xp, acc = self.xp, self.acc
        return sum(float(xp.sum(xp.astype(a[k], acc) * xp.astype(b[k], acc))) for k in a)

    def _at(self, k: int, steps: tuple[float, ...]) -> list[float]:
        """f at ``x + s v_k`` for each step s (one call per direction when batched)."""
        todo = [s for s in steps if (k, s) not in self.values]
        points = [{key: a + s * self.v[k][key] for key, a in self.work.items()} for s in todo]
        if todo and self.opts.batched:
            stack = {key: self.xp.stack([p[key] for p in points]) for key in self.work}
            found = host_floats([self.f(stack, points=len(points))])
        else:
            found = host_floats([self.f(p) for p in points])
        self.values.update(zip([(k, s) for s in todo], found, strict=True))
        return [self.values[(k, s)] for s in steps]

    def derivative(self, k: int, s: float) -> float:
        """The derivative along v_k by the central stencil of the order, with step s."""
        if self.opts.order == 2:
            plus, minus = self._at(k, (s, -s))
            return (plus - minus) / (2 * s)
        p1, m1, p2, m2 = self._at(k, (s, -s, 2 * s, -2 * s))
        return (8 * (p1 - m1) - (p2 - m2)) / (12 * s)


def fast_step(h: float) -> float:
    """The step along a unit direction: h itself, so that x moves by h in all, as in full mode.

    A longer step (the old ``h sqrt(n)``, every element moving by h) moves
    every sum over the elements (a matmul's output) up to sqrt(n) times
    further than full mode's step: relu kinks are then crossed, an error of
    order s, not s**2, which neither the error model nor the second step
    foresees (correct float32 relu networks failed half the time on MNIST).
    The price is rounding: ``K_p eps F / h`` of each directional derivative,
    as much as full mode allows each element.
    """
    return h


def fast_report(
    xp: Namespace, f: Counted, work: dict[Any, Array], claimed: dict[Any, Array], opts: Settings
) -> tuple[ArrayCheck, float, float]:
    """Directional derivatives of f against ``vdot(claimed, v)``; also returns h and the step."""
    lowest = max((a.dtype for a in work.values()), key=lambda d: float(xp.finfo(d).eps))
    eps = float(xp.finfo(lowest).eps)
    h = step_for(xp, lowest, 2) if opts.h is None else opts.h
    model = ErrorModel(opts.order, h, eps)
    name = "+".join(map(str, work))
    if not any(math.prod(a.shape) for a in work.values()):  # no element: nothing to compare
        return compare_values(name, (0,), [], [], 0.0, 0.0), h, 0.0
    dirs = _Directions(xp, f, work, opts)
    rms = math.sqrt(dirs.vdot(claimed, claimed) / max(dirs.n, 1))
    f_at_x = abs(value_at(xp, f, work, opts.batched))
    s = fast_step(h)
    numerical = [dirs.derivative(k, s) for k in range(opts.directions)]
    claimed_dd = [dirs.vdot(claimed, v) for v in dirs.v]
    f_scale = max(f_at_x, *(abs(v) for v in dirs.values.values()))
    g_scale = max(rms, *map(abs, numerical))
    x_scale = max(_max_abs(xp, a) for a in work.values())
    acc_eps = float(xp.finfo(dirs.acc).eps)
    tolerances = model.fast(s, f_scale, g_scale, x_scale, dirs.n, acc_eps)
    rtol, atol = opts.tolerances(*tolerances)
    check = compare_values(name, (dirs.n,), claimed_dd, numerical, rtol, atol)
    if not check.passed and opts.default_tolerances:
        again = [dirs.derivative(k, 2 * s) for k in range(opts.directions)]
        extra = [
            SAFETY * abs(b - a) / (2**opts.order - 1) if math.isfinite(b) else 0.0
            for a, b in zip(numerical, again, strict=True)
        ]
        check = compare_values(name, (dirs.n,), claimed_dd, numerical, rtol, atol, extra)
    return check, h, s
