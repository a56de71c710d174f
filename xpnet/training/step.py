"""The training step as one pure function of arrays.

``step(params, buffers, opt_state, x_batch, t_batch) -> (params, buffers,
opt_state, loss)``, built from the network's ``loss_gradient_buffers`` and
the optimizer's ``apply``: the same layers and functions as everything
else, no second copy of the maths, and no question of which network it is
(a network without buffers passes an empty dict through). Eager training
calls it; a compiler traces it.

Eagerly, on a library whose registry record allows it (``in_place``), the
optimizer updates the parameters and its state in place, as a hand-written
loop does; compiled steps are always pure.

Examples
--------
>>> import numpy as np
>>> from xpnet import SGD, TwoLayerNet
>>> net = TwoLayerNet(4, 3, 2, seed=0, backend="numpy")
>>> step = make_step(net, SGD(lr=0.1))
>>> x, t = np.ones((5, 4), dtype=np.float32), np.array([0, 1, 0, 1, 0])
>>> params, buffers, state, loss = step(net.params, net.buffers, {}, x, t)
>>> sorted(params), buffers, round(float(loss), 4)
(['W1', 'W2', 'b1', 'b2'], {}, 0.6913)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .._typing import Array, Params
from ..errors import XpnetTypeError

__all__ = ["Step", "as_optimizer", "make_step"]

Step = Callable[
    [Params, dict[str, Array], dict[str, Array], Array, Array],
    tuple[Params, dict[str, Array], dict[str, Array], Array],
]


class _BookOptimizer:
    """Wraps an optimizer that only has the book's ``update(params, grads)``.

    The wrapped object updates a copy of the dict and keeps its own state, as
    the book's optimizers do; it has no state to save in checkpoints, and no
    compiler can trace it (``pure`` is False).
    """

    pure = False

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer

    def init(self, params: Params) -> dict[str, Array]:
        return {}

    def apply(
        self, params: Params, grads: Params, state: dict[str, Array]
    ) -> tuple[Params, dict[str, Array]]:
        new = dict(params)
        self.optimizer.update(new, grads)
        return new, state

    def get_config(self) -> dict[str, Any]:
        return {"class": type(self.optimizer).__name__}

    def state_spec(self, params: Any) -> dict[str, Any]:
        return {}

    @property
    def lr(self) -> Any:
        return getattr(self.optimizer, "lr", None)


def as_optimizer(optimizer: Any) -> Any:
    """`optimizer` if it has the pure interface (``init``/``apply``), else a book-style wrapper."""
    if hasattr(optimizer, "apply") and hasattr(optimizer, "init"):
        return optimizer
    if not callable(getattr(optimizer, "update", None)):
        raise XpnetTypeError(
            "`optimizer` must be a name, an xpnet.optim.Optimizer, or an object with the "
            f"book's update(params, grads) method. Received: {optimizer!r}."
        )
    return _BookOptimizer(optimizer)


def _takes_in_place(optimizer: Any) -> bool:
    try:
        return "in_place" in inspect.signature(optimizer.apply).parameters
    except (TypeError, ValueError):
        return False


def make_step(
    net: Any,
    optimizer: Any,
    grad: str = "backprop",
    *,
    weight_decay: float = 0.0,
    in_place: bool = False,
) -> Step:
    """The training step of `net` with `optimizer`.

    Parameters
    ----------
    net : Trainable
        Its ``loss_gradient_buffers`` computes the loss, the gradients and the
        buffers after the pass.
    optimizer
        Its ``apply(params, grads, state)`` makes the update.
    grad : {"backprop", "numerical"}
        With "numerical" the gradient comes from the network's
        ``numerical_gradient`` at the same parameters and with the same dropout
        masks (the chapter's way; never compiled).
    weight_decay : float
        L2 decay added to the network's own for this run.
    in_place : bool
        Let the optimizer update arrays in place (eager steps on libraries
        that allow it); the step is then no longer pure.
    """

    # Only an optimizer whose apply takes `in_place` is asked to (a subclass may not).
    options = {"in_place": True} if in_place and _takes_in_place(optimizer) else {}
    # A network of the user's own may not know a run's decay; it is only passed when set.
    decay = {"weight_decay": weight_decay} if weight_decay else {}

    def step(
        params: Params, buffers: dict[str, Array], opt_state: dict[str, Array], x: Array, t: Array
    ) -> tuple[Params, dict[str, Array], dict[str, Array], Array]:
        loss, grads, buffers = net.loss_gradient_buffers(
            x, t, params=params, buffers=buffers, check_input=False, **decay
        )
        if grad == "numerical":  # at the same dropout masks as the pass above
            grads = net.numerical_gradient(x, t, params=params, buffers=buffers, **decay)
        params, opt_state = optimizer.apply(params, grads, opt_state, **options)
        return params, buffers, opt_state, loss

    return step
