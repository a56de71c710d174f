"""The training step as one pure function of arrays.

``step(params, opt_state, x_batch, t_batch) -> (params, opt_state, loss)`` is
built from the network's ``loss_and_gradient`` and the optimizer's ``apply``:
the same layers and functions as everything else, no second copy of the
maths. Eager training calls it; a compiler can trace it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._typing import Array, Params

__all__ = ["Step", "as_optimizer", "make_step"]

Step = Callable[[Params, dict[str, Array], Array, Array], tuple[Params, dict[str, Array], Array]]


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
        from ..errors import XpnetTypeError

        raise XpnetTypeError(
            "`optimizer` must have update(params, grads) (the book's interface) or "
            f"init(params) and apply(params, grads, state). Received: {optimizer!r}."
        )
    return _BookOptimizer(optimizer)


def make_step(net: Any, optimizer: Any, grad: str = "backprop") -> Step:
    """The pure training step of `net` with `optimizer`.

    With ``grad="numerical"`` the gradient comes from the network's
    ``numerical_gradient`` at its current parameters, so the caller keeps
    ``net.params`` equal to `params` (as :func:`xpnet.train` does).
    """

    def backprop_step(
        params: Params, opt_state: dict[str, Array], x: Array, t: Array
    ) -> tuple[Params, dict[str, Array], Array]:
        loss, grads = net.loss_and_gradient(x, t, params=params, check_input=False)
        params, opt_state = optimizer.apply(params, grads, opt_state)
        return params, opt_state, loss

    def numerical_step(
        params: Params, opt_state: dict[str, Array], x: Array, t: Array
    ) -> tuple[Params, dict[str, Array], Array]:
        loss = net.loss_and_gradient(x, t, params=params, check_input=False)[0]
        grads = net.numerical_gradient(x, t)
        params, opt_state = optimizer.apply(params, grads, opt_state)
        return params, opt_state, loss

    return numerical_step if grad == "numerical" else backprop_step
