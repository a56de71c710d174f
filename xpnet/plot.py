"""Figures: learning curves (and, later, the chapter's gradient pictures).

matplotlib is an optional extra (``pip install 'xpnet[plot]'``), imported on
first use. Figures are made with matplotlib's object API and the Agg canvas,
so they work without a display and never touch pyplot's global state.

Examples
--------
>>> from xpnet.train import History
>>> h = History(train_loss=[2.3, 1.0, 0.5], eval_iters=[0, 2],
...             train_acc=[0.1, 0.8], test_acc=[0.1, 0.79])
>>> fig = learning_curves(h)  # doctest: +SKIP
>>> fig.savefig("curves.png")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["learning_curves", "save_figure"]


def _figure(**kwargs: Any) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            f"Plotting needs matplotlib, which is not installed ({exc}). "
            "Install it with: pip install 'xpnet[plot]'"
        ) from exc
    return Figure(**kwargs)


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


def save_figure(fig: Any, path: str | os.PathLike[str]) -> None:
    """Write `fig` to `path` (format from the suffix), atomically."""
    from ._io import atomic_write

    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    atomic_write(path, lambda f: fig.savefig(f, format=suffix, dpi=100))
