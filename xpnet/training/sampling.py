"""Which samples each iteration trains on: drawn with replacement, or epochs.

``train(sampling="with-replacement")`` (the default) is the chapter's code:
every iteration draws its mini-batch at random, with replacement, so an
"epoch" of N / batch_size iterations does not see every image
(:class:`xpnet.random.BatchSampler`). ``sampling="epoch"`` is the practice
the chapter describes: shuffle all the training data, then take the
mini-batches in order, one pass being an epoch (:class:`EpochSampler`).

Both are functions of the seed and the iteration alone (a run resumes
exactly, mid-epoch included), drawn on the host with NumPy's PCG64 (the same
batches on every backend), and give the training loop the same fixed-shape
chunks of indices, so a compiled loop compiles once.

Examples
--------
>>> s = EpochSampler(10, 4, seed=0)
>>> s.batches_per_epoch, s.size(2), s.size(3)
(3, 2, 4)
>>> rows = s.indices(0, 3, backend="numpy")
>>> sorted([*rows[0].tolist(), *rows[1].tolist(), *rows[2, :2].tolist()]) == list(range(10))
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import non_negative_int, positive_int
from ..backend import Backend, asarray, index_dtype, resolve_backend
from ..errors import XpnetValueError
from ..random import BatchSampler
from .config import SAMPLING

__all__ = ["SAMPLING", "EpochSampler", "make_sampler"]


class EpochSampler:
    """Every sample once per epoch, in an order shuffled anew for each epoch.

    Epoch ``e``'s order is a permutation drawn by its own generator,
    ``PCG64(SeedSequence(seed, spawn_key=(e, 1)))``; iteration ``i`` takes
    batch ``i % batches_per_epoch`` of epoch ``i // batches_per_epoch``.
    When `batch_size` does not divide `n`, the last batch of an epoch holds
    the ``n % batch_size`` samples left, or is dropped (``drop_last=True``).

    :meth:`indices` gives rows of `batch_size` indices whatever the batch's
    size (a short batch's row is padded with indices of its own epoch), so
    the chunks a training loop consumes keep one shape; :meth:`size` says how
    many of a row's indices the iteration uses.

    Parameters
    ----------
    n, batch_size : int
    seed : int, optional
        None draws one from the operating system (kept in :attr:`seed`).
    drop_last : bool
        Drop each epoch's last, short batch instead of training on it.
    """

    #: Iterations per chunk of indices (the training loop's unit).
    CHUNK = BatchSampler.CHUNK

    def __init__(
        self, n: int, batch_size: int, seed: int | None = None, *, drop_last: bool = False
    ) -> None:
        self.n = positive_int(n, "n")
        self.batch_size = positive_int(batch_size, "batch_size")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
        self.seed = non_negative_int(seed, "seed")
        self.drop_last = bool(drop_last)
        full, rest = divmod(self.n, self.batch_size)
        if full == 0 and self.drop_last:
            raise XpnetValueError(
                f"`drop_last=True` with `batch_size`={self.batch_size} larger than the "
                f"{self.n} training samples leaves no batch."
            )
        self.batches_per_epoch = full + (1 if rest and not self.drop_last else 0)
        self.last_size = rest if rest and not self.drop_last else self.batch_size
        self._orders: dict[int, np.ndarray] = {}

    def order(self, epoch: int) -> np.ndarray:
        """The permutation of ``range(n)`` that epoch `epoch` visits."""
        if epoch not in self._orders:
            if len(self._orders) > 64:  # a chunk spans many epochs of a small data set
                self._orders.clear()
            seq = np.random.SeedSequence(self.seed, spawn_key=(epoch, 1))
            self._orders[epoch] = np.random.Generator(np.random.PCG64(seq)).permutation(self.n)
        return self._orders[epoch]

    def size(self, i: int) -> int:
        """The number of samples iteration `i` trains on."""
        last = i % self.batches_per_epoch == self.batches_per_epoch - 1
        return self.last_size if last else self.batch_size

    def _row(self, i: int) -> np.ndarray:
        epoch, k = divmod(i, self.batches_per_epoch)
        order = self.order(epoch)
        row = order[k * self.batch_size : (k + 1) * self.batch_size]
        if len(row) < self.batch_size:  # padding of a short batch, never trained on
            row = np.concatenate([row, order[: self.batch_size - len(row)]])
        return row

    def indices(
        self, start: int, stop: int, *, backend: str | Backend | None = None, device: Any = None
    ) -> Any:
        """Indices of iterations ``start .. stop-1``, shape (stop - start, batch_size)."""
        start, stop = non_negative_int(start, "start"), non_negative_int(stop, "stop")
        b = resolve_backend(backend, device)
        rows = [self._row(i) for i in range(start, stop)]
        host = np.stack(rows) if rows else np.zeros((0, self.batch_size), dtype=np.int64)
        return asarray(host, dtype=index_dtype(b.xp, b.device), backend=b)


def make_sampler(
    sampling: str, n: int, batch_size: int, seed: int | None, drop_last: bool = False
) -> Any:
    """The sampler of ``train(sampling=...)``: a :class:`BatchSampler` or an :class:`EpochSampler`.

    Both have ``seed``, ``CHUNK``, ``indices(start, stop, backend=)`` and
    ``size(i)``, the samples iteration `i` uses (every batch of a BatchSampler is full).
    """
    if sampling == "epoch":
        return EpochSampler(n, batch_size, seed, drop_last=drop_last)
    return BatchSampler(n, batch_size, seed)
