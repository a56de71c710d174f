"""Chapters 7 and 8's figures: the first convolution's filters, and the digits a network misses."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import to_numpy
from ..errors import XpnetValueError
from ._figure import new_figure

__all__ = ["conv_filters", "misclassified"]


def _first_filters(source: Any) -> np.ndarray:
    """W1 of a convolutional network, or an array (FN, C, FH, FW), on the host."""
    params = getattr(source, "params", None)
    weights = to_numpy(params["W1"] if params is not None else source)
    if weights.ndim != 4:
        raise XpnetValueError(
            "Filters are the first convolution's weights, shape (FN, C, FH, FW). Received: "
            f"shape {weights.shape}; is the network convolutional?"
        )
    return weights


def conv_filters(after: Any, before: Any = None, *, columns: int = 10) -> Any:
    """The book's figure 7-24: the first layer's filters as images, before and after training.

    Parameters
    ----------
    after : network or array of shape (FN, C, FH, FW)
        A trained convolutional network (its ``W1``): edges and blobs.
    before : network or array of shape (FN, C, FH, FW), optional
        The same network as it started: random filters.
    columns : int
        Filters per row.
    """
    rows = [("after training", _first_filters(after))]
    if before is not None:
        rows.insert(0, ("before training", _first_filters(before)))
    count = rows[-1][1].shape[0]
    lines = -(-count // columns)
    fig = new_figure(figsize=(columns * 0.9, len(rows) * lines * 0.95 + 0.5), layout="constrained")
    panels = fig.subfigures(len(rows), 1, squeeze=False)[:, 0]
    for panel, (title, weights) in zip(panels, rows, strict=True):
        panel.suptitle(title, fontsize=10)
        axes = panel.subplots(lines, columns, squeeze=False)
        for i, ax in enumerate(axes.ravel()):
            ax.set_axis_off()
            if i < weights.shape[0]:  # channel 0, grey: dark is negative, as the book's
                ax.imshow(weights[i, 0], cmap="gray_r", interpolation="nearest")
    return fig


def misclassified(
    net: Any, x: Any, t: Any, *, count: int = 20, columns: int = 10, chunk: int = 500
) -> Any:
    """The book's chapter-8 figure: the first `count` test images the network gets wrong.

    Each image is titled with its label and the network's answer, ``7 -> 1``.
    Images are predicted `chunk` at a time, until `count` misses are found.
    """
    xp = net.backend.xp
    labels = to_numpy(xp.argmax(t, axis=1) if t.ndim == 2 else t)
    predicted = np.zeros(0, dtype=np.int64)
    while predicted.size < labels.size and np.sum(predicted != labels[: predicted.size]) < count:
        part = x[predicted.size : min(predicted.size + chunk, labels.size), ...]
        predicted = np.concatenate([predicted, to_numpy(xp.argmax(net.predict(part), axis=1))])
    labels = labels[: predicted.size]
    wrong = np.flatnonzero(predicted != labels)[:count]
    images = to_numpy(x[: predicted.size, ...])
    lines = max(1, -(-len(wrong) // columns))
    fig = new_figure(figsize=(columns * 1.0, lines * 1.15 + 0.4), layout="constrained")
    axes = fig.subplots(lines, columns, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, i in zip(axes.ravel(), wrong, strict=False):
        ax.imshow(images[i].reshape(28, 28) if images[i].size == 784 else images[i][0],
                  cmap="gray_r")  # fmt: skip
        ax.set_title(f"{labels[i]} -> {predicted[i]}", fontsize=9)
    total = int(np.sum(predicted != labels))
    fig.suptitle(f"{total} of the first {len(labels)} misclassified (label -> prediction)",
                 fontsize=10)  # fmt: skip
    return fig
