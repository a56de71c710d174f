"""The book's ``common/util.py``: ``smooth_curve``, ``shuffle_dataset``, ``im2col``, ``col2im``.

``im2col`` and ``col2im`` are xpnet's (:mod:`xpnet.layers.convolution`).

Examples
--------
>>> smooth_curve([1.0] * 20).round(6).tolist() == [1.0] * 20
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...batching import take_rows
from ...layers.convolution import col2im, im2col
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
