"""Hand-written NumPy references that xpnet is measured against.

`train_loop` is the chapter's mini-batch training written directly in NumPy,
with the same maths, the same initial weights, the same mini-batches and the
same evaluations as ``xpnet.train`` on a sigmoid TwoLayerNet, so that timing
the two side by side measures only xpnet's overhead.
"""

from __future__ import annotations

import numpy as np


def _sigmoid(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def init_params(
    sizes: tuple[int, int, int], seed: int, dtype=np.float32, std: float = 0.01
) -> dict:
    rng = np.random.default_rng(seed)
    d, h, c = sizes
    # As xpnet.random: drawn in float64 for float64, else in float32 directly.
    host = np.float64 if np.dtype(dtype) == np.float64 else np.float32
    return {
        "W1": (rng.standard_normal((d, h), dtype=host) * host(std)).astype(dtype),
        "b1": np.zeros(h, dtype),
        "W2": (rng.standard_normal((h, c), dtype=host) * host(std)).astype(dtype),
        "b2": np.zeros(c, dtype),
    }


def predict_scores(p: dict, x: np.ndarray) -> np.ndarray:
    return _sigmoid(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]


def accuracy(p: dict, x: np.ndarray, t: np.ndarray) -> float:
    return float(np.mean(predict_scores(p, x).argmax(axis=1) == t))


def loss_and_grads(p: dict, x: np.ndarray, t: np.ndarray) -> tuple[float, dict]:
    n = x.shape[0]
    z1 = _sigmoid(x @ p["W1"] + p["b1"])
    y = _softmax(z1 @ p["W2"] + p["b2"])
    y_t = y[np.arange(n), t]
    loss = -np.log(y_t + 1e-7).sum() / n
    dy = y.copy()
    dy[np.arange(n), t] -= 1
    dy *= (y_t / (y_t + 1e-7))[:, None] / n
    dz1 = dy @ p["W2"].T
    da1 = dz1 * (1 - z1) * z1
    return loss, {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": z1.T @ dy, "b2": dy.sum(axis=0)}


CHUNK = 256  # iterations per generator, as xpnet.random.BatchSampler


def batch_indices(seed: int, n: int, batch_size: int, start: int, stop: int) -> np.ndarray:
    """Mini-batch indices of iterations start..stop-1, drawn as xpnet draws them."""
    first, last = start // CHUNK, (stop - 1) // CHUNK
    chunks = [
        np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(c,)))).integers(
            0, n, size=(CHUNK, batch_size)
        )
        for c in range(first, last + 1)
    ]
    return np.concatenate(chunks)[start - first * CHUNK : stop - first * CHUNK]


def train_loop(params, x, t, x_test, t_test, *, iters, batch_size, lr, seed, eval_every):
    """Mini-batch SGD; returns (losses, train_acc, test_acc). Updates `params` in place."""
    losses, train_acc, test_acc = [], [], []
    i = 0
    while i < iters:
        end = 0 if i == 0 else min(i + eval_every - 1, iters - 1)
        block = batch_indices(seed, x.shape[0], batch_size, i, end + 1)
        for index in block:
            loss, grads = loss_and_grads(params, x[index], t[index])
            for key in params:
                params[key] -= lr * grads[key]
            losses.append(loss)
        i = end + 1
        train_acc.append(accuracy(params, x, t))
        test_acc.append(accuracy(params, x_test, t_test))
    return losses, train_acc, test_acc


# --- the chapter's numerical gradient, one parameter at a time -----------------------


def numerical_gradient_loop(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central differences, perturbing `x` in place one element at a time (the chapter's way)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        idx = it.multi_index
        original = x[idx]
        x[idx] = original + h
        f_plus = f(x)
        x[idx] = original - h
        f_minus = f(x)
        grad[idx] = (f_plus - f_minus) / (2 * h)
        x[idx] = original
        it.iternext()
    return grad


def loss(p: dict, x: np.ndarray, t: np.ndarray) -> float:
    y = _softmax(predict_scores(p, x))
    return -np.log(y[np.arange(x.shape[0]), t] + 1e-7).sum() / x.shape[0]


def network_numerical_gradient(p: dict, x: np.ndarray, t: np.ndarray, h: float = 1e-4) -> dict:
    """The chapter's TwoLayerNet.numerical_gradient: the closure ignores its argument."""
    return {
        key: numerical_gradient_loop(lambda _: loss(p, x, t), p[key], h)
        for key in ("W1", "b1", "W2", "b2")
    }
