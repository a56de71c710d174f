"""Checking a network's backpropagation: ``check_network_gradient`` and the old ``gradcheck``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .._typing import Array, Params
from ..backend import backend_of, dtype_name, matmul_precision, namespace
from ..errors import GradientCheckError
from ._check import MAX_EVALUATIONS, check_grads, settings, verdict
from ._modes import full_report
from ._report import GradientCheckReport
from ._tolerance import step_for

__all__ = ["check_network_gradient", "gradcheck"]


def _takes_step(method: Any) -> bool:
    """Whether a network's ``numerical_gradient`` accepts ``h=`` (then it serves full mode)."""
    try:
        return "h" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def check_network_gradient(
    net: Any,
    x: Array,
    t: Array,
    *,
    mode: str = "full",
    loss: Callable[[Params], Any] | None = None,
    directions: int = 4,
    h: float | None = None,
    order: int = 2,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int | None = None,
    max_evaluations: int | None = MAX_EVALUATIONS,
) -> GradientCheckReport:
    """Check ``net.loss_and_gradient(x, t)`` against finite differences of the loss.

    Works for any network following :class:`xpnet._typing.Trainable`. In
    ``mode="full"``, a network whose ``numerical_gradient(x, t, h=...)``
    takes a step (TwoLayerNet's structured method: one forward pass, not
    two per parameter) computes the central differences; otherwise every
    parameter is perturbed in turn. ``mode="fast"`` takes 2 evaluations of
    the loss per random direction over all parameters. Options are those
    of :func:`xpnet.check_grads`.

    Parameters
    ----------
    net : network
        Its ``params`` are where the gradient is checked; they are not changed.
    x, t : arrays
        A batch and its labels (or one-hot targets).
    loss : callable, optional
        ``loss(params) -> scalar``, the network's loss at other parameters
        without the backward pass (faster); by default
        ``net.loss_and_gradient(x, t, params=params)[0]``.
    max_evaluations : int or None
        The bound of :func:`xpnet.check_grads` on evaluations of the loss,
        where the check evaluates it point by point (fast mode, or a network
        without its own ``numerical_gradient(x, t, h=...)``).

    Returns
    -------
    GradientCheckReport, one row per parameter (one for all in fast mode).

    Raises
    ------
    GradientCheckError
        When backpropagation and the finite differences disagree.
    """
    opts = settings(mode, order, h, rtol, atol, directions, seed)
    # Whatever the caller set (see check_grads); the backend is that of the parameters.
    with matmul_precision(backend_of(next(iter(net.params.values()))), "highest"):
        return _check_network(net, x, t, loss, opts, max_evaluations)


def _check_network(
    net: Any, x: Array, t: Array, loss: Any, opts: Any, max_evaluations: int | None
) -> GradientCheckReport:
    """:func:`check_network_gradient` once its options are checked, at the highest precision."""
    value, claimed = net.loss_and_gradient(x, t)
    params = dict(net.params)
    own = getattr(net, "numerical_gradient", None)
    if opts.mode == "fast" or not _takes_step(own):
        if loss is None:

            def loss(p: Params) -> Any:
                return net.loss_and_gradient(x, t, params=p, check_input=False)[0]

        return check_grads(
            loss, params, claimed, mode=opts.mode, directions=opts.directions, h=opts.h,
            order=opts.order, rtol=opts.rtol, atol=opts.atol, seed=opts.seed,
            max_evaluations=max_evaluations,
        )  # fmt: skip
    xp = namespace(*params.values())
    cache: dict[float, Params] = {}

    def numerical(key: str, step: float) -> Array:
        if step not in cache:
            cache[step] = own(x, t, h=step)  # type: ignore[misc]
        return cache[step][key]

    checks = full_report(xp, params, claimed, numerical, float(value), opts)
    first = next(iter(params.values()))
    report = GradientCheckReport(
        passed=all(c.passed for c in checks.values()),
        mode="full", order=opts.order,
        h=step_for(xp, first.dtype, opts.order) if opts.h is None else opts.h,
        dtype=dtype_name(first.dtype, xp=xp),
        engine=f"{type(net).__name__}.numerical_gradient", evaluations=0, calls=0, arrays=checks,
    )  # fmt: skip
    return verdict(report)


def gradcheck(net: Any, x: Array, t: Array) -> dict[str, float]:
    """Backpropagation against numerical gradients: ``max|bp - num| / max|gradient|`` per parameter.

    .. deprecated::
        Use ``net.check_gradient(x, t)`` (or :func:`check_network_gradient`),
        which also decides pass or fail with tolerances made for the dtype,
        has a fast mode, and reports the worst elements. ``gradcheck`` is
        now a thin wrapper over it and never raises on a mismatch.

    For each parameter: the largest difference relative to the largest
    gradient component, ``max|bp - num| / max(max|bp|, max|num|)`` (0.0 when
    both are zero), which is scale-free and does not blow up on components
    that are tiny in both.

    Returns
    -------
    dict mapping parameter names to floats (on the host).

    Examples
    --------
    >>> import numpy as np
    >>> from xpnet import TwoLayerNet
    >>> net = TwoLayerNet(4, 3, 2, weight_init_std=1.0, dtype="float64", seed=0, backend="numpy")
    >>> x = np.random.default_rng(0).random((5, 4))
    >>> t = np.array([0, 1, 1, 0, 1])
    >>> report = gradcheck(net, x, t)
    >>> sorted(report), all(v < 1e-6 for v in report.values())
    (['W1', 'W2', 'b1', 'b2'], True)
    """
    try:
        report = check_network_gradient(net, x, t)
    except GradientCheckError as err:
        report = err.report
    return {name: check.max_rel_error for name, check in report.arrays.items()}
