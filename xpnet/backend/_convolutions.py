"""The libraries' own convolution and max pooling, as natives of the layers of chapter 7.

Each native has the meaning of the portable im2col path in
:mod:`xpnet.layers.convolution` and :mod:`xpnet.layers.pooling` (images
N x C x H x W, filters FN x C x FH x FW, cross-correlation, the book's zero
padding) and comes with its backward:

* ``conv2d(x, W, b, stride, pad) -> out``;
* ``conv2d_backward(x, W, dout, stride, pad, input_grad) -> (dx or None, dW, db)``;
* ``max_pool2d(x, pool_h, pool_w, stride, pad) -> (out, what the backward needs)``,
  or None where the library's pooling would differ (padding: theirs pads with
  -inf, the book's with zeros), which leaves the portable path;
* ``max_pool2d_backward(x, dout, saved, pool_h, pool_w, stride, pad) -> dx``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["jax_natives", "torch_natives"]


def torch_natives() -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch.nn import grad

    def conv2d_backward(x: Any, W: Any, dout: Any, stride: int, pad: int, input_grad: bool) -> Any:
        dW = grad.conv2d_weight(x, W.shape, dout, stride=stride, padding=pad)
        dx = grad.conv2d_input(x.shape, W, dout, stride=stride, padding=pad) if input_grad else None
        return dx, dW, torch.sum(dout, dim=(0, 2, 3))

    def max_pool2d(x: Any, pool_h: int, pool_w: int, stride: int, pad: int) -> Any:
        if pad:
            return None
        return F.max_pool2d(x, (pool_h, pool_w), stride, return_indices=True)

    def max_pool2d_backward(x: Any, dout: Any, indices: Any, pool_h: int, pool_w: int,
                            stride: int, pad: int) -> Any:  # fmt: skip
        return torch.ops.aten.max_pool2d_with_indices_backward(
            dout, x, [pool_h, pool_w], [stride, stride], [0, 0], [1, 1], False, indices
        )

    return {
        "conv2d": lambda x, W, b, stride, pad: F.conv2d(x, W, b, stride=stride, padding=pad),
        "conv2d_backward": conv2d_backward,
        "max_pool2d": max_pool2d,
        "max_pool2d_backward": max_pool2d_backward,
    }


def jax_natives() -> dict[str, Any]:
    import jax

    def conv(x: Any, W: Any, stride: int, pad: int) -> Any:
        return jax.lax.conv_general_dilated(
            x, W, (stride, stride), [(pad, pad), (pad, pad)],
            dimension_numbers=("NCHW", "OIHW", "NCHW"),
        )  # fmt: skip

    def conv2d_backward(x: Any, W: Any, dout: Any, stride: int, pad: int, input_grad: bool) -> Any:
        _, pullback = jax.vjp(lambda x, W: conv(x, W, stride, pad), x, W)
        dx, dW = pullback(dout)
        return (dx if input_grad else None), dW, jax.numpy.sum(dout, axis=(0, 2, 3))

    def pool(x: Any, pool_h: int, pool_w: int, stride: int) -> Any:
        return jax.lax.reduce_window(
            x, -jax.numpy.inf, jax.lax.max, (1, 1, pool_h, pool_w), (1, 1, stride, stride),
            "VALID",
        )  # fmt: skip

    def max_pool2d(x: Any, pool_h: int, pool_w: int, stride: int, pad: int) -> Any:
        return None if pad else (pool(x, pool_h, pool_w, stride), None)

    def max_pool2d_backward(x: Any, dout: Any, saved: Any, pool_h: int, pool_w: int,
                            stride: int, pad: int) -> Any:  # fmt: skip
        _, pullback = jax.vjp(lambda x: pool(x, pool_h, pool_w, stride), x)
        return pullback(dout)[0]

    return {
        "conv2d": lambda x, W, b, stride, pad: conv(x, W, stride, pad) + b[None, :, None, None],
        "conv2d_backward": conv2d_backward,
        "max_pool2d": max_pool2d,
        "max_pool2d_backward": max_pool2d_backward,
    }
