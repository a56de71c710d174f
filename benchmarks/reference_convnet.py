"""Hand-written SimpleConvNet training steps, for the chapter-7 benchmark.

Each does what ``xpnet.train(SimpleConvNet(), optimizer="adam")`` does per
iteration — conv 30x5x5, ReLU, 2x2 max pooling, Affine 100, ReLU, Affine 10,
softmax with cross-entropy, Adam — written directly in one library the way a
user of that library would: the book's im2col algorithm in NumPy, autograd
with ``torch.nn.functional.conv2d`` in PyTorch, ``jax.grad`` of
``lax.conv_general_dilated`` under ``jax.jit`` in JAX.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-7
SHAPES = {"W1": (30, 1, 5, 5), "b1": (30,), "W2": (4320, 100), "b2": (100,), "W3": (100, 10),
          "b3": (10,)}  # fmt: skip


def init_params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        k: (0.01 * rng.standard_normal(s)).astype(np.float32)
        if k[0] == "W"
        else np.zeros(s, np.float32)
        for k, s in SHAPES.items()
    }


def flops_per_step(batch: int = 100) -> int:
    """Multiply-adds x 2 of one step: conv forward and weight gradient (no input gradient for
    the first layer), Affine 4320->100 and 100->10 forward, weight and input gradients."""
    conv = 2 * batch * 24 * 24 * 30 * 25
    affine = 2 * batch * (4320 * 100 + 100 * 10)
    return 2 * conv + 3 * affine


# -- NumPy: the book's algorithm ------------------------------------------------------------


def im2col(x, fh, fw, stride=1, pad=0):
    n, c, h, w = x.shape
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    col = np.zeros((n, c, fh, fw, oh, ow), dtype=x.dtype)
    for y in range(fh):
        for x_ in range(fw):
            col[:, :, y, x_] = img[
                :, :, y : y + stride * oh : stride, x_ : x_ + stride * ow : stride
            ]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, -1)


def col2im(col, shape, fh, fw, stride=1, pad=0):
    n, c, h, w = shape
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    col = col.reshape(n, oh, ow, c, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(fh):
        for x_ in range(fw):
            img[:, :, y : y + stride * oh : stride, x_ : x_ + stride * ow : stride] += col[
                :, :, y, x_
            ]
    return img[:, :, pad : h + pad, pad : w + pad]


def numpy_step(p, state, x, t, lr=0.001, beta1=0.9, beta2=0.999):
    """One Adam step of SimpleConvNet, the book's layers inlined; returns the loss."""
    n = x.shape[0]
    col = im2col(x, 5, 5)
    col_w = p["W1"].reshape(30, -1).T
    a1 = (col @ col_w + p["b1"]).reshape(n, 24, 24, 30).transpose(0, 3, 1, 2)
    r1 = np.maximum(a1, 0)
    pcol = im2col(r1, 2, 2, 2).reshape(-1, 4)
    arg = pcol.argmax(axis=1)
    pooled = pcol.max(axis=1).reshape(n, 12, 12, 30).transpose(0, 3, 1, 2)
    flat = pooled.reshape(n, -1)
    a2 = flat @ p["W2"] + p["b2"]
    r2 = np.maximum(a2, 0)
    s = r2 @ p["W3"] + p["b3"]
    e = np.exp(s - s.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    y_t = y[np.arange(n), t]
    loss = -np.log(y_t + EPS).sum() / n
    d = y.copy()
    d[np.arange(n), t] -= 1
    d *= (y_t / (y_t + EPS))[:, None] / n
    g = {"W3": r2.T @ d, "b3": d.sum(axis=0)}
    d = (d @ p["W3"].T) * (a2 > 0)
    g["W2"], g["b2"] = flat.T @ d, d.sum(axis=0)
    d = (d @ p["W2"].T).reshape(pooled.shape).transpose(0, 2, 3, 1).reshape(-1)
    dmax = np.zeros((d.size, 4), dtype=d.dtype)
    dmax[np.arange(d.size), arg] = d
    d = col2im(dmax.reshape(-1, 120), r1.shape, 2, 2, 2) * (a1 > 0)
    d = d.transpose(0, 2, 3, 1).reshape(-1, 30)
    g["W1"] = (col.T @ d).T.reshape(30, 1, 5, 5)
    g["b1"] = d.sum(axis=0)
    state["t"] += 1
    lr_t = lr * np.sqrt(1.0 - beta2 ** state["t"]) / (1.0 - beta1 ** state["t"])
    for k in p:
        state["m"][k] += (1 - beta1) * (g[k] - state["m"][k])
        state["v"][k] += (1 - beta2) * (g[k] ** 2 - state["v"][k])
        p[k] -= np.float32(lr_t) * state["m"][k] / (np.sqrt(state["v"][k]) + EPS)
    return loss


def numpy_state(p):
    return {"t": 0, "m": {k: np.zeros_like(v) for k, v in p.items()},
            "v": {k: np.zeros_like(v) for k, v in p.items()}}  # fmt: skip


# -- PyTorch: autograd with conv2d ------------------------------------------------------------


def torch_setup(p, lr=0.001):
    import torch

    params = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in p.items()}
    return params, torch.optim.Adam(params.values(), lr=lr, eps=EPS)


def torch_step(params, opt, x, t):
    import torch
    import torch.nn.functional as F

    h = F.max_pool2d(F.relu(F.conv2d(x, params["W1"], params["b1"])), 2, 2)
    h = F.relu(h.reshape(x.shape[0], -1) @ params["W2"] + params["b2"])
    s = h @ params["W3"] + params["b3"]
    y = torch.softmax(s, dim=1)
    loss = -torch.log(y[torch.arange(x.shape[0]), t] + EPS).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


# -- JAX: jax.grad of lax.conv under jax.jit ---------------------------------------------------


def jax_setup(p, lr=0.001, beta1=0.9, beta2=0.999):
    import jax
    import jax.numpy as jnp

    def loss_of(params, x, t):
        h = jax.lax.conv_general_dilated(x, params["W1"], (1, 1), "VALID",
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))  # fmt: skip
        h = jax.nn.relu(h + params["b1"][None, :, None, None])
        h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        h = jax.nn.relu(h.reshape(x.shape[0], -1) @ params["W2"] + params["b2"])
        y = jax.nn.softmax(h @ params["W3"] + params["b3"], axis=1)
        return -jnp.mean(jnp.log(jnp.take_along_axis(y, t[:, None], axis=1) + EPS))

    @jax.jit
    def step(params, m, v, i, x, t):
        loss, g = jax.value_and_grad(loss_of)(params, x, t)
        i = i + 1
        lr_t = lr * jnp.sqrt(1.0 - beta2**i) / (1.0 - beta1**i)
        m = jax.tree.map(lambda m, g: m + (1 - beta1) * (g - m), m, g)
        v = jax.tree.map(lambda v, g: v + (1 - beta2) * (g * g - v), v, g)
        params = jax.tree.map(lambda p, m, v: p - lr_t * m / (jnp.sqrt(v) + EPS), params, m, v)
        return params, m, v, i, loss

    params = {k: jnp.asarray(v) for k, v in p.items()}
    zeros = {k: jnp.zeros_like(v) for k, v in params.items()}
    return step, [params, zeros, dict(zeros), jnp.asarray(0.0, dtype=jnp.float32)]
