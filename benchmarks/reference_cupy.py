"""The hand-written CuPy reference: the chapter's loop as a CuPy user would write it.

Same maths, initial weights, mini-batches (drawn on the host as xpnet draws
them, one transfer per evaluation block) and evaluations as ``xpnet.train``
on a sigmoid TwoLayerNet; the losses stay on the device until the end.
"""

from __future__ import annotations

import cupy as cp
from reference_numpy import batch_indices


def _sigmoid(a):
    return 1 / (1 + cp.exp(-a))


def _softmax(a):
    e = cp.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def accuracy(p, x, t) -> float:
    scores = _sigmoid(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    return float((scores.argmax(axis=1) == t).mean())


def train_loop(params, x, t, x_test, t_test, *, iters, batch_size, lr, seed, eval_every):
    """Mini-batch SGD on CuPy arrays; returns (losses, test accuracies); updates `params`."""
    rows = cp.arange(batch_size)
    losses, test_acc = [], []
    i = 0
    while i < iters:
        end = 0 if i == 0 else min(i + eval_every - 1, iters - 1)
        block = cp.asarray(batch_indices(seed, x.shape[0], batch_size, i, end + 1))
        for index in block:
            xb, tb = x[index], t[index]
            z1 = _sigmoid(xb @ params["W1"] + params["b1"])
            y = _softmax(z1 @ params["W2"] + params["b2"])
            y_t = y[rows, tb]
            losses.append(-cp.log(y_t + 1e-7).sum() / batch_size)
            dy = y.copy()
            dy[rows, tb] -= 1
            dy *= (y_t / (y_t + 1e-7))[:, None] / batch_size
            da1 = (dy @ params["W2"].T) * (1 - z1) * z1
            params["W1"] -= lr * (xb.T @ da1)
            params["b1"] -= lr * da1.sum(axis=0)
            params["W2"] -= lr * (z1.T @ dy)
            params["b2"] -= lr * dy.sum(axis=0)
        i = end + 1
        accuracy(params, x, t)  # the train accuracy, as xpnet.train measures it
        test_acc.append(accuracy(params, x_test, t_test))
    return losses, test_acc
