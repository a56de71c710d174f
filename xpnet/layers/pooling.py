"""Pooling (chapter 7): max pooling over windows, by im2col, for every backend.

Each window becomes a row (:func:`~xpnet.layers.convolution.im2col`); the
output is its maximum and the backward sends the gradient to the window's
first maximum (the book's ``argmax``). Where a library has its own max
pooling, the registry offers it as the native ``"max_pool2d"``.

Examples
--------
>>> import numpy as np
>>> pool = Pooling(2, 2, stride=2)
>>> x = np.arange(16.0).reshape(1, 1, 4, 4)
>>> pool.forward(x)
array([[[[ 5.,  7.],
         [13., 15.]]]])
>>> pool.backward(np.ones((1, 1, 2, 2)))[0, 0]
array([[0., 0., 0., 0.],
       [0., 1., 0., 1.],
       [0., 0., 0., 0.],
       [0., 1., 0., 1.]])
"""

from __future__ import annotations

from typing import Any

from .._typing import Array, Params
from .._validation import non_negative_int, positive_int
from ..backend import device, native
from ._base import Context, Layer, Shape
from .convolution import col2im, im2col, window_output

__all__ = ["Pooling"]


class Pooling(Layer):
    """Max pooling: each ``pool_h x pool_w`` window of every channel becomes its maximum.

    Parameters
    ----------
    pool_h, pool_w : int
        The window.
    stride : int
        The step between windows (2x2 pooling is usually ``stride=2``, the
        default in the book's repository, which :mod:`xpnet.book`'s
        ``Pooling`` keeps).
    pad : int
        The zeros added on each side.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: int = 1, pad: int = 0) -> None:
        super().__init__()
        self.pool_h, self.pool_w = positive_int(pool_h, "pool_h"), positive_int(pool_w, "pool_w")
        self.stride, self.pad = positive_int(stride, "stride"), non_negative_int(pad, "pad")

    def get_config(self) -> dict[str, Any]:
        return {"pool_h": self.pool_h, "pool_w": self.pool_w, "stride": self.stride,
                "pad": self.pad}  # fmt: skip

    def output_shape(self, in_shape: Shape) -> Shape:
        out = window_output("Pooling", in_shape, (self.pool_h, self.pool_w), self.stride, self.pad)
        return (in_shape[0], *out)  # checked above: (C, H, W)

    def workspace(self, in_shape: Shape) -> int:
        c, out_h, out_w = self.output_shape(in_shape)
        return c * out_h * out_w * self.pool_h * self.pool_w

    def pure_forward(
        self, params: Params, buffers: dict[str, Array], x: Array, ctx: Context
    ) -> tuple[Array, dict[str, Any], dict[str, Array]]:
        xp = ctx.xp
        own = native(xp, "max_pool2d")
        window = (self.pool_h, self.pool_w, self.stride, self.pad)
        pooled = None if own is None else own(x, *window)  # None: the library's would differ
        if pooled is not None:
            return pooled[0], {"x": x, "native": pooled[1]}, buffers
        n, c, _, _ = x.shape
        _, out_h, out_w = self.output_shape(tuple(x.shape[1:]))
        col = xp.reshape(im2col(x, *window), (-1, self.pool_h * self.pool_w))
        arg_max = xp.argmax(col, axis=1)
        out = xp.reshape(xp.max(col, axis=1), (n, out_h, out_w, c))
        return xp.permute_dims(out, (0, 3, 1, 2)), {"x": x, "arg_max": arg_max}, buffers

    def pure_backward(
        self,
        params: Params,
        cache: dict[str, Any],
        dout: Array,
        ctx: Context,
        input_grad: bool = True,
    ) -> tuple[Array | None, Params]:
        xp, x = ctx.xp, cache["x"]
        window = (self.pool_h, self.pool_w, self.stride, self.pad)
        if "native" in cache:
            backward: Any = native(xp, "max_pool2d_backward")  # comes with the forward
            return backward(x, dout, cache["native"], *window), {}
        size = self.pool_h * self.pool_w
        flat = xp.reshape(xp.permute_dims(dout, (0, 2, 3, 1)), (-1,))
        slots = xp.arange(size, dtype=cache["arg_max"].dtype, device=device(flat))
        # The gradient goes to each window's first maximum, as the book's argmax does.
        dmax = xp.where(slots == cache["arg_max"][:, None], flat[:, None], 0)
        rows = dout.shape[0] * dout.shape[2] * dout.shape[3]  # N * OH * OW
        dcol = xp.reshape(dmax, (rows, x.shape[1] * size))
        return col2im(dcol, tuple(x.shape), *window), {}
