"""Figures: the chapter's gradient pictures and learning curves, and chapter 6's.

matplotlib is an optional extra (``pip install 'xpnet[plot]'``), imported on
first use. Figures are made with matplotlib's object API and the Agg canvas,
so they work without a display and never touch pyplot's global state.

Examples
--------
>>> from xpnet.training import History
>>> h = History(train_loss=[2.3, 1.0, 0.5], eval_iters=[0, 2],
...             train_acc=[0.1, 0.8], test_acc=[0.1, 0.79])
>>> fig = learning_curves(h)  # doctest: +SKIP
>>> fig.savefig("curves.png")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._io import atomic_write
from .backend import Backend, asarray, float64_available, resolve_backend, to_numpy
from .errors import NotInstalledError, XpnetValueError
from .gradient import gradient_descent, numerical_gradient

__all__ = [
    "check_format",
    "compare_curves",
    "descent_path",
    "gradient_field",
    "learning_curves",
    "optimizer_paths",
    "save_figure",
    "sweep_accuracy",
    "weight_init_histograms",
]


def _figure(**kwargs: Any) -> Any:
    # Constrained layout keeps titles, labels and legends inside the figure;
    # figures of fixed-aspect panels ask for "compressed" instead.
    kwargs.setdefault("layout", "constrained")
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise NotInstalledError(
            f"Plotting needs matplotlib, which is not installed ({exc}). "
            "Install it with: pip install 'xpnet[plot]'"
        ) from exc
    return Figure(**kwargs)


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
    xlim, ylim, step
        The grid.
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
    fig = _figure(figsize=(6, 6), layout="constrained")
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
    fig = _figure(figsize=(4.5 * len(rates), 4.5), layout="compressed")
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
        ax.set_title(f"lr={rate:g}: x = ({final[0]:.2g}, {final[1]:.2g})", fontsize=10)
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
    fig = _figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(range(len(h["train_loss"])), h["train_loss"], linewidth=0.6)
    loss_ax.set(xlabel="iteration", ylabel="loss", title="training loss")
    acc_ax.plot(h["eval_iters"], h["train_acc"], marker="o", label="train acc")
    if h["test_acc"]:
        acc_ax.plot(h["eval_iters"], h["test_acc"], marker="s", linestyle="--", label="test acc")
    acc_ax.set(xlabel="iteration", ylabel="accuracy", ylim=(0, 1.0), title="accuracy")
    acc_ax.legend(loc="lower right")
    return fig


def _sweep_axis(values: list[Any]) -> tuple[list[Any], bool]:
    """Distinct values of a setting, sorted, and whether they are numbers on a log scale."""
    from .sweep.report import format_value

    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not numeric:
        return sorted(set(map(format_value, values))), False
    distinct = sorted(set(values))
    return distinct, min(distinct) > 0 and max(distinct) >= 100 * min(distinct)


def _sweep_heat_map(fig: Any, done: list[Any], names: list[str], key: str, label: str) -> None:
    from .sweep.report import format_value

    rows, _ = _sweep_axis([r.settings.get(names[0]) for r in done])
    cols, _ = _sweep_axis([r.settings.get(names[1]) for r in done])
    sums, counts = np.zeros((len(rows), len(cols))), np.zeros((len(rows), len(cols)))
    for r in done:
        i = [format_value(v) for v in rows].index(format_value(r.settings.get(names[0])))
        j = [format_value(v) for v in cols].index(format_value(r.settings.get(names[1])))
        sums[i, j] += getattr(r, key)
        counts[i, j] += 1
    mean = np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)
    ax = fig.subplots()
    image = ax.imshow(mean, cmap="viridis", origin="lower", aspect="auto")
    fig.colorbar(image, ax=ax, label=label)
    middle = np.nanmean(mean)
    for (i, j), value in np.ndenumerate(mean):
        text = "failed" if np.isnan(value) else f"{value:.3f}"
        color = "black" if value > middle else "white"  # readable on viridis' yellows
        ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(len(cols)), [format_value(v) for v in cols])
    ax.set_yticks(range(len(rows)), [format_value(v) for v in rows])
    ax.set(xlabel=names[1], ylabel=names[0], title=f"{label} (mean over other settings)")


def sweep_accuracy(runs: Any) -> Any:
    """Accuracy against each swept setting; a heat map when exactly two settings form a grid.

    Runs are scored on validation accuracy when they have it, else test, else
    training accuracy. Failed runs (diverged) are drawn as red crosses at 0.

    Parameters
    ----------
    runs : path or list of RunRecord
        A store written by :func:`xpnet.sweep.sweep` (``xpnet sweep``), or its runs.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .sweep import read_runs
    from .sweep.report import axes, format_value, metric

    records = read_runs(runs) if isinstance(runs, str | os.PathLike) else list(runs)
    done = [r for r in records if r.status == "done"]
    failed = [r for r in records if r.status == "failed"]
    names = axes(records)
    if not done or not names:
        raise XpnetValueError(
            "`runs`: a sweep figure needs finished runs whose settings differ. Received: "
            f"{len(done)} finished runs, varying settings {names}."
        )
    label = metric(done).replace("_acc", " accuracy")
    key = f"final_{metric(done)}"
    grid = [len(_sweep_axis([r.settings.get(n) for r in done])[0]) for n in names]
    if len(names) == 2 and max(grid) <= 12:
        fig = _figure(figsize=(7, 5), layout="constrained")
        _sweep_heat_map(fig, done, names, key, label)
        return fig
    fig = _figure(figsize=(4.5 * len(names), 4), layout="constrained")
    for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
        values, log = _sweep_axis([r.settings.get(name) for r in done + failed])
        numeric = not values or not isinstance(values[0], str)

        def position(value: Any, values: list[Any] = values, numeric: bool = numeric) -> Any:
            return value if numeric else values.index(format_value(value))

        ax.scatter([position(r.settings.get(name)) for r in done],
                   [getattr(r, key) for r in done], alpha=0.7)  # fmt: skip
        if failed:
            ax.scatter([position(r.settings.get(name)) for r in failed], [0.0] * len(failed),
                       marker="x", color="red", label="failed")  # fmt: skip
            ax.legend(loc="lower right")
        if log:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(values)), values)
        ax.set(xlabel=name, ylabel=label, ylim=(-0.05, 1.0))
    return fig


