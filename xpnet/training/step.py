"""The training step as one pure function of arrays.

``step(params, opt_state, x_batch, t_batch) -> (params, opt_state, loss)`` is
built from the network's ``loss_and_gradient`` and the optimizer's ``apply``:
the same layers and functions as everything else, no second copy of the
maths. Eager training calls it; a compiler can trace it.

Networks with buffers (:class:`~xpnet.nets.MultiLayerNetExtend`'s
BatchNormalization running statistics and dropout key) keep the same
signature: `opt_state` is then everything the step carries besides the
parameters, the optimizer's state plus the buffers under ``net.<name>``
keys (:func:`init_state`, :func:`split_state`). The step passes them through
the network's pure ``loss_gradient_buffers`` and returns the new ones, so it
stays one pure function of arrays that a compiler can trace unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._typing import Array, Params
from ..backend import namespace

__all__ = [
    "BUFFER_PREFIX",
    "Step",
    "as_optimizer",
    "buffers_of",
    "init_state",
    "make_step",
    "split_state",
]

#: Prefix of the network's buffers among the step's carried state.
BUFFER_PREFIX = "net."

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


def buffers_of(net: Any) -> dict[str, Array]:
    """The network's buffers (non-trainable arrays), or an empty dict for one without."""
    return dict(getattr(net, "buffers", None) or {})


def init_state(net: Any, optimizer: Any) -> dict[str, Array]:
    """The step's carried state before the first step: the optimizer's, plus the net's buffers."""
    state = dict(optimizer.init(net.params))
    state.update({BUFFER_PREFIX + k: v for k, v in buffers_of(net).items()})
    return state


def split_state(state: dict[str, Array]) -> tuple[dict[str, Array], dict[str, Array]]:
    """The step's carried state as (optimizer state, network buffers)."""
    opt_state, buffers = {}, {}
    for key, value in state.items():
        if key.startswith(BUFFER_PREFIX):
            buffers[key[len(BUFFER_PREFIX) :]] = value
        else:
            opt_state[key] = value
    return opt_state, buffers


def _weight_decay(params: Params, loss: Array, grads: Params, decay: float) -> tuple[Array, Params]:
    """L2 on the weight matrices (2-D and more): ``+ decay/2 * sum(W**2)``, ``dW + decay * W``."""
    grads = dict(grads)
    for key, value in params.items():
        if value.ndim >= 2 and key in grads:
            xp = namespace(value)
            loss = loss + 0.5 * decay * xp.sum(value * value)
            grads[key] = grads[key] + decay * value
    return loss, grads


def make_step(
    net: Any, optimizer: Any, grad: str = "backprop", *, weight_decay: float = 0.0
) -> Step:
    """The pure training step of `net` with `optimizer`.

    With ``grad="numerical"`` the gradient comes from the network's
    ``numerical_gradient`` at its current parameters, so the caller keeps
    ``net.params`` equal to `params` (as :func:`xpnet.train` does); networks
    that accept ``params=`` and ``buffers=`` (MultiLayerNet) get them passed.
    `weight_decay` adds L2 regularisation of every parameter with two or
    more dimensions (the weight matrices) to the loss and its gradient.
    """
    if buffers_of(net):
        return _buffered_step(net, optimizer, grad, weight_decay)

    def backprop_step(
        params: Params, opt_state: dict[str, Array], x: Array, t: Array
    ) -> tuple[Params, dict[str, Array], Array]:
        loss, grads = net.loss_and_gradient(x, t, params=params, check_input=False)
        if weight_decay:
            loss, grads = _weight_decay(params, loss, grads, weight_decay)
        params, opt_state = optimizer.apply(params, grads, opt_state)
        return params, opt_state, loss

    def numerical_step(
        params: Params, opt_state: dict[str, Array], x: Array, t: Array
    ) -> tuple[Params, dict[str, Array], Array]:
        loss = net.loss_and_gradient(x, t, params=params, check_input=False)[0]
        grads = net.numerical_gradient(x, t)
        if weight_decay:
            loss, grads = _weight_decay(params, loss, grads, weight_decay)
        params, opt_state = optimizer.apply(params, grads, opt_state)
        return params, opt_state, loss

    return numerical_step if grad == "numerical" else backprop_step


def _buffered_step(net: Any, optimizer: Any, grad: str, weight_decay: float) -> Step:
    """The step of a network with buffers: they travel in `opt_state` under ``net.`` keys."""

    def step(
        params: Params, state: dict[str, Array], x: Array, t: Array
    ) -> tuple[Params, dict[str, Array], Array]:
        opt_state, buffers = split_state(state)
        loss, grads, new_buffers = net.loss_gradient_buffers(
            x, t, params=params, buffers=buffers, check_input=False
        )
        if grad == "numerical":  # the same dropout masks as the pass above
            grads = net.numerical_gradient(x, t, params=params, buffers=new_buffers)
        if weight_decay:
            loss, grads = _weight_decay(params, loss, grads, weight_decay)
        params, opt_state = optimizer.apply(params, grads, opt_state)
        carried = {**opt_state, **{BUFFER_PREFIX + k: v for k, v in new_buffers.items()}}
        return params, carried, loss

    return step
