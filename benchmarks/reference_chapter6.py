"""Hand-written loops for chapter 6's benchmark: a deep ReLU network trained with Adam.

``train_numpy`` and ``train_torch`` do exactly the maths of
``xpnet.train(MultiLayerNet(784, [100] * 4, 10, "relu", "he"), optimizer="adam")``
— from the parameters the network starts with (the benchmark passes them in),
with the same mini-batches, ReLU, softmax with the 1e-7-guarded cross-entropy
and its exact derivative, the book's Adam — written directly in each library,
so timing them beside xpnet measures only xpnet's overhead.
"""

from __future__ import annotations

import numpy as np
from reference_numpy import CHUNK, batch_indices

EPS = 1e-7


def _forward_backward_numpy(p, x, t, layers):
    n = x.shape[0]
    hs, h = [x], x
    for i in range(1, layers):
        h = np.maximum(h @ p[f"W{i}"] + p[f"b{i}"], 0)
        hs.append(h)
    s = h @ p[f"W{layers}"] + p[f"b{layers}"]
    e = np.exp(s - s.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    y_t = y[np.arange(n), t]
    loss = -np.log(y_t + EPS).sum() / n
    d = y.copy()
    d[np.arange(n), t] -= 1
    d *= (y_t / (y_t + EPS))[:, None] / n
    grads = {}
    for i in range(layers, 0, -1):
        grads[f"W{i}"], grads[f"b{i}"] = hs[i - 1].T @ d, d.sum(axis=0)
        if i > 1:
            d = (d @ p[f"W{i}"].T) * (hs[i - 1] > 0)
    return loss, grads


def _scores_numpy(p, x, layers):
    h = x
    for i in range(1, layers):
        h = np.maximum(h @ p[f"W{i}"] + p[f"b{i}"], 0)
    return h @ p[f"W{layers}"] + p[f"b{layers}"]


def train_numpy(p, x, t, x_test, t_test, *, iters, batch_size, lr, seed, beta1=0.9, beta2=0.999):
    """Adam on the network; evaluations after iteration 0 and the last. Returns the losses."""
    layers = len(p) // 2
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    losses, evals = [], []
    for i in range(iters):
        if i % CHUNK == 0:  # one draw per chunk of iterations, as xpnet
            block = batch_indices(seed, x.shape[0], batch_size, i, min(i + CHUNK, iters))
        index = block[i % CHUNK]
        loss, g = _forward_backward_numpy(p, x[index], t[index], layers)
        losses.append(loss)
        lr_t = lr * np.sqrt(1.0 - beta2 ** (i + 1)) / (1.0 - beta1 ** (i + 1))
        for k in p:
            m[k] += (1 - beta1) * (g[k] - m[k])
            v[k] += (1 - beta2) * (g[k] ** 2 - v[k])
            p[k] = p[k] - np.float32(lr_t) * m[k] / (np.sqrt(v[k]) + EPS)
        if i in (0, iters - 1):
            for xs, ts in ((x, t), (x_test, t_test)):
                evals.append(float(np.mean(_scores_numpy(p, xs, layers).argmax(axis=1) == ts)))
    return np.asarray(losses, dtype=np.float64), evals


def train_torch(p, x, t, x_test, t_test, *, iters, batch_size, lr, seed, beta1=0.9, beta2=0.999):
    """The same loop in PyTorch (tensors in, on the CPU); returns the losses."""
    import torch

    layers = len(p) // 2
    m = {k: torch.zeros_like(v) for k, v in p.items()}
    v = {k: torch.zeros_like(v) for k, v in p.items()}
    losses, evals = [], []
    for i in range(iters):
        if i % CHUNK == 0:
            block = torch.from_numpy(
                batch_indices(seed, x.shape[0], batch_size, i, min(i + CHUNK, iters))
            )
        index = block[i % CHUNK]
        xb, tb = x[index], t[index]
        n = xb.shape[0]
        hs, h = [xb], xb
        for j in range(1, layers):
            h = torch.relu(h @ p[f"W{j}"] + p[f"b{j}"])
            hs.append(h)
        s = h @ p[f"W{layers}"] + p[f"b{layers}"]
        y = torch.softmax(s, dim=1)
        y_t = y.gather(1, tb[:, None])[:, 0]
        losses.append(-torch.log(y_t + EPS).sum() / n)
        d = y - torch.nn.functional.one_hot(tb, y.shape[1]).to(y.dtype)
        d = d * ((y_t / (y_t + EPS))[:, None] / n)
        g = {}
        for j in range(layers, 0, -1):
            g[f"W{j}"], g[f"b{j}"] = hs[j - 1].T @ d, d.sum(dim=0)
            if j > 1:
                d = (d @ p[f"W{j}"].T) * (hs[j - 1] > 0)
        lr_t = lr * np.sqrt(1.0 - beta2 ** (i + 1)) / (1.0 - beta1 ** (i + 1))
        for k in p:
            m[k] += (1 - beta1) * (g[k] - m[k])
            v[k] += (1 - beta2) * (g[k] ** 2 - v[k])
            p[k] = p[k] - lr_t * m[k] / (torch.sqrt(v[k]) + EPS)
        if i in (0, iters - 1):
            for xs, ts in ((x, t), (x_test, t_test)):
                h = xs
                for j in range(1, layers):
                    h = torch.relu(h @ p[f"W{j}"] + p[f"b{j}"])
                scores = h @ p[f"W{layers}"] + p[f"b{layers}"]
                evals.append(float((scores.argmax(dim=1) == ts).float().mean()))
    return torch.stack(losses).double().numpy(), evals
