"""Optimizers: rules that turn gradients into parameter updates.

Every optimizer has two faces:

* the book's: ``optimizer.update(params, grads)`` replaces the entries of the
  dict it is given (the network sees the new values) and keeps its own state;
* a pure one, which training and compiled steps use:
  ``state = optimizer.init(params)`` then
  ``params, state = optimizer.apply(params, grads, state)``. It returns new
  values and changes nothing, so it works on immutable arrays (JAX) and can be
  traced by a compiler.

The state is a dict of arrays on the parameters' backend and device (empty
for SGD); checkpoints save it with the names :meth:`Optimizer.state_spec`
announces.

Examples
--------
>>> import numpy as np
>>> params = {"w": np.array([1.0, 2.0])}
>>> SGD(lr=0.5).update(params, {"w": np.array([2.0, 2.0])})
>>> params["w"]
array([0., 1.])
"""

from __future__ import annotations

from typing import Any

from ._typing import Array, Params
from ._validation import positive_float

__all__ = ["SGD", "Optimizer"]

#: Name -> (shape, dtype name) of arrays, as networks and optimizers describe their state.
Spec = dict[str, tuple[tuple[int, ...], str]]


class Optimizer:
    """Base class: the book's ``update`` written once on top of the pure ``apply``.

    Subclasses implement :meth:`apply` (and :meth:`init` and
    :meth:`state_spec` when they keep state), and list their settings in
    :meth:`get_config`.
    """

    lr: float
    state: dict[str, Array] | None = None

    def init(self, params: Params) -> dict[str, Array]:
        """The state before the first step, on the parameters' device (SGD: empty)."""
        return {}

    def apply(
        self, params: Params, grads: Params, state: dict[str, Array]
    ) -> tuple[Params, dict[str, Array]]:
        """One step, purely: new parameters and new state; the inputs are not changed."""
        raise NotImplementedError

    def update(self, params: Params, grads: Params) -> None:
        """The book's call: replace each ``params[key]`` by its updated value."""
        if self.state is None:
            self.state = self.init(params)
        new, self.state = self.apply(params, grads, self.state)
        params.update(new)

    def get_config(self) -> dict[str, Any]:
        """The class name and settings, JSON-able (saved in checkpoints)."""
        return {"class": type(self).__name__, "lr": self.lr}

    def state_spec(self, params: Spec) -> Spec:
        """Name -> (shape, dtype name) of the state arrays for parameters described by `params`."""
        return {}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "class")
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    """Stochastic gradient descent: ``W <- W - lr * dW``.

    Parameters
    ----------
    lr : float
        The learning rate, finite and positive.
    """

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = positive_float(lr, "lr")
        self.state = None

    def apply(
        self, params: Params, grads: Params, state: dict[str, Array]
    ) -> tuple[Params, dict[str, Array]]:
        new = dict(params)
        for key, grad in grads.items():
            new[key] = params[key] - self.lr * grad
        return new, state
