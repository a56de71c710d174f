"""Dropout (Srivastava et al., 2014), as in the book: training drops, testing scales.

Masks come from a counter-based generator (:func:`xpnet.random.key_uniform`),
so the same key gives the same mask on every backend and a compiler can
trace the draw.
"""

from __future__ import annotations

from typing import Any

from .._typing import Array, Params
from .._validation import bounded_float
from ..backend import device, library_of, namespace
from ..random import advance_key, key_uniform, new_key
from ._base import Context, Layer

__all__ = ["Dropout", "dropout_mask"]


def dropout_mask(
    key: Array, shape: tuple[int, ...], dropout_ratio: float, *, stream: int = 0, dtype: Any
) -> Array:
    """The dropout mask of `key`: 1 where a uniform draw exceeds `dropout_ratio`, else 0.

    A pure function of the key (see :func:`xpnet.random.key_uniform`), so the
    same key gives the same mask on every backend, in `dtype`.
    """
    xp = namespace(key)
    uniform = key_uniform(key, shape, stream=stream, dtype=dtype)
    return xp.astype(uniform > dropout_ratio, uniform.dtype)  # `dtype` may be a name


class Dropout(Layer):
    """Training (``train_flg=True``) multiplies by a mask of 0s (probability
    `dropout_ratio`) and 1s; testing multiplies by ``1 - dropout_ratio``.

    Parameters
    ----------
    dropout_ratio : float
        The fraction of units dropped, in [0, 1).
    seed : int, optional
        Seed of the masks of the layer used on its own: every training
        forward advances a key and draws the mask from it, the same on every
        backend. Inside a network the mask comes from the network's key
        (its buffer ``dropout_key``), one stream per layer.

    Examples
    --------
    >>> import numpy as np
    >>> layer = Dropout(0.5, seed=0)
    >>> out = layer.forward(np.ones((2, 4), dtype=np.float32))
    >>> bool(((out == 0) | (out == 1)).all()), layer.forward(np.ones(2), train_flg=False)
    (True, array([0.5, 0.5]))
    """

    random = True

    def __init__(self, dropout_ratio: float = 0.5, *, seed: int | None = None) -> None:
        super().__init__()
        self.dropout_ratio = bounded_float(dropout_ratio, "dropout_ratio", 0.0, 1.0)
        self.seed = seed
        self.key: Any = None
        self.mask: Any = None

    def get_config(self) -> dict[str, Any]:
        return {"dropout_ratio": self.dropout_ratio}

    def pure_forward(
        self, params: Params, buffers: dict[str, Array], x: Array, ctx: Context
    ) -> tuple[Array, dict[str, Any], dict[str, Array]]:
        if not ctx.train:
            return x * (1.0 - self.dropout_ratio), {}, buffers
        per_sample = 1 if self.in_shape is None else len(self.in_shape)
        shape = tuple(x.shape[x.ndim - per_sample - 1 :])  # (N, ...): broadcast over stacks
        mask = dropout_mask(ctx.key, shape, self.dropout_ratio, stream=ctx.stream, dtype=x.dtype)
        return x * mask, {"mask": mask}, buffers

    def pure_backward(
        self,
        params: Params,
        cache: dict[str, Any],
        dout: Array,
        ctx: Context,
        input_grad: bool = True,
    ) -> tuple[Array | None, Params]:
        return dout * cache["mask"], {}

    def forward(self, x: Array, train_flg: bool = True, *, mask: Array | None = None) -> Array:
        """The book's forward: a new mask from the layer's own key (or `mask`) when training."""
        if not train_flg:
            return x * (1.0 - self.dropout_ratio)
        if mask is None:
            if self.key is None:
                self.key = new_key(self.seed, backend=library_of(x), device=device(x))
            self.key = advance_key(self.key)
            mask = dropout_mask(self.key, tuple(x.shape), self.dropout_ratio, dtype=x.dtype)
        self.mask = mask
        return x * mask

    def backward(self, dout: Array, *, input_grad: bool = True) -> Array:
        return dout * self.mask
