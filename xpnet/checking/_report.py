"""What a gradient check found: per array, its largest errors and worst elements."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .._typing import Array, Namespace
from ..backend import to_numpy

__all__ = ["ArrayCheck", "Element", "GradientCheckReport", "compare_arrays", "compare_values"]

#: Worst elements (or directions) kept per array.
WORST = 5


@dataclass(frozen=True)
class Element:
    """One compared value: an element of an array, or one random direction in fast mode."""

    #: The element's index in its array; ``(k,)`` for direction k in fast mode.
    index: tuple[int, ...]
    #: The claimed derivative (fast mode: ``vdot(grad, v)``).
    claimed: float
    #: The finite-difference estimate.
    numerical: float
    #: ``|claimed - numerical|``.
    error: float
    #: ``atol + rtol * |numerical|`` (+ the truncation estimate when rechecked):
    #: the error allowed here.
    tolerance: float


@dataclass(frozen=True)
class ArrayCheck:
    """The comparison of one array's gradient (fast mode: of all arrays along random directions)."""

    name: str
    shape: tuple[int, ...]
    passed: bool
    #: Largest ``|claimed - numerical|``.
    max_abs_error: float
    #: ``max_abs_error / scale``: relative to the largest gradient element.
    max_rel_error: float
    #: The largest ``|claimed|`` or ``|numerical|``.
    scale: float
    rtol: float
    atol: float
    #: How many elements (directions) differ beyond the tolerance, out of `compared`.
    failures: int
    compared: int
    #: The elements nearest to or furthest beyond their tolerance, worst first
    #: (largest ``error / tolerance``), whether the check passed or not.
    worst: tuple[Element, ...]
    #: Whether a second step (2h) was taken where the first comparison failed,
    #: and each element's truncation error, estimated from the two, added to
    #: its tolerance (default tolerances only).
    rechecked: bool = False


