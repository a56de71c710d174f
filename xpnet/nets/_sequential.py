"""The layer stack of MultiLayerNet(Extend), as pure functions of parameters and buffers.

``Affine -> [BatchNormalization] -> activation -> [Dropout]`` for each hidden
layer, then ``Affine -> SoftmaxWithLoss``, as in the book. Two ways through
it share every formula:

* :func:`train_pass` / :func:`scores`: the layers' forward and backward
  (backpropagation), for one batch;
* :func:`batched_loss`: the forward pass only, with one parameter stacked B
  times along a leading axis (the batched numerical gradient evaluates B
  perturbed networks in one call; BatchNormalization normalises each over
  its own batch axis, dropout masks broadcast).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._typing import Array, Namespace, Params
from ..functions import LOG_EPS, one_hot, relu, sigmoid, softmax
from ..layers import (
    Affine,
    BatchNormalization,
    Dropout,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
    dropout_mask,
)
from ..random import advance_key

__all__ = [
    "ACTIVATIONS",
    "BN_MOMENTUM",
    "Stack",
    "batched_loss",
    "forward",
    "masks",
    "one_hot_target",
    "train_pass",
]

ACTIVATIONS: dict[str, Any] = {"sigmoid": Sigmoid, "relu": Relu}
FUNCTIONS: dict[str, Any] = {"sigmoid": sigmoid, "relu": relu}
#: BatchNormalization's momentum inside the networks (the book's default).
BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class Stack:
    """The shape of a network: what the pure functions below need to know."""

    sizes: tuple[int, ...]  # input, hidden..., output
    activation: str
    weight_decay_lambda: float
    use_batchnorm: bool
    use_dropout: bool
    dropout_ratio: float

    @property
    def hidden(self) -> int:
        return len(self.sizes) - 2


def masks(stack: Stack, key: Array, n: int, dtype: Any) -> dict[int, Array]:
    """Dropout masks of every hidden layer for `n` samples, from `key` (stream = layer number)."""
    if not stack.use_dropout:
        return {}
    return {
        i: dropout_mask(key, (n, stack.sizes[i]), stack.dropout_ratio, stream=i, dtype=dtype)
        for i in range(1, stack.hidden + 1)
    }


def _layers(
    xp: Namespace, stack: Stack, params: Params, buffers: dict[str, Array]
) -> list[tuple[str, int, Any]]:
    """(kind, layer number, layer object) in forward order, built from the arrays."""
    layers: list[tuple[str, int, Any]] = []
    for i in range(1, stack.hidden + 2):
        layers.append(("affine", i, Affine(params[f"W{i}"], params[f"b{i}"], xp=xp)))
        if i > stack.hidden:
            break
        if stack.use_batchnorm:
            bn = BatchNormalization(
                params[f"gamma{i}"], params[f"beta{i}"], BN_MOMENTUM,
                buffers[f"running_mean{i}"], buffers[f"running_var{i}"], xp=xp,
            )  # fmt: skip
            layers.append(("batchnorm", i, bn))
        layers.append(("activation", i, ACTIVATIONS[stack.activation](xp=xp)))
        if stack.use_dropout:
            layers.append(("dropout", i, Dropout(stack.dropout_ratio)))
    return layers


def _run(
    layers: list[tuple[str, int, Any]], x: Array, train: bool, drawn: dict[int, Array]
) -> Array:
    out = x
    for kind, i, layer in layers:
        if kind == "batchnorm":
            out = layer.forward(out, train)
        elif kind == "dropout":
            out = layer.forward(out, train, mask=drawn.get(i))
        else:
            out = layer.forward(out)
    return out


def _decay(xp: Namespace, stack: Stack, params: Params) -> Any:
    """The book's weight decay term ``0.5 * lambda * sum(W**2)`` over every weight matrix."""
    total = 0.0
    for i in range(1, stack.hidden + 2):
        W = params[f"W{i}"]
        total = total + 0.5 * stack.weight_decay_lambda * xp.sum(W * W, axis=(-2, -1))
    return total


