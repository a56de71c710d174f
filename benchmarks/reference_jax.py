"""The hand-written JAX reference: the chapter's loop as a JAX user would write it.

Same maths, initial weights, mini-batches (drawn on the host as xpnet draws
them) and evaluations as ``xpnet.train`` on a sigmoid TwoLayerNet. Every
block of iterations between two evaluations is one ``jax.lax.scan`` under
``jax.jit``, with the mini-batches gathered on the device; a block of each
new length compiles once (the jitted functions are cached per setting).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from reference_numpy import batch_indices


@functools.cache
def _functions(lr: float, batch_size: int, classes: int):
    def step(params, index, x, t):
        xb, tb = x[index], t[index]
        z1 = jax.nn.sigmoid(xb @ params["W1"] + params["b1"])
        y = jax.nn.softmax(z1 @ params["W2"] + params["b2"], axis=1)
        y_t = jnp.take_along_axis(y, tb[:, None], axis=1)[:, 0]
        loss = -jnp.sum(jnp.log(y_t + 1e-7)) / batch_size
        one_hot = jax.nn.one_hot(tb, classes, dtype=y.dtype)
        dy = (y - one_hot) * (y_t / (y_t + 1e-7))[:, None] / batch_size
        da1 = (dy @ params["W2"].T) * (1 - z1) * z1
        grads = {"W1": xb.T @ da1, "b1": da1.sum(0), "W2": z1.T @ dy, "b2": dy.sum(0)}
        return {k: params[k] - lr * grads[k] for k in params}, loss

    @jax.jit
    def block(params, x, t, indices):
        return jax.lax.scan(lambda p, index: step(p, index, x, t), params, indices)

    @jax.jit
    def accuracy(params, x, t):
        scores = jax.nn.sigmoid(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
        return jnp.mean(jnp.argmax(scores, axis=1) == t)

    return block, accuracy


def train_loop(params, x, t, x_test, t_test, *, iters, batch_size, lr, seed, eval_every):
    """Mini-batch SGD, one scan per block; returns (losses, test accuracies) and the params."""
    block, accuracy = _functions(lr, batch_size, params["b2"].shape[0])
    losses, test_acc = [], []
    i = 0
    while i < iters:
        end = 0 if i == 0 else min(i + eval_every - 1, iters - 1)
        indices = jnp.asarray(batch_indices(seed, x.shape[0], batch_size, i, end + 1))
        params, block_losses = block(params, x, t, indices)
        losses.extend(block_losses.tolist())
        i = end + 1
        float(accuracy(params, x, t))  # the train accuracy, as xpnet.train measures it
        test_acc.append(float(accuracy(params, x_test, t_test)))
    return losses, test_acc, params