@dataclass(frozen=True)
class GradientCheckReport:
    """The result of :func:`xpnet.check_grads`: ``str(report)`` is a readable table."""

    passed: bool
    mode: str
    order: int
    h: float
    dtype: str
    #: How the numerical side was computed ("central differences", "batched
    #: central differences", "random directions", or a network's own).
    engine: str
    #: Points at which f was evaluated, and in how many calls.
    evaluations: int
    calls: int
    arrays: dict[str, ArrayCheck] = field(default_factory=dict)
    #: Fast mode: the number of directions and the seed that drew them.
    directions: int | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (infinities and NaN as strings)."""
        return _json_safe(asdict(self))

    def __str__(self) -> str:
        status = "passed" if self.passed else "FAILED"
        where = f"mode={self.mode!r}, order={self.order}, {self.dtype}, h={self.h:.3g}"
        if self.mode == "fast":
            where += f", {self.directions} directions, seed={self.seed}"
        cost = f", {self.evaluations} evaluations of f in {self.calls} calls" if self.calls else ""
        lines = [
            f"Gradient check {status} ({where}); {self.engine}{cost}.",
            f"  {'array':<16}{'shape':<14}{'max|error|':>11}{'relative':>10}"
            f"{'atol':>10}{'rtol':>10}  beyond tolerance",
        ]
        for a in self.arrays.values():
            count = f"{a.failures} of {a.compared}" + ("" if a.passed else "  FAILED")
            lines.append(
                f"  {a.name:<16}{a.shape!s:<14}{a.max_abs_error:>11.2e}{a.max_rel_error:>10.2e}"
                f"{a.atol:>10.1e}{a.rtol:>10.1e}  {count}"
            )
        for a in self.arrays.values():
            beyond = [e for e in a.worst if not e.error <= e.tolerance]
            if beyond:
                more = f", {a.failures - len(beyond)} more" if a.failures > len(beyond) else ""
                lines.append(f"  beyond tolerance in {a.name} (worst first{more}):")
                lines += [f"    {_describe(a.name, e, self.mode)}" for e in beyond]
        return "\n".join(lines)

    @property
    def worst_excess(self) -> float:
        """The largest ``error / tolerance`` of all arrays (infinite where the tolerance is 0)."""
        return max((_excess(a.worst[0]) for a in self.arrays.values() if a.worst), default=0.0)


def _excess(e: Element) -> float:
    if math.isnan(e.error):
        return math.inf
    return e.error / e.tolerance if e.tolerance > 0 else (math.inf if e.error else 0.0)


def _describe(name: str, e: Element, mode: str) -> str:
    index = ", ".join(map(str, e.index))
    where = f"direction {index}" if mode == "fast" else f"{name}[{index}]"
    return (
        f"{where:<18} claimed {e.claimed: .6e}  numerical {e.numerical: .6e}  "
        f"|error| {e.error:.2e} > {e.tolerance:.2e} ({_excess(e):.3g}x the tolerance)"
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for n in reversed(shape):
        flat, i = divmod(flat, n)
        index.append(i)
    return tuple(reversed(index))


def compare_arrays(
    xp: Namespace,
    name: str,
    claimed: Array,
    numerical: Array,
    rtol: float,
    atol: float,
    extra: Array | None = None,
) -> ArrayCheck:
    """Compare two arrays element-wise: ``|claimed - numerical| <= atol + rtol |numerical|``.

    `extra`, an array like `numerical`, is added to each element's tolerance
    (and marks the check as rechecked). The work is done on the arrays'
    device; a few numbers come back.
    """
    shape = tuple(numerical.shape)
    n = math.prod(shape)
    if n == 0:
        return ArrayCheck(name, shape, True, 0.0, 0.0, 0.0, rtol, atol, 0, 0, ())
    err = xp.reshape(xp.abs(claimed - numerical), (-1,))
    tol = atol + rtol * xp.abs(numerical)
    tol = xp.reshape(tol if extra is None else tol + extra, (-1,))
    failures = int(xp.count_nonzero(~(err <= tol)))  # NaN is never within tolerance
    scale = max(float(xp.max(xp.abs(claimed))), float(xp.max(xp.abs(numerical))))
    max_err = float(xp.max(err))
    ones, zeros, inf = (xp.full_like(err, v) for v in (1.0, 0.0, math.inf))
    ratio = xp.where(tol > 0, err / xp.where(tol > 0, tol, ones), xp.where(err > 0, inf, zeros))
    ratio = xp.where(xp.isnan(ratio), inf, ratio)
    top = xp.argsort(ratio, descending=True, stable=True)[: min(WORST, n)]
    columns = [xp.take(xp.reshape(a, (-1,)), top) for a in (claimed, numerical, err, tol)]
    host = [to_numpy(c).tolist() for c in [top, *columns]]
    rows = zip(*host, strict=True)
    worst = tuple(Element(_unravel(int(i), shape), c, v, e, t) for i, c, v, e, t in rows)
    rel = max_err / scale if scale > 0 else max_err
    return ArrayCheck(
        name, shape, failures == 0, max_err, rel, scale, rtol, atol, failures, n, worst,
        rechecked=extra is not None,
    )  # fmt: skip


def compare_values(
    name: str,
    shape: tuple[int, ...],
    claimed: list[float],
    numerical: list[float],
    rtol: float,
    atol: float,
    extra: list[float] | None = None,
) -> ArrayCheck:
    """Compare host numbers (fast mode's directional derivatives), as :func:`compare_arrays`."""
    more = [0.0] * len(numerical) if extra is None else extra
    elements = []
    for k, (c, v, e) in enumerate(zip(claimed, numerical, more, strict=True)):
        elements.append(Element((k,), c, v, abs(c - v), atol + rtol * abs(v) + e))
    bad = [e for e in elements if not e.error <= e.tolerance]
    worst = tuple(sorted(elements, key=_excess, reverse=True)[:WORST])
    errors = [e.error for e in elements]
    max_err = math.nan if any(map(math.isnan, errors)) else max(errors, default=0.0)
    scale = max((max(abs(e.claimed), abs(e.numerical)) for e in elements), default=0.0)
    rel = max_err / scale if scale > 0 else max_err
    return ArrayCheck(
        name, shape, not bad, max_err, rel, scale, rtol, atol, len(bad), len(elements), worst,
        rechecked=extra is not None,
    )  # fmt: skip