# -- chapter 6 ---------------------------------------------------------------------------

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
    from . import optim

    b = resolve_backend(backend, device)
    dtype = "float64" if float64_available(b) else "float32"
    fig = _figure(figsize=(13.5, 8), layout="constrained")
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
        ax.set_title(f"{name} (lr={rate:g})", fontsize=10)
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
    from .functions import relu, sigmoid
    from .layers import weight_scale
    from .random import default_rng

    f = {"sigmoid": sigmoid, "relu": relu}[_validated_activation(activation)]
    inits = list(
        inits or ((1.0, 0.01, "xavier") if activation == "sigmoid" else (0.01, "xavier", "he"))
    )
    b = resolve_backend(backend, device)
    fig = _figure(figsize=(2.6 * layers, 2.2 * len(inits)), layout="constrained")
    axes = fig.subplots(len(inits), layers, squeeze=False, sharey="row")
    for row, init in zip(axes, inits, strict=True):
        rng = default_rng(seed)
        x = rng.normal((1000, nodes), dtype="float32", backend=b)
        for i, ax in enumerate(row):
            w = rng.normal((nodes, nodes), weight_scale(init, nodes), dtype="float32", backend=b)
            x = f(x @ w)
            values = to_numpy(x).ravel()
            values = values[values > 0] if activation == "relu" else values  # half are 0
            ax.hist(values, bins=30, range=(0, 1), color="#1f77b4")
            ax.set_title(f"{i + 1}-layer", fontsize=9)
            if i == 0:
                ax.set_ylabel(f"std={init}", fontsize=9)
    shown = "non-zero ReLU" if activation == "relu" else "sigmoid"
    fig.suptitle(f"{shown} activations by initial weight scale", fontsize=11)
    return fig


def _validated_activation(activation: str) -> str:
    from ._validation import one_of

    return one_of(activation, "activation", ("sigmoid", "relu"))


def compare_curves(runs: dict[str, Any]) -> Any:
    """Training runs side by side: smoothed loss per iteration, and accuracy per evaluation.

    Parameters
    ----------
    runs : dict of label -> History (or its ``to_dict()``)
        Validation accuracy is drawn where a run has it, else test accuracy.
    """
    fig = _figure(figsize=(11, 4.2), layout="constrained")
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
        ax.legend(fontsize=8)
        ax.grid(True, linewidth=0.3)
    return fig


def check_format(path: str | os.PathLike[str], name: str = "path") -> str:
    """The figure format named by `path`'s suffix, or an error listing those matplotlib writes.

    Also fails, with the install hint, when matplotlib is missing: call it
    before a long computation whose figure would otherwise be lost.
    """
    supported = _figure().canvas.get_supported_filetypes()
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower() if "." in os.fspath(path) else ""
    if suffix not in supported:
        raise XpnetValueError(
            f"`{name}`: cannot tell the figure format from {os.fspath(path)!r}. "
            f"End the name with one of: {', '.join('.' + s for s in sorted(supported))}."
        )
    return suffix


def save_figure(fig: Any, path: str | os.PathLike[str]) -> None:
    """Write `fig` to `path` (format from the suffix), atomically."""
    suffix = check_format(path)
    atomic_write(path, lambda f: fig.savefig(f, format=suffix, dpi=100))
