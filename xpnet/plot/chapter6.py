"""Chapter 6's figures: the update rules' paths, activations by weight scale, runs compared."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import Backend, asarray, float64_available, resolve_backend, to_numpy
from ._figure import PAGE_WIDTH, new_figure

__all__ = ["OPTIMIZER_RATES", "compare_curves", "optimizer_paths", "weight_init_histograms"]


#: The book's comparison of update rules on f(x, y) = x**2 / 20 + y**2: rule and rate.
OPTIMIZER_RATES = {
    "SGD": 0.95,
    "Momentum": 0.1,
    "Nesterov": 0.1,
    "AdaGrad": 1.5,
    "RMSprop": 0.3,
    "Adam": 0.3,
}


def optimizer_paths(
    steps: int = 30, *, backend: str | Backend | None = None, device: Any = None
) -> Any:
    """The book's figure 6-8: each optimizer's path from (-7, 2) on ``x**2 / 20 + y**2``.

    The gradient ``(x / 10, 2 y)`` is exact; every rule runs its pure
    ``apply`` on the chosen backend, with the book's learning rates
    (:data:`OPTIMIZER_RATES`).
    """
    from .. import optim

    b = resolve_backend(backend, device)
    dtype = "float64" if float64_available(b) else "float32"
    fig = new_figure(figsize=(PAGE_WIDTH, 6.5), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    gx, gy = np.meshgrid(np.arange(-10, 10, 0.05), np.arange(-5, 5, 0.05))
    levels = gx**2 / 20.0 + gy**2
    for ax, (name, rate) in zip(axes, OPTIMIZER_RATES.items(), strict=True):
        rule = getattr(optim, name)(lr=rate)
        params = {"xy": asarray([-7.0, 2.0], dtype=dtype, backend=b)}
        state, path = rule.init(params), []
        for _ in range(steps):
            path.append(to_numpy(params["xy"]))
            grad = params["xy"] * asarray([0.1, 2.0], dtype=dtype, backend=b)
            params, state = rule.apply(params, {"xy": grad}, state)
        points = np.stack(path)
        ax.contour(gx, gy, np.where(levels > 7, 0, levels), colors="#bbbbbb", linewidths=0.6)
        ax.plot(points[:, 0], points[:, 1], "o-", color="red", markersize=3)
        ax.plot(0, 0, "+", color="black")
        ax.set(xlim=(-10, 10), ylim=(-10, 10), xlabel="x", ylabel="y")
        ax.set_title(f"{name} (lr={rate:g})", fontsize=11)
    return fig


def weight_init_histograms(
    activation: str = "sigmoid",
    inits: Sequence[float | str] | None = None,
    *,
    layers: int = 5,
    nodes: int = 100,
    seed: int = 0,
    backend: str | Backend | None = None,
    device: Any = None,
) -> Any:
    """The book's figures 6-10 to 6-14: activations of 5 layers for three initialisations.

    1000 Gaussian inputs go through `layers` fully connected layers of
    `nodes` units, weights drawn by xpnet's host RNG with each scale of
    `inits` (a number, or "xavier"/"he" as :class:`~xpnet.nets.MultiLayerNet`
    takes them); one row per initialisation, one histogram per layer.
    Defaults: std 1, 0.01 and Xavier for sigmoid; 0.01, Xavier and He for
    ReLU (whose zeros, half the units, are left out of its histograms).
    """
    from .._validation import one_of
    from ..layers import ACTIVATIONS, weight_scale
    from ..random import default_rng

    f = ACTIVATIONS[one_of(activation, "activation", tuple(ACTIVATIONS))].function
    inits = list(
        inits or ((1.0, 0.01, "xavier") if activation == "sigmoid" else (0.01, "xavier", "he"))
    )
    b = resolve_backend(backend, device)
    fig = new_figure(figsize=(min(PAGE_WIDTH, 2 * layers), 1.9 * len(inits)), layout="constrained")
    axes = fig.subplots(len(inits), layers, squeeze=False, sharey="row")
    for row, init in zip(axes, inits, strict=True):
        rng = default_rng(seed)
        x = rng.normal((1000, nodes), dtype="float32", backend=b)
        for i, ax in enumerate(row):
            w = rng.normal((nodes, nodes), weight_scale(init, nodes), dtype="float32", backend=b)
            x = f(x @ w, xp=b.xp)
            values = to_numpy(x).ravel()
            values = values[values > 0] if activation == "relu" else values  # half are 0
            ax.hist(values, bins=30, range=(0, 1), color="#1f77b4")
            ax.set_title(f"{i + 1}-layer", fontsize=10)
            if i == 0:
                ax.set_ylabel(f"std={init}", fontsize=10)
    shown = "non-zero ReLU" if activation == "relu" else "sigmoid"
    fig.suptitle(f"{shown} activations by initial weight scale", fontsize=12)
    return fig


def compare_curves(runs: dict[str, Any]) -> Any:
    """Training runs side by side: smoothed loss per iteration, and accuracy per evaluation.

    Parameters
    ----------
    runs : dict of label -> History (or its ``to_dict()``)
        Validation accuracy is drawn where a run has it, else test accuracy.
    """
    fig = new_figure(figsize=(PAGE_WIDTH, 4.2), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    for label, history in runs.items():
        h = history if isinstance(history, dict) else history.to_dict()
        loss = np.asarray(h["train_loss"], dtype=np.float64)
        width = max(1, min(100, len(loss) // 50))
        smooth = np.convolve(loss, np.ones(width) / width, mode="valid") if len(loss) else loss
        line = loss_ax.plot(np.arange(len(smooth)) + width - 1, smooth, linewidth=0.8, label=label)
        which = "val_acc" if h.get("val_acc") else "test_acc" if h["test_acc"] else "train_acc"
        acc_ax.plot(
            h["eval_iters"],
            h[which],
            marker="o",
            markersize=3,
            color=line[0].get_color(),
            label=f"{label} ({which.replace('_', ' ')})",
        )
    loss_ax.set(xlabel="iteration", ylabel="loss (moving average)", title="training loss")
    loss_ax.set_yscale("log")
    acc_ax.set(xlabel="iteration", ylabel="accuracy", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.legend(fontsize=9)
        ax.grid(True, linewidth=0.3)
    return fig
