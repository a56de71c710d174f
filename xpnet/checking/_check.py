"""``check_grads``: a claimed gradient against finite differences, on any backend."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from .._typing import Array, Namespace
from .._validation import (
    check_floating,
    finite_float,
    non_negative_int,
    one_of,
    positive_float,
    positive_int,
    shape_str,
)
from ..backend import backend_of, dtype_name, matmul_precision, namespace
from ..errors import GradientCheckError, XpnetTypeError, XpnetValueError
from ._calls import Counted
from ._modes import Settings, central_differences, fast_report, full_report, value_at
from ._report import GradientCheckReport
from ._tolerance import ORDERS, step_for

__all__ = ["MAX_EVALUATIONS", "check_grads", "planned_evaluations", "settings", "verdict"]

MODES = ("full", "fast")
#: Evaluations of `f` a full check makes unless told otherwise (``max_evaluations=``): each
#: costs O(n) for n elements, so the whole check grows as n**2 (10**5 elements: ~14 s for
#: a sum of squares on a CPU; 10**7: days).
MAX_EVALUATIONS = 200_000
#: The name a single array `x` has in reports.
SINGLE = "x"


def _tolerance(value: Any, name: str) -> float | None:
    if value is None:
        return None
    number = finite_float(value, name)
    if number < 0:
        raise XpnetValueError(f"`{name}` must be non-negative. Received: {value!r}.")
    return number


def settings(mode: Any, order: Any, h: Any, rtol: Any, atol: Any, directions: Any,
             seed: Any, batched: Any = False) -> Settings:  # fmt: skip
    """Check every option (before any work) and fill in the seed."""
    one_of(mode, "mode", MODES)
    one_of(order, "order", ORDERS)
    if not isinstance(batched, bool):
        raise XpnetTypeError(f"`batched` must be True or False. Received: {batched!r}.")
    return Settings(
        mode=mode,
        order=order,
        h=None if h is None else positive_float(h, "h"),
        rtol=_tolerance(rtol, "rtol"),
        atol=_tolerance(atol, "atol"),
        directions=positive_int(directions, "directions"),
        seed=secrets.randbits(32) if seed is None else non_negative_int(seed, "seed"),
        batched=batched,
    )


def _arrays(x: Any) -> tuple[Namespace, dict[Any, Array]]:
    """`x` (an array or a dict of arrays) as a dict, and its namespace."""
    if isinstance(x, Mapping):
        if not x:
            raise XpnetValueError("`x` is an empty dict: there is nothing to check.")
        arrays = dict(x)
    else:
        arrays = {SINGLE: x}
    xp = namespace(*arrays.values())
    for key, a in arrays.items():
        check_floating(xp, a, "x" if a is x else f"x[{key!r}]")
    return xp, arrays


def _claimed(xp: Namespace, grad: Any, x: Any, arrays: dict[Any, Array]) -> dict[Any, Array]:
    """The claimed gradient, checked against `x` and cast to its dtypes."""
    single = not isinstance(x, Mapping)
    if callable(grad):
        copies = {k: xp.asarray(a, copy=True) for k, a in arrays.items()}
        grad = grad(copies[SINGLE] if single else copies)
    if single == isinstance(grad, Mapping):
        want = "an array" if single else "a dict with the keys of `x`"
        raise XpnetTypeError(
            f"`grad` must be {want} (or a callable returning one). Received: {type(grad).__name__}."
        )
    given = {SINGLE: grad} if single else dict(grad)
    if set(given) != set(arrays):
        raise XpnetValueError(
            f"`grad` must have the keys of `x`: {sorted(map(str, arrays))}. "
            f"Received: {sorted(map(str, given))}."
        )
    out = {}
    for key, a in arrays.items():
        g, name = given[key], "grad" if single else f"grad[{key!r}]"
        namespace(a, g)
        check_floating(xp, g, name)
        if tuple(g.shape) != tuple(a.shape):
            raise XpnetValueError(
                f"`{name}` must have the shape of `x`, {shape_str(a)}. Received: {shape_str(g)}."
            )
        out[key] = g if g.dtype == a.dtype else xp.astype(g, a.dtype)
    return out


def planned_evaluations(opts: Settings, arrays: dict[Any, Array]) -> int:
    """Evaluations of `f` the check will make (a failing full check takes as many again)."""
    if opts.mode == "fast":
        return 1 + opts.directions * opts.order
    return 1 + opts.order * sum(math.prod(a.shape) for a in arrays.values())


def _check_cost(opts: Settings, arrays: dict[Any, Array], max_evaluations: Any) -> int:
    """The planned evaluations, or an error when a full check would make too many."""
    planned = planned_evaluations(opts, arrays)
    if max_evaluations is None:
        return planned
    bound = non_negative_int(max_evaluations, "max_evaluations")
    if planned > bound:
        if opts.mode == "fast":
            per, advice = f"per direction, {opts.directions:,} directions", "fewer directions"
        else:
            per = f"per element of {(planned - 1) // opts.order:,}"
            advice = (
                "mode='fast' (its number of evaluations does not grow with the elements), or "
                "fewer elements; each evaluation costs O(elements), so a full check grows as "
                "their square"
            )
        raise XpnetValueError(
            f"check_grads(mode={opts.mode!r}) would evaluate `f` {planned:,} times ({opts.order} "
            f"{per}), more than max_evaluations={bound:,}. Use {advice}; or pass "
            "max_evaluations=None to run it anyway."
        )
    return planned


# -- the public check ------------------------------------------------------------------------


def verdict(report: GradientCheckReport) -> GradientCheckReport:
    """`report` itself when it passed; otherwise raise GradientCheckError with it."""
    if report.passed:
        return report
    if report.mode == "fast":
        hint = (
            "mode='fast' compares derivatives along random directions, so it cannot say "
            "which elements are wrong: run the check with mode='full' to locate them."
        )
    elif report.worst_excess < 3:
        hint = (
            "Errors this close to the tolerance may also be rounding, or a kink (relu at 0) "
            "within h of x: try order=4 or float64 before hunting for a bug."
        )
    else:
        hint = "The claimed gradient is wrong at these elements (or f is not finite there)."
    raise GradientCheckError(f"{report}\n{hint}", report)


def check_grads(
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
    max_evaluations: int | None = MAX_EVALUATIONS,
) -> GradientCheckReport:
    """Check a claimed gradient of scalar function `f` against finite differences.

    ``mode="full"`` compares every element with its central difference
    ``(f(x + h e_i) - f(x - h e_i)) / 2h``. ``mode="fast"`` compares
    directional derivatives along `directions` random unit vectors v,
    ``(f(x + s v) - f(x - s v)) / 2s`` against ``vdot(grad, v)``: 2
    evaluations of `f` per direction (and one at x) whatever the size of `x`,
    all arrays of a dict together. The step along v is h: x moves by h in
    all, as in full mode (a longer one crosses relu kinks).

    Parameters
    ----------
    f : callable
        Maps an array shaped like `x` (or a dict like `x`) to a scalar: a 0-d
        array or a float. It must use its argument: `f` gets perturbed
        copies, never `x` itself. With ``batched=True`` it maps a stack of B
        points (every array with a leading axis of B) to an array of B values.
    x : array or dict of arrays, real floating
        Where to check (a network's ``params``, for instance). Never changed.
    grad : array, dict of arrays, or callable
        The claimed gradient, shaped like `x`; a callable gets a copy of `x`.
    mode : {"full", "fast"}
        Every element (2n evaluations of `f`, or the batched engine), or
        random directions (2 per direction); a failure in fast mode says so
        and suggests ``mode="full"`` to locate the elements.
    directions : int
        Random directions in fast mode.
    h : float, optional
        The step; by default ``eps ** (1/3)`` (at least 1e-4) for order 2 and
        ``eps ** (1/5)`` for order 4, eps being the dtype's machine epsilon.
    order : {2, 4}
        The 2-point or the 4-point central stencil (twice the evaluations,
        5 times less rounding error in float32).
    rtol, atol : float, optional
        ``|claimed - numerical| <= atol + rtol |numerical|`` must hold. By
        default both come from the dtype, the step and the order: ten times
        the truncation and rounding errors expected of that stencil (see the
        "Checking gradients" page of the docs).
    seed : int, optional
        Seed of the directions (fast mode); None draws one, kept in the report.
    batched : bool
        `f` accepts stacks of points (see `f`): one call per chunk of
        elements (full) or per direction (fast).
    max_evaluations : int or None
        The most evaluations of `f` the check may plan (``order`` per element
        in full mode): past it the check is refused before `f` is called, as
        a full check costs O(n**2) for n elements. None: no bound. Checks of
        many evaluations show a progress bar when standard error is a terminal.

    Returns
    -------
    GradientCheckReport
        Per array: largest absolute and relative errors, the tolerances used,
        the worst elements with their indices and both values; the number of
        evaluations of `f`. ``str(report)`` is a table.

    Raises
    ------
    GradientCheckError
        When any element (direction) is beyond its tolerance, or not finite;
        its message is the report, and ``err.report`` the report itself.
        It is an ``AssertionError`` as well as an ``XpnetError``.
    XpnetValueError, XpnetTypeError
        For bad arguments, before `f` is called; also when a full check would
        evaluate `f` more than `max_evaluations` times, and when `f` returns
        something other than one number or (``batched=True``) writes into
        the arrays it is given.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    >>> f = lambda x: (np.sin(x) * x).sum()
    >>> report = check_grads(f, x, np.sin(x) + x * np.cos(x))
    >>> report.passed, report.evaluations
    (True, 7)
    >>> check_grads(f, x, np.sin(x) + x * np.cos(x), mode="fast", seed=0).evaluations
    9
    >>> try:
    ...     check_grads(f, x, np.cos(x) * x)  # the product rule forgotten
    ... except GradientCheckError as err:
    ...     print(err.report.arrays["x"].failures, "of 3 elements differ")
    3 of 3 elements differ
    """
    opts = settings(mode, order, h, rtol, atol, directions, seed, batched)
    if not callable(f):
        raise XpnetTypeError(f"`f` must be callable. Received: {type(f).__name__}.")
    xp, arrays = _arrays(x)
    planned = _check_cost(opts, arrays, max_evaluations)
    # Full float32 whatever the caller set, for `grad` and `f` alike: TF32's 10-bit
    # mantissa (GPUs) would make correct gradients fail the float32 tolerances.
    with matmul_precision(backend_of(next(iter(arrays.values()))), "highest"):
        claimed = _claimed(xp, grad, x, arrays)
        work = {k: xp.asarray(a, copy=True) for k, a in arrays.items()}  # x is never touched
        counted = Counted(f, None if isinstance(x, Mapping) else SINGLE, xp, work, planned)
        try:
            report = _check(xp, counted, work, claimed, opts)
        finally:
            counted.close()
    return verdict(report)


def _check(
    xp: Namespace, counted: Counted, work: dict[Any, Array], claimed: dict[Any, Array],
    opts: Settings,
) -> GradientCheckReport:  # fmt: skip
    """Compare `claimed` with the finite differences of `counted` at `work`: the report."""
    first = next(iter(work.values()))
    if opts.mode == "full":
        f_value = value_at(xp, counted, work, opts.batched)
        checks = full_report(
            xp, work, claimed,
            lambda key, step: central_differences(xp, counted, work, key, step, opts.batched),
            f_value, opts,
        )  # fmt: skip
        step = step_for(xp, first.dtype, opts.order) if opts.h is None else opts.h
        engine = "batched central differences" if opts.batched else "central differences"
    else:
        check, step, along = fast_report(xp, counted, work, claimed, opts)
        checks, engine = {check.name: check}, f"random directions (step {along:.3g} along each)"
    dtypes = ", ".join(dict.fromkeys(dtype_name(a.dtype, xp=xp) for a in work.values()))
    return GradientCheckReport(
        passed=all(c.passed for c in checks.values()),
        mode=opts.mode, order=opts.order, h=step, dtype=dtypes, engine=engine,
        evaluations=counted.points, calls=counted.calls, arrays=checks,
        directions=opts.directions if opts.mode == "fast" else None,
        seed=opts.seed if opts.mode == "fast" else None,
    )  # fmt: skip
