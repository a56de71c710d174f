"""Optimizers: rules that turn gradients into parameter updates.

Updates are functional (``params[key] = params[key] - lr * grads[key]``), so
they work on immutable arrays (JAX) as well; the dict entries are replaced.

Examples
--------
>>> import numpy as np
>>> params = {"w": np.array([1.0, 2.0])}
>>> SGD(lr=0.5).update(params, {"w": np.array([2.0, 2.0])})
>>> params["w"]
array([0., 1.])
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["SGD", "check_learning_rate"]


def check_learning_rate(lr: Any) -> float:
    """Return `lr` as a float, or raise unless it is a finite positive number."""
    if isinstance(lr, bool) or not isinstance(lr, int | float):
        raise TypeError(f"`lr` must be a number. Received: {lr!r}.")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"`lr` must be a finite positive number. Received: {lr!r}.")
    return float(lr)


class SGD:
    """Stochastic gradient descent: ``W <- W - lr * dW``.

    Parameters
    ----------
    lr : float
        The learning rate, finite and positive.
    """

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = check_learning_rate(lr)

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr})"

    def update(self, params: dict[str, Any], grads: dict[str, Any]) -> None:
        """Replace each ``params[key]`` by its updated value."""
        for key, grad in grads.items():
            params[key] = params[key] - self.lr * grad

    def state_dict(self) -> dict[str, Any]:
        """Host arrays describing the optimizer's state (SGD has none)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`."""
        if state:
            raise ValueError(f"SGD has no state. Received keys: {sorted(state)}.")
