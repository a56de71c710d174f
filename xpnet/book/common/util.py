"""The book's ``common/util.py``: ``smooth_curve``, ``shuffle_dataset``, ``im2col``, ``col2im``.

``im2col`` and ``col2im`` are xpnet's (:mod:`xpnet.layers.convolution`),
imported when first used; an xpnet without convolution layers says so then.

Examples
--------
>>> smooth_curve([1.0] * 20).round(6).tolist() == [1.0] * 20
True
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from ...batching import take_rows
from ...errors import XpnetError
from .._interop import to_host_float

__all__ = ["col2im", "conv_output_size", "im2col", "np", "shuffle_dataset", "smooth_curve"]


def smooth_curve(x: Any) -> np.ndarray:
    """A loss curve smoothed by an 11-point Kaiser window (for plotting), as a NumPy array.

    `x` is a list of losses: numbers or 0-d arrays of any backend (they are
    read back to the host here, once).
    """
    values = np.asarray([to_host_float(v) for v in x], dtype=np.float64)
    window_len = 11
    s = np.r_[values[window_len - 1 : 0 : -1], values, values[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[5 : len(y) - 5]


def shuffle_dataset(x: Any, t: Any) -> tuple[Any, Any]:
    """`x` and `t` in one random order (NumPy's global generator, as in the book).

    The rows are taken portably (:func:`xpnet.take_rows`), so this works on
    every backend, array-api-strict included.
    """
    permutation = np.random.permutation(x.shape[0]).tolist()  # noqa: NPY002  (the book's)
    return take_rows(x, permutation), take_rows(t, permutation)


def conv_output_size(input_size: int, filter_size: int, stride: int = 1, pad: int = 0) -> float:
    """``(input_size + 2 * pad - filter_size) / stride + 1``."""
    return (input_size + 2 * pad - filter_size) / stride + 1


def _convolution(name: str) -> Any:
    try:
        return getattr(importlib.import_module("xpnet.layers.convolution"), name)
    except (ImportError, AttributeError):
        raise XpnetError(
            f"common.util.{name}: this version of xpnet has no convolution layers "
            "(xpnet.layers.convolution); the book's chapters 7 and 8 need them."
        ) from None


def im2col(input_data: Any, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> Any:
    """Image patches as rows (xpnet's ``im2col``)."""
    return _convolution("im2col")(input_data, filter_h, filter_w, stride, pad)


def col2im(
    col: Any, input_shape: Any, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0
) -> Any:
    """The inverse of :func:`im2col`, summing overlaps (xpnet's ``col2im``)."""
    return _convolution("col2im")(col, input_shape, filter_h, filter_w, stride, pad)
