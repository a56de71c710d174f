"""Portable batching: the indexing a training loop needs, on every backend.

The chapter's loop picks rows with a NumPy index array, ``x_train[batch_mask]``,
and looks at a few samples with ``x_test[:100]``. Neither is portable:
indexing with an integer array is not part of the array API standard (JAX
copies, array-api-strict refuses), and array-api-strict also refuses a slice
that leaves axes unnamed (``x[:100]`` on a 2-D array: write ``x[:100, ...]``).
These helpers say what is meant, and work on every backend:

* :func:`take_rows` — ``x[idx]`` for a 1-D index (``xp.take(x, idx, axis=0)``);
* :func:`head` — the first `n` rows, ``x[:n]``;
* :func:`minibatches` — the chapter's mini-batch draws, iteration by
  iteration, from xpnet's host RNG: the same seed gives the same batches on
  every backend, and the same batches as :func:`xpnet.train` with that seed.

Examples
--------
>>> import numpy as np
>>> x, t = np.arange(12.0).reshape(6, 2), np.arange(6)
>>> take_rows(x, [4, 0]).tolist(), head(t, 3).tolist()
([[8.0, 9.0], [0.0, 1.0]], [0, 1, 2])
>>> for x_batch, t_batch in minibatches(x, t, batch_size=4, iters=2, seed=0):
...     print(x_batch.shape, t_batch.shape)
(4, 2) (4,)
(4, 2) (4,)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ._typing import Array
from ._validation import non_negative_int, positive_int, shape_str
from .backend import backend_of, device, index_dtype, namespace
from .errors import XpnetTypeError, XpnetValueError
from .random import BatchSampler

__all__ = ["head", "minibatches", "take_rows"]


def _rows(x: Array, name: str = "x") -> int:
    if x.ndim == 0:
        raise XpnetValueError(
            f"`{name}` must have at least one axis of rows. Received: a 0-d array."
        )
    return int(x.shape[0])


def take_rows(x: Array, idx: Any, /) -> Array:
    """The rows `idx` of `x`, in that order: the chapter's ``x_train[batch_mask]``.

    Parameters
    ----------
    x : array of shape (N, ...)
    idx : 1-D integer array on `x`'s device, or a sequence of Python ints
        Row numbers in ``[0, N)``; repeats allowed. Python ints are checked
        against N here; arrays are not (that would read back from the device
        at every call), and out-of-range rows are an error on most libraries
        but are clamped by JAX.

    Returns
    -------
    array of shape (len(idx), ...), in `x`'s library, device and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> take_rows(np.array([[1, 2], [3, 4], [5, 6]]), np.array([2, 2, 0]))
    array([[5, 6],
           [5, 6],
           [1, 2]])
    """
    xp = namespace(x)
    n = _rows(x)
    dev = device(x)
    if not hasattr(idx, "shape"):
        rows = _host_rows(idx, n)
        idx = xp.asarray(rows, dtype=index_dtype(xp, dev), device=dev)
    else:
        xp = namespace(x, idx)  # one library, one device
        if not xp.isdtype(idx.dtype, "integral"):
            raise XpnetTypeError(
                f"`idx` must hold integer row numbers. Received: idx.dtype={idx.dtype}."
            )
        if idx.ndim != 1:
            raise XpnetValueError(
                f"`idx` must be 1-D (one row number per row taken). Received: "
                f"idx.shape={shape_str(idx)}."
            )
    return xp.take(x, idx, axis=0)


def _host_rows(idx: Any, n: int) -> list[int]:
    """Python row numbers, checked: ints in [0, n)."""
    if isinstance(idx, int | bool) or not isinstance(idx, Sequence | range):
        raise XpnetTypeError(
            "`idx` must be a 1-D integer array or a sequence of ints (for one row, use "
            f"[i]). Received: {type(idx).__name__}."
        )
    rows = [non_negative_int(i, "idx") for i in idx]
    bad = [i for i in rows if i >= n]
    if bad:
        raise XpnetValueError(f"`idx` must hold rows in [0, {n}). Received: {bad[0]}.")
    return rows


def head(x: Array, n: int, /) -> Array:
    """The first `n` rows of `x` (all of them if it has fewer): the chapter's ``x[:n]``.

    Examples
    --------
    >>> import numpy as np
    >>> head(np.arange(10).reshape(5, 2), 2)
    array([[0, 1],
           [2, 3]])
    """
    namespace(x)
    rows = _rows(x)
    return x[: min(non_negative_int(n, "n"), rows), ...]  # a stop past the end is not standard


def minibatches(
    *arrays: Array,
    batch_size: int = 100,
    iters: int,
    seed: int | None = None,
    start: int = 0,
) -> Iterator[tuple[Array, ...]]:
    """Mini-batches drawn with replacement, one tuple per iteration: the chapter's loop.

    Iteration ``i`` takes the rows :class:`xpnet.random.BatchSampler` draws
    for ``i`` from `seed`: the same rows on every backend, and the same as
    :func:`xpnet.train` uses with that seed and batch size. The row numbers
    are drawn on the host a chunk of iterations at a time and moved to the
    arrays' device once per chunk.

    Parameters
    ----------
    *arrays : arrays with the same number of rows, N
        Usually ``x_train, t_train``; the same rows are taken from each.
    batch_size : int
        Rows per mini-batch.
    iters : int
        How many mini-batches.
    seed : int, optional
        None draws a fresh seed.
    start : int
        The first iteration (to continue a loop where it stopped).

    Yields
    ------
    tuple of arrays, each of shape (batch_size, ...)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0)[:, None]
    >>> [float(b[0][0, 0]) for b in minibatches(x, batch_size=1, iters=3, seed=0)]
    [8.0, 9.0, 0.0]
    """
    if not arrays:
        raise XpnetTypeError("minibatches() needs at least one array to draw rows from.")
    xp = namespace(*arrays)
    sizes = [_rows(a, f"arrays[{k}]") for k, a in enumerate(arrays)]
    if len(set(sizes)) > 1:
        raise XpnetValueError(
            f"The arrays must have the same number of rows. Received: {', '.join(map(str, sizes))}."
        )
    iters = non_negative_int(iters, "iters")
    first = non_negative_int(start, "start")
    sampler = BatchSampler(sizes[0], positive_int(batch_size, "batch_size"), seed)
    return _draw(xp, arrays, sampler, first, first + iters)


def _draw(
    xp: Any, arrays: tuple[Array, ...], sampler: BatchSampler, first: int, stop: int
) -> Iterator[tuple[Array, ...]]:
    b = backend_of(arrays[0])
    begin = first
    while begin < stop:
        end = min(stop, (begin // BatchSampler.CHUNK + 1) * BatchSampler.CHUNK)
        rows = sampler.indices(begin, end, backend=b)
        for i in range(end - begin):
            index = rows[i, ...]
            yield tuple(xp.take(a, index, axis=0) for a in arrays)
        begin = end