def forward(
    xp: Namespace,
    stack: Stack,
    params: Params,
    buffers: dict[str, Array],
    x: Array,
    *,
    train: bool,
    advance: bool = False,
) -> tuple[Array, list[tuple[str, int, Any]], dict[str, Array]]:
    """Scores (N, C), the layers (ready for backward) and the buffers after the pass.

    In training mode BatchNormalization uses the batch's statistics and
    updates the running ones, and dropout draws its masks from the buffers'
    key; with `advance` the key moves on first and the masks come from the
    new key (a training step); without, from the key as it is (what the
    numerical gradient sees). Test mode changes no buffer.
    """
    new_buffers = dict(buffers)
    if train and advance and stack.use_dropout:
        new_buffers["dropout_key"] = advance_key(buffers["dropout_key"])
    drawn = masks(stack, new_buffers.get("dropout_key"), x.shape[0], x.dtype) if train else {}
    layers = _layers(xp, stack, params, buffers)
    out = _run(layers, x, train, drawn)
    if train and stack.use_batchnorm:
        for kind, i, layer in layers:
            if kind == "batchnorm":
                new_buffers[f"running_mean{i}"] = layer.running_mean
                new_buffers[f"running_var{i}"] = layer.running_var
    return out, layers, new_buffers


def train_pass(
    xp: Namespace,
    stack: Stack,
    params: Params,
    buffers: dict[str, Array],
    x: Array,
    t: Array,
    *,
    advance: bool,
) -> tuple[Array, Params, dict[str, Array]]:
    """Loss, gradients (backpropagation) and new buffers of one training-mode pass."""
    out, layers, new_buffers = forward(xp, stack, params, buffers, x, train=True, advance=advance)
    last = SoftmaxWithLoss(xp=xp)
    loss = last.forward(out, t)
    decay = stack.weight_decay_lambda
    if decay:
        loss = loss + _decay(xp, stack, params)
    dout = last.backward()
    grads: Params = {}
    for position in range(len(layers) - 1, -1, -1):
        kind, i, layer = layers[position]
        if kind == "affine":
            dout = layer.backward(dout, input_grad=position > 0)
            grads[f"W{i}"] = layer.dW + decay * params[f"W{i}"] if decay else layer.dW
            grads[f"b{i}"] = layer.db
            continue
        dout = layer.backward(dout)
        if kind == "batchnorm":
            grads[f"gamma{i}"], grads[f"beta{i}"] = layer.dgamma, layer.dbeta
    return loss, {name: grads[name] for name in params}, new_buffers


def _row(value: Array, rank: int) -> Array:
    """A vector parameter stacked as (B, M) -> (B, 1, M), to broadcast over the samples."""
    return value[:, None, :] if value.ndim > rank else value


def batched_loss(
    xp: Namespace,
    stack: Stack,
    params: Params,
    masks: dict[int, Array],
    x: Array,
    target: Array,
) -> Array:
    """Training-mode losses of B networks at once, shape (B,), for `params` stacked in one entry.

    `target` is one-hot (N, C) in the dtype of `x`; `masks` are the dropout
    masks (fixed), by layer number.
    """
    h = x
    for i in range(1, stack.hidden + 2):
        h = h @ params[f"W{i}"] + _row(params[f"b{i}"], 1)
        if i > stack.hidden:
            break
        if stack.use_batchnorm:
            gamma, beta = _row(params[f"gamma{i}"], 1), _row(params[f"beta{i}"], 1)
            h = BatchNormalization(gamma, beta, BN_MOMENTUM, xp=xp).forward(h, True)
        h = FUNCTIONS[stack.activation](h, xp=xp)
        if i in masks:
            h = h * masks[i]
    y = softmax(h, xp=xp)
    y_t = xp.sum(y * target, axis=-1)
    loss = -xp.sum(xp.log(y_t + LOG_EPS), axis=-1) / x.shape[0]
    if stack.weight_decay_lambda:
        loss = loss + _decay(xp, stack, params)
    return loss


def one_hot_target(xp: Namespace, t: Array, classes: int, dtype: Any) -> Array:
    """Labels (N,) or one-hot (N, C) as one-hot in `dtype`."""
    return xp.astype(t, dtype) if t.ndim == 2 else one_hot(t, classes, dtype=dtype, xp=xp)
