"""Convolution (chapter 7): im2col, col2im and the layer, written once for every backend.

``im2col`` unrolls every receptive field of a batch of images into a row, so
that a convolution becomes one matrix product; ``col2im`` adds the rows back
into images (the backward of ``im2col``). Both loop only over the filter's
offsets (25 for a 5x5 filter), as the book does, never over samples or
pixels: each offset is one strided slice of the whole batch.

Where a library has its own convolution (``torch.nn.functional.conv2d``,
``jax.lax.conv_general_dilated``), the backend registry offers it as the
native ``"conv2d"`` and the layer uses it; the im2col path stays the
reference, and the tests compare the two.

Examples
--------
>>> import numpy as np
>>> x = np.arange(16.0).reshape(1, 1, 4, 4)
>>> col = im2col(x, 2, 2, stride=2)
>>> col
array([[ 0.,  1.,  4.,  5.],
       [ 2.,  3.,  6.,  7.],
       [ 8.,  9., 12., 13.],
       [10., 11., 14., 15.]])
>>> bool((col2im(col, x.shape, 2, 2, stride=2) == x).all())
True
"""

from __future__ import annotations

import math
from typing import Any

import array_api_extra as xpx

from .._typing import Array, Namespace, Params
from .._validation import non_negative_int, positive_int
from ..backend import Backend, device, namespace, native
from ..errors import XpnetTypeError, XpnetValueError
from ._base import Context, Layer, Shape, array_attribute
from ._init import weight_scale

__all__ = ["Convolution", "col2im", "im2col", "output_size", "window_output"]


def output_size(size: int, filter_size: int, stride: int, pad: int) -> int:
    """The output length along one axis: ``(size + 2 pad - filter_size) // stride + 1``."""
    return (size + 2 * pad - filter_size) // stride + 1


def window_output(
    layer: str, in_shape: Shape, window: tuple[int, int], stride: int, pad: int
) -> tuple[int, int]:
    """``(OH, OW)`` of a `window` sliding over samples of shape (C, H, W), for `layer`.

    Raises
    ------
    xpnet.errors.XpnetValueError
        Naming `layer` when the samples are not images, or when the window
        does not fit them.
    """
    if len(in_shape) != 3:
        raise XpnetValueError(
            f"{layer} needs images of shape (C, H, W). Received: samples of shape "
            f"{tuple(in_shape)}; load MNIST with flatten=False."
        )
    _, h, w = in_shape
    out_h, out_w = output_size(h, window[0], stride, pad), output_size(w, window[1], stride, pad)
    if out_h < 1 or out_w < 1:
        raise XpnetValueError(
            f"{layer}: a {window[0]}x{window[1]} window does not fit {h}x{w} images "
            f"with pad={pad}. Received: input shape {tuple(in_shape)}."
        )
    return out_h, out_w


