"""The chapter's figures: the gradient field, the descent paths, the learning curves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import Backend, asarray, float64_available, resolve_backend, to_numpy
from ..gradient import gradient_descent, numerical_gradient
from ._figure import PAGE_WIDTH, new_figure

__all__ = ["descent_path", "gradient_field", "learning_curves"]


def _function_2(x: Any) -> Any:
    return x[0] ** 2 + x[1] ** 2


def gradient_field(
    f: Callable[[Any], Any] | None = None,
    *,
    xlim: tuple[float, float] = (-2.0, 2.5),
    ylim: tuple[float, float] = (-2.0, 2.5),
    step: float = 0.25,
    backend: str | Backend | None = None,
    device: Any = None,
) -> Any:
    """The chapter's quiver plot: arrows of ``-grad f`` over a grid, by numerical differentiation.

    Parameters
    ----------
    f : callable, optional
        A scalar function of a 2-vector; ``x0**2 + x1**2`` by default.
    xlim, ylim : tuple of float
        The grid's range along each axis.
    step : float
        The grid's spacing.
    backend, device
        Where the gradients are computed (float64 where available).
    """
    b = resolve_backend(backend, device)
    f = _function_2 if f is None else f
    dtype = "float64" if float64_available(b) else "float32"
    xs = np.arange(xlim[0], xlim[1] + 1e-9, step)
    ys = np.arange(ylim[0], ylim[1] + 1e-9, step)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    grads = np.stack(
        [to_numpy(numerical_gradient(f, asarray(p, dtype=dtype, backend=b))) for p in points]
    )
    fig = new_figure(figsize=(6, 6), layout="constrained")
    ax = fig.subplots()
    ax.quiver(points[:, 0], points[:, 1], -grads[:, 0], -grads[:, 1], angles="xy", color="#666666")
    ax.set(xlim=xlim, ylim=ylim, xlabel="x0", ylabel="x1", title="-gradient of f (numerical)")
    ax.grid(True, linewidth=0.3)
    return fig


def descent_path(
    f: Callable[[Any], Any] | None = None,
    init_x: tuple[float, float] = (-3.0, 4.0),
    lr: float | Sequence[float] = (0.1, 10.0, 1e-10),
    step_num: int = 100,
    *,
    backend: str | Backend | None = None,
    device: Any = None,
) -> Any:
    """Contours of f with the path of :func:`~xpnet.gradient_descent`, one panel per learning rate.

    With the default lr 0.1, 10 and 1e-10: the first converges, the second
    diverges, the third barely moves — why the learning rate matters.
    """
    b = resolve_backend(backend, device)
    f = _function_2 if f is None else f
    dtype = "float64" if float64_available(b) else "float32"
    rates = [lr] if isinstance(lr, int | float) else list(lr)
    # Equal-aspect panels: "compressed" shrinks the gaps so the titles fit.
    # At most a page's width (PAGE_WIDTH): the titles stay readable when shown at that width.
    width = min(PAGE_WIDTH, 3.4 * len(rates))
    fig = new_figure(figsize=(width, width / len(rates) + 0.4), layout="compressed")
    axes = fig.subplots(1, len(rates), squeeze=False)[0]
    grid = np.linspace(-4.5, 4.5, 200)
    gx, gy = np.meshgrid(grid, grid)
    levels = f(np.stack([gx, gy]))  # f of a stacked grid: its first axis holds x0, x1
    for ax, rate in zip(axes, rates, strict=True):
        x, path = gradient_descent(
            f, asarray(init_x, dtype=dtype, backend=b), lr=rate, step_num=step_num, history=True
        )
        path = to_numpy(path)
        ax.contour(gx, gy, levels, levels=12, colors="#bbbbbb", linewidths=0.6)
        ax.plot(path[:, 0], path[:, 1], "o-", markersize=3, color="#1f77b4")
        final = to_numpy(x)
        ax.set(xlim=(-4.5, 4.5), ylim=(-4.5, 4.5), xlabel="x0", ylabel="x1", aspect="equal")
        ax.set_title(f"lr={rate:g}: ({final[0]:.2g}, {final[1]:.2g})", fontsize=11)
    return fig


def learning_curves(history: Any) -> Any:
    """Loss per iteration (left) and train/test accuracy per evaluation (right).

    Parameters
    ----------
    history : History or dict
        A :class:`xpnet.train.History`, or its ``to_dict()`` (as saved in a
        ``--json`` summary or a checkpoint).

    Returns
    -------
    matplotlib.figure.Figure
    """
    h = history if isinstance(history, dict) else history.to_dict()
    fig = new_figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(range(len(h["train_loss"])), h["train_loss"], linewidth=0.6)
    loss_ax.set(xlabel="iteration", ylabel="loss", title="training loss")
    acc_ax.plot(h["eval_iters"], h["train_acc"], marker="o", label="train acc")
    if h["test_acc"]:
        acc_ax.plot(h["eval_iters"], h["test_acc"], marker="s", linestyle="--", label="test acc")
    acc_ax.set(xlabel="iteration", ylabel="accuracy", ylim=(0, 1.0), title="accuracy")
    acc_ax.legend(loc="lower right")
    return fig
