"""Gradient checks: claimed gradients against finite differences, with pass or fail.

:func:`check_grads` checks any scalar function of an array (or of a dict of
arrays) on any backend, element by element (``mode="full"``) or along random
directions (``mode="fast"``, a cost independent of the number of elements),
with the step and the tolerances chosen from the dtype.
:func:`check_network_gradient` checks a network's ``loss_and_gradient``
(``TwoLayerNet.check_gradient`` calls it). Failures raise
:class:`xpnet.errors.GradientCheckError`, whose message is the report.

Examples
--------
>>> import numpy as np
>>> from xpnet import TwoLayerNet
>>> net = TwoLayerNet(4, 3, 2, weight_init_std=1.0, seed=0, backend="numpy")
>>> x = np.random.default_rng(0).random((5, 4), dtype=np.float32)
>>> t = np.array([0, 1, 1, 0, 1])
>>> report = check_network_gradient(net, x, t)
>>> report.passed, sorted(report.arrays), report.dtype
(True, ['W1', 'W2', 'b1', 'b2'], 'float32')
"""

from ._check import check_grads
from ._networks import check_network_gradient, gradcheck
from ._report import ArrayCheck, Element, GradientCheckReport
from ._tolerance import SAFETY, step_for

__all__ = [
    "SAFETY",
    "ArrayCheck",
    "Element",
    "GradientCheckReport",
    "check_grads",
    "check_network_gradient",
    "gradcheck",
    "step_for",
]
