"""Reproducible randomness on every backend.

Numbers are drawn on the host with NumPy's :class:`numpy.random.Generator`
(PCG64) and then moved to the chosen backend, device and dtype. The same seed
therefore gives the same initial weights and the same mini-batches on NumPy,
CuPy, PyTorch, JAX and array-api-strict, so runs can be compared number for
number.

Examples
--------
>>> import xpnet
>>> rng = xpnet.random.default_rng(0)
>>> w = rng.normal((2, 3), scale=0.01, dtype="float64", backend="numpy")
>>> w.shape, str(w.dtype)
((2, 3), 'float64')
>>> a = xpnet.random.default_rng(7).integers(10, (5,), backend="numpy")
>>> b = xpnet.random.default_rng(7).integers(10, (5,), backend="numpy")
>>> bool((a == b).all())
True
"""

from __future__ import annotations

import json
import operator
from typing import Any

import numpy as np

from ._typing import Array
from ._validation import finite_float, non_negative_int, positive_int
from .backend import (
    Backend,
    asarray,
    dtype_name,
    index_dtype,
    namespace,
    resolve_backend,
    resolve_dtype,
)
from .backend import device as array_device
from .errors import XpnetTypeError, XpnetValueError

__all__ = ["BatchSampler", "Generator", "advance_key", "default_rng", "key_uniform", "new_key"]


def _shape(shape: int | tuple[int, ...], name: str = "shape") -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    try:
        dims = tuple(operator.index(d) for d in dims)
    except TypeError:
        raise XpnetTypeError(
            f"`{name}` must be an int or a tuple of ints. Received: {shape!r}."
        ) from None
    if any(d < 0 for d in dims):
        raise XpnetValueError(f"`{name}` must not have negative sizes. Received: {shape!r}.")
    return dims


class Generator:
    """A seeded source of random arrays for any backend.

    Parameters
    ----------
    seed : int or None
        A non-negative integer for reproducible draws; None draws fresh
        entropy from the operating system.
    """

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None:
            seed = non_negative_int(seed, "seed")
        self._rng = np.random.default_rng(seed)

    def normal(
        self,
        shape: int | tuple[int, ...],
        scale: float = 1.0,
        *,
        dtype: Any = None,
        backend: str | Backend | None = None,
        device: Any = None,
    ) -> Any:
        """Draw from N(0, scale**2) in `dtype` (float32 by default).

        Numbers are drawn on the host directly in float64 for float64 and in
        float32 otherwise (``Generator.standard_normal(dtype=...)``), then
        scaled in that dtype: no float64 copy twice the size of a float32
        result. The same seed gives the same numbers on every backend; a
        float32 draw is not the float64 draw rounded (xpnet 0.2 changed this).

        Raises
        ------
        XpnetValueError
            When `scale` is not finite, or so large that the draws overflow `dtype`.
        XpnetTypeError
            When `dtype` is not a real floating dtype.
        """
        b = resolve_backend(backend, device)
        scale = finite_float(scale, "scale")
        target = resolve_dtype(b, dtype)
        name = dtype_name(target, xp=b.xp)
        if name not in ("float16", "float32", "float64"):
            raise XpnetTypeError(
                f"`dtype` of normal draws must be a real floating dtype. Received: {name}."
            )
        host = np.float64 if name == "float64" else np.float32
        values = self._rng.standard_normal(_shape(shape), dtype=host)
        with np.errstate(over="ignore", invalid="ignore"):
            values *= host(scale)
        limit = np.finfo(name).max  # float16 results are cast from float32 below
        if values.size and not (values.max() <= limit and values.min() >= -limit):
            raise XpnetValueError(
                f"`scale`={scale:g} is too large for {name}: the draws overflow to infinity "
                f"({name} holds numbers up to {float(limit):.3g})."
            )
        return asarray(values, dtype=target, backend=b)

    def integers(
        self,
        high: int,
        size: int | tuple[int, ...],
        *,
        backend: str | Backend | None = None,
        device: Any = None,
    ) -> Any:
        """Draw integers uniformly from ``[0, high)``, with replacement.

        This is ``np.random.choice(high, size)`` of the chapter's mini-batch
        loop. The result has the backend's index dtype.
        """
        b = resolve_backend(backend, device)
        values = self._rng.integers(0, positive_int(high, "high"), size=_shape(size, "size"))
        return asarray(values, dtype=index_dtype(b.xp, b.device), backend=b)

    def choice(
        self,
        n: int,
        size: int | tuple[int, ...],
        *,
        replace: bool = True,
        backend: str | Backend | None = None,
        device: Any = None,
    ) -> Any:
        """Draw `size` indices from ``range(n)``, with or without replacement."""
        b = resolve_backend(backend, device)
        values = self._rng.choice(positive_int(n, "n"), size=_shape(size, "size"), replace=replace)
        return asarray(values, dtype=index_dtype(b.xp, b.device), backend=b)

    def permutation(
        self, n: int, *, backend: str | Backend | None = None, device: Any = None
    ) -> Any:
        """A random ordering of ``range(n)``."""
        b = resolve_backend(backend, device)
        values = self._rng.permutation(positive_int(n, "n"))
        return asarray(values, dtype=index_dtype(b.xp, b.device), backend=b)

    def get_state(self) -> str:
        """The generator's state as a JSON string (for checkpoints; no pickle)."""
        return json.dumps(self._rng.bit_generator.state)

    def set_state(self, state: str) -> None:
        """Restore a state returned by :meth:`get_state`."""
        try:
            parsed = json.loads(state)
            bit_generator = np.random.PCG64()
            bit_generator.state = parsed
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise XpnetValueError(f"`state` is not a saved xpnet Generator state: {exc}") from None
        self._rng = np.random.Generator(bit_generator)


