"""Gradient check: backpropagation against central differences.

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

from __future__ import annotations

from typing import Any

from .backend import namespace

__all__ = ["gradcheck"]


def gradcheck(net: Any, x: Any, t: Any) -> dict[str, float]:
    """Compare ``net.gradient`` with ``net.numerical_gradient`` parameter by parameter.

    For each parameter the result is the largest difference relative to the
    largest gradient component: ``max|bp - num| / max(max|bp|, max|num|)``
    (0.0 when both are zero). It is scale-free, and unlike an element-wise
    ratio it does not blow up on components that are tiny in both.

    Returns
    -------
    dict mapping parameter names to floats (on the host).
    """
    backprop = net.gradient(x, t)
    numerical = net.numerical_gradient(x, t)
    report = {}
    for name, bp in backprop.items():
        xp = namespace(bp, numerical[name])
        scale = max(float(xp.max(xp.abs(bp))), float(xp.max(xp.abs(numerical[name]))))
        diff = float(xp.max(xp.abs(bp - numerical[name])))
        report[name] = diff / scale if scale > 0 else diff
    return report
