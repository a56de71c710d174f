"""The hand-written PyTorch reference: the same loop as reference_numpy.train_loop.

Same maths, initial weights, mini-batches (drawn on the host, one transfer per
evaluation block) and evaluations as ``xpnet.train`` on a sigmoid TwoLayerNet,
on whatever device the tensors live.
"""

from __future__ import annotations

import torch
from reference_numpy import batch_indices


def train_loop(params, x, t, x_test, t_test, *, iters, batch_size, lr, seed, eval_every):
    """Mini-batch SGD on tensors; returns (losses, test accuracies). Updates `params` in place.

    The losses stay on the device, as xpnet.train keeps them until an evaluation.
    """
    rows = torch.arange(batch_size, device=x.device)

    def accuracy(x, t):
        scores = torch.sigmoid(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
        return float((scores.argmax(1) == t).float().mean())

    losses, test_acc = [], []
    i = 0
    with torch.no_grad():
        while i < iters:
            end = 0 if i == 0 else min(i + eval_every - 1, iters - 1)
            block = torch.from_numpy(batch_indices(seed, x.shape[0], batch_size, i, end + 1))
            for index in block.to(x.device):
                xb, tb = x[index], t[index]
                z1 = torch.sigmoid(xb @ params["W1"] + params["b1"])
                y = torch.softmax(z1 @ params["W2"] + params["b2"], dim=1)
                y_t = y[rows, tb]
                losses.append(-torch.log(y_t + 1e-7).sum() / batch_size)
                dy = y.clone()
                dy[rows, tb] -= 1
                dy *= (y_t / (y_t + 1e-7))[:, None] / batch_size
                da1 = (dy @ params["W2"].T) * (1 - z1) * z1
                params["W1"] -= lr * (xb.T @ da1)
                params["b1"] -= lr * da1.sum(0)
                params["W2"] -= lr * (z1.T @ dy)
                params["b2"] -= lr * dy.sum(0)
            i = end + 1
            accuracy(x, t)  # the train accuracy, as xpnet.train measures it
            test_acc.append(accuracy(x_test, t_test))
    return losses, test_acc


def train_loop_graphed(params, x, t, x_test, t_test, *, iters, batch_size, lr, seed, eval_every):
    """The same loop on a CUDA device, each step replayed from one captured CUDA graph.

    The step reads its mini-batch indices from a static buffer and updates
    `params` in place, so that one capture serves every iteration (the
    hand-written form of torch.compile's "reduce-overhead").
    """
    index = torch.zeros(batch_size, dtype=torch.int64, device=x.device)
    classes = torch.arange(params["b2"].shape[0], device=x.device)

    def step():
        xb, tb = x[index], t[index]
        z1 = torch.sigmoid(xb @ params["W1"] + params["b1"])
        y = torch.softmax(z1 @ params["W2"] + params["b2"], dim=1)
        y_t = y.gather(1, tb[:, None])[:, 0]
        loss = -torch.log(y_t + 1e-7).sum() / batch_size
        ratio = (y_t / (y_t + 1e-7))[:, None] / batch_size
        dy = (y - (tb[:, None] == classes).to(y.dtype)) * ratio
        da1 = (dy @ params["W2"].T) * (1 - z1) * z1
        params["W1"] -= lr * (xb.T @ da1)
        params["b1"] -= lr * da1.sum(0)
        params["W2"] -= lr * (z1.T @ dy)
        params["b2"] -= lr * dy.sum(0)
        return loss

    def accuracy(x, t):
        scores = torch.sigmoid(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
        return float((scores.argmax(1) == t).float().mean())

    with torch.no_grad():
        saved = {k: v.clone() for k, v in params.items()}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up before capture, as torch.cuda.graph asks
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(side)
        for k, v in saved.items():
            params[k].copy_(v)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            loss = step()
        losses, test_acc = [], []
        i = 0
        while i < iters:
            end = 0 if i == 0 else min(i + eval_every - 1, iters - 1)
            block = torch.from_numpy(batch_indices(seed, x.shape[0], batch_size, i, end + 1))
            for row in block.to(x.device):
                index.copy_(row)
                graph.replay()
                losses.append(loss.clone())
            i = end + 1
            accuracy(x, t)
            test_acc.append(accuracy(x_test, t_test))
    return losses, test_acc


def train_loop_chunk_graph(params, x, t, x_test, t_test, *, iters, batch_size, lr, seed, chunk=250):
    """The loop on a CUDA device with `chunk` whole steps captured in one CUDA graph.

    The steps read their mini-batch indices from a static (chunk, batch_size)
    buffer, filled once per chunk, write their losses into a static vector
    copied out once per chunk, and update `params` in place: one replay runs
    `chunk` iterations with no launch from Python. `iters` must be a multiple
    of `chunk`; the test accuracy is measured once, at the end. Returns
    (losses, [test accuracy]).
    """
    if iters % chunk:
        raise ValueError(f"iters ({iters}) must be a multiple of chunk ({chunk})")
    indices = torch.zeros((chunk, batch_size), dtype=torch.int64, device=x.device)
    chunk_losses = torch.zeros(chunk, dtype=x.dtype, device=x.device)
    classes = torch.arange(params["b2"].shape[0], device=x.device)

    def steps():
        for k in range(chunk):
            xb, tb = x[indices[k]], t[indices[k]]
            z1 = torch.sigmoid(xb @ params["W1"] + params["b1"])
            y = torch.softmax(z1 @ params["W2"] + params["b2"], dim=1)
            y_t = y.gather(1, tb[:, None])[:, 0]
            chunk_losses[k] = -torch.log(y_t + 1e-7).sum() / batch_size
            ratio = (y_t / (y_t + 1e-7))[:, None] / batch_size
            dy = (y - (tb[:, None] == classes).to(y.dtype)) * ratio
            da1 = (dy @ params["W2"].T) * (1 - z1) * z1
            params["W1"] -= lr * (xb.T @ da1)
            params["b1"] -= lr * da1.sum(0)
            params["W2"] -= lr * (z1.T @ dy)
            params["b2"] -= lr * dy.sum(0)

    def fill(c):
        block = batch_indices(seed, x.shape[0], batch_size, c * chunk, (c + 1) * chunk)
        indices.copy_(torch.from_numpy(block))

    with torch.no_grad():
        saved = {k: v.clone() for k, v in params.items()}
        fill(0)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up before capture, as torch.cuda.graph asks
            steps()
        torch.cuda.current_stream().wait_stream(side)
        for k, v in saved.items():
            params[k].copy_(v)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            steps()
        losses = []
        for c in range(iters // chunk):
            fill(c)
            graph.replay()
            losses.append(chunk_losses.clone())
        scores = torch.sigmoid(x_test @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
        test_acc = float((scores.argmax(1) == t_test).float().mean())
    return torch.cat(losses), [test_acc]