def default_rng(seed: int | None = None) -> Generator:
    """A new :class:`Generator` seeded with `seed` (mirrors NumPy's ``default_rng``)."""
    return Generator(seed)


class BatchSampler:
    """The mini-batch indices of every training iteration, drawn with replacement.

    Iteration ``i``'s batch depends only on the seed and ``i``: iterations are
    grouped in chunks of :attr:`CHUNK`, and chunk ``c`` is drawn from its own
    generator, ``PCG64(SeedSequence(seed, spawn_key=(c,)))``. So

    * a run of 1,000 iterations sees the same first batches as a run of
      10,000, and a finished run can be continued to more iterations;
    * resuming needs only the seed and the iteration, no generator state;
    * memory is one chunk's indices, whatever the length of the run.

    Parameters
    ----------
    n : int
        Number of samples to draw from (indices ``0 .. n-1``).
    batch_size : int
        Indices per iteration.
    seed : int, optional
        None draws a fresh seed from the operating system; it is kept in
        :attr:`seed` (checkpoints save it).

    Examples
    --------
    >>> long = BatchSampler(60000, 100, seed=0).indices(0, 300, backend="numpy")
    >>> short = BatchSampler(60000, 100, seed=0).indices(0, 10, backend="numpy")
    >>> long.shape, bool((long[:10] == short).all())
    ((300, 100), True)
    """

    #: Iterations drawn by one generator.
    CHUNK = 256

    def __init__(self, n: int, batch_size: int, seed: int | None = None) -> None:
        self.n = positive_int(n, "n")
        self.batch_size = positive_int(batch_size, "batch_size")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
        self.seed = non_negative_int(seed, "seed")

    def size(self, i: int) -> int:
        """The samples iteration `i` trains on: always `batch_size`.

        (``EpochSampler.size`` is smaller for the short last batch of an epoch.)
        """
        return self.batch_size

    def _chunk(self, c: int) -> np.ndarray:
        seq = np.random.SeedSequence(self.seed, spawn_key=(c,))
        rng = np.random.Generator(np.random.PCG64(seq))
        return rng.integers(0, self.n, size=(self.CHUNK, self.batch_size))

    def indices(
        self,
        start: int,
        stop: int,
        *,
        backend: str | Backend | None = None,
        device: Any = None,
    ) -> Any:
        """Indices of iterations ``start .. stop-1``, shape (stop - start, batch_size).

        The result is in the backend's index dtype. Ask for bounded ranges
        (a chunk or so at a time): the result is materialised.
        """
        start, stop = non_negative_int(start, "start"), non_negative_int(stop, "stop")
        b = resolve_backend(backend, device)
        first, last = start // self.CHUNK, max(start, stop - 1) // self.CHUNK
        host = np.concatenate([self._chunk(c) for c in range(first, last + 1)])
        offset = first * self.CHUNK
        return asarray(
            host[start - offset : stop - offset], dtype=index_dtype(b.xp, b.device), backend=b
        )