def im2col(input_data: Array, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> Array:
    """Images (N, C, H, W) -> rows (N * OH * OW, C * FH * FW), one per receptive field.

    The book's signature and layout: a row holds one output position's
    inputs, channel by channel, each a ``filter_h x filter_w`` patch.
    """
    xp = namespace(input_data)
    n, c, h, w = input_data.shape
    out_h, out_w = output_size(h, filter_h, stride, pad), output_size(w, filter_w, stride, pad)
    img = input_data if pad == 0 else xpx.pad(input_data, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    rows, cols = stride * (out_h - 1) + 1, stride * (out_w - 1) + 1  # spans of the slices
    patches = [
        img[:, :, y : y + rows : stride, x : x + cols : stride]
        for y in range(filter_h)
        for x in range(filter_w)
    ]
    col = xp.reshape(xp.stack(patches, axis=2), (n, c, filter_h, filter_w, out_h, out_w))
    col = xp.permute_dims(col, (0, 4, 5, 1, 2, 3))
    return xp.reshape(col, (n * out_h * out_w, c * filter_h * filter_w))


def col2im(
    col: Array,
    input_shape: tuple[int, ...],
    filter_h: int,
    filter_w: int,
    stride: int = 1,
    pad: int = 0,
) -> Array:
    """Rows (N * OH * OW, C * FH * FW) -> images (N, C, H, W), overlapping entries summed.

    The backward of :func:`im2col`. Each filter offset adds its slice into a
    fresh array (in place where the library allows it, functionally on JAX).
    """
    xp = namespace(col)
    n, c, h, w = input_shape
    out_h, out_w = output_size(h, filter_h, stride, pad), output_size(w, filter_w, stride, pad)
    col = xp.reshape(col, (n, out_h, out_w, c, filter_h, filter_w))
    col = xp.permute_dims(col, (0, 3, 4, 5, 1, 2))
    shape = (n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1)
    img = xp.zeros(shape, dtype=col.dtype, device=device(col))
    for y in range(filter_h):
        for x in range(filter_w):
            where = (
                slice(None),
                slice(None),
                slice(y, y + stride * (out_h - 1) + 1, stride),
                slice(x, x + stride * (out_w - 1) + 1, stride),
            )
            img = xpx.at(img, where).add(col[:, :, y, x, :, :], copy=None)  # img is ours
    return img[:, :, pad : h + pad, pad : w + pad]


def _pair(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, tuple | list) and len(value) == 2:
        return positive_int(value[0], name), positive_int(value[1], name)
    size = positive_int(value, name)
    return size, size


class Convolution(Layer):
    """A 2-D convolution: ``out[n, f] = sum_c W[f, c] * x[n, c] + b[f]`` (cross-correlation).

    Parameters
    ----------
    W, b : arrays of shape (FN, C, FH, FW) and (FN,), optional
        The book's layer, holding its arrays (``layer.W``, ``layer.b``).
    stride : int
        The step between receptive fields.
    pad : int
        The zeros added on each side.
    filters, size : int, optional
        FN and FH (= FW, or a pair), for a layer described without arrays
        (in a network, which draws W from N(0, std**2) for its weight scale,
        and sets b to zeros).

    Notes
    -----
    Inputs have shape (N, C, H, W), outputs (N, FN, OH, OW) with
    ``OH = (H + 2 pad - FH) // stride + 1``.
    """

    param_names = ("W", "b")
    decayed = ("W",)
    numbered = True
    stackable = False  # the batched numerical gradient evaluates conv nets one copy at a time

    def __init__(
        self,
        W: Array = None,
        b: Array = None,
        stride: int = 1,
        pad: int = 0,
        *,
        filters: int | None = None,
        size: Any = None,
        xp: Namespace | None = None,
    ) -> None:
        super().__init__(xp=xp)
        self.stride, self.pad = positive_int(stride, "stride"), non_negative_int(pad, "pad")
        if W is None:
            self.filters = positive_int(filters, "filters")
            self.size = _pair(size, "size")
            return
        if getattr(W, "ndim", None) != 4:
            raise XpnetTypeError(
                "`W` must be an array of shape (FN, C, FH, FW). Received: "
                f"{W!r}; for a layer inside a network, write Convolution(filters=FN, size=FH)."
            )
        self.filters, self.size = int(W.shape[0]), (int(W.shape[2]), int(W.shape[3]))
        self.params = {"W": W, "b": b}

    W, b = array_attribute("W"), array_attribute("b")

    def get_config(self) -> dict[str, Any]:
        return {"filters": self.filters, "size": list(self.size), "stride": self.stride,
                "pad": self.pad}  # fmt: skip

    def output_shape(self, in_shape: Shape) -> Shape:
        return (self.filters, *window_output("Convolution", in_shape, self.size, self.stride,
                                             self.pad))  # fmt: skip

    def workspace(self, in_shape: Shape) -> int:
        """Elements of the im2col rows of one sample (what the portable path also holds)."""
        _, out_h, out_w = self.output_shape(in_shape)
        return out_h * out_w * in_shape[0] * self.size[0] * self.size[1]

    def param_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        return {"W": (self.filters, in_shape[0], *self.size), "b": (self.filters,)}

    def init(
        self,
        in_shape: Shape,
        rng: Any,
        *,
        weight_init_std: float | str,
        backend: Backend,
        dtype: Any,
    ) -> tuple[Params, dict[str, Array]]:
        shape = self.param_shapes(in_shape)["W"]
        std = weight_scale(weight_init_std, math.prod(shape[1:]))  # fan-in: C * FH * FW
        W = rng.normal(shape, std, dtype=dtype, backend=backend)
        b = backend.xp.zeros(self.filters, dtype=dtype, device=backend.device)
        return {"W": W, "b": b}, {}

    def pure_forward(
        self, params: Params, buffers: dict[str, Array], x: Array, ctx: Context
    ) -> tuple[Array, dict[str, Any], dict[str, Array]]:
        xp, W, b = ctx.xp, params["W"], params["b"]
        own = native(xp, "conv2d")
        if own is not None:
            return own(x, W, b, self.stride, self.pad), {"x": x}, buffers
        fn, _, fh, fw = W.shape
        n = x.shape[0]
        _, out_h, out_w = self.output_shape(tuple(x.shape[1:]))
        col = im2col(x, fh, fw, self.stride, self.pad)
        col_W = xp.matrix_transpose(xp.reshape(W, (fn, -1)))
        out = xp.reshape(col @ col_W + b, (n, out_h, out_w, fn))
        return xp.permute_dims(out, (0, 3, 1, 2)), {"x": x, "col": col, "col_W": col_W}, buffers

    def pure_backward(
        self,
        params: Params,
        cache: dict[str, Any],
        dout: Array,
        ctx: Context,
        input_grad: bool = True,
    ) -> tuple[Array | None, Params]:
        xp, W, x = ctx.xp, params["W"], cache["x"]
        if "col" not in cache:  # the native forward: its own backward
            backward: Any = native(xp, "conv2d_backward")  # comes with the forward
            dx, dW, db = backward(x, W, dout, self.stride, self.pad, input_grad)
            return dx, {"W": dW, "b": db}
        fn, c, fh, fw = W.shape
        dout = xp.reshape(xp.permute_dims(dout, (0, 2, 3, 1)), (-1, fn))
        dW = xp.matrix_transpose(xp.matrix_transpose(cache["col"]) @ dout)
        grads = {"W": xp.reshape(dW, (fn, c, fh, fw)), "b": xp.sum(dout, axis=0)}
        if not input_grad:
            return None, grads
        dcol = dout @ xp.matrix_transpose(cache["col_W"])
        return col2im(dcol, tuple(x.shape), fh, fw, self.stride, self.pad), grads