# -- a counter-based generator that runs on the device ------------------------------
#
# Dropout needs fresh random numbers at every training step, inside the pure
# step (which a compiler may trace), identical on every backend. Host draws
# would mean a host-to-device copy per step; each library's own device RNG
# differs. So the numbers are a hash of (seed, counter, stream, position),
# computed with int32 arithmetic that wraps the same way in NumPy, CuPy,
# PyTorch, JAX and array-api-strict: Chris Wellons' "lowbias32" mixer, a
# bijection of 32-bit integers with good avalanche. Shifts are made logical
# by masking, and multiplier constants are written as signed int32.

_M1, _M2 = 0x7FEB352D, 0x846CA68B - 2**32
_GOLDEN, _SPREAD = 0x9E3779B9 - 2**32, 0x27D4EB2D


def _mix(x: Array) -> Array:
    """lowbias32 on int32 arrays (two's complement wraps alike on every backend)."""
    x = x ^ ((x >> 16) & 0xFFFF)
    x = x * _M1
    x = x ^ ((x >> 15) & 0x1FFFF)
    x = x * _M2
    return x ^ ((x >> 16) & 0xFFFF)


def new_key(
    seed: int | None = None, *, backend: str | Backend | None = None, device: Any = None
) -> Array:
    """A key for :func:`key_uniform`: int32 ``[seed, 0]`` (seed reduced below 2**31).

    None draws a seed from the operating system.

    Examples
    --------
    >>> new_key(7, backend="numpy").tolist()
    [7, 0]
    """
    if seed is None:
        seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    seed = non_negative_int(seed, "seed") % 2**31
    b = resolve_backend(backend, device)
    return asarray(np.asarray([seed, 0], dtype=np.int32), dtype="int32", backend=b)


def advance_key(key: Array) -> Array:
    """The next key: the counter of ``[seed, counter]`` plus one (a new array)."""
    xp = namespace(key)
    return xp.concat([key[0:1], key[1:2] + 1])


def key_uniform(key: Array, shape: tuple[int, ...], *, stream: int = 0, dtype: Any) -> Array:
    """Uniform numbers in [0, 1) of `shape`, a pure function of `key`, `stream` and position.

    The same key gives the same numbers on every backend and device, bit
    for bit, with no host round trip: they are 24-bit hashes of
    ``(seed, counter, stream, flat index)``. `stream` separates several
    draws made with one key (dropout layers of one network).

    Examples
    --------
    >>> u = key_uniform(new_key(0, backend="numpy"), (2, 3), dtype="float32")
    >>> u.shape, str(u.dtype), bool(((u >= 0) & (u < 1)).all())
    ((2, 3), 'float32', True)
    """
    xp = namespace(key)
    n = 1
    for size in shape:
        n *= size
    # Shape (1,), never 0-d: NumPy warns about wrapping on scalars, not on arrays.
    base = _mix(key[0:1] ^ _mix(key[1:2] * _GOLDEN + (stream & 0x7FFFFFFF)))
    position = xp.arange(n, dtype=xp.int32, device=array_device(key))
    bits = _mix((position * _SPREAD) ^ base)
    target = dtype if not isinstance(dtype, str) else getattr(xp, dtype)
    values = xp.astype((bits >> 8) & 0xFFFFFF, target) * (1.0 / 2**24)
    return xp.reshape(values, shape)
