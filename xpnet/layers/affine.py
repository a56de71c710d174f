"""Affine: ``out = x @ W + b``, the fully connected layer.

Examples
--------
The book's way, with arrays:

>>> import numpy as np
>>> layer = Affine(np.ones((3, 2)), np.zeros(2))
>>> layer.forward(np.ones((4, 3)))[0]
array([3., 3.])
>>> layer.backward(np.ones((4, 2))).shape, layer.dW.shape, layer.db.tolist()
((4, 3), (3, 2), [4.0, 4.0])

As part of a network, by its width: ``Affine(units=100)``.
"""

from __future__ import annotations

import math
from typing import Any

from .._typing import Array, Namespace, Params
from .._validation import positive_int
from ..backend import Backend
from ..errors import XpnetTypeError
from ._base import Context, Layer, Shape, array_attribute, vector
from ._init import weight_scale

__all__ = ["Affine"]


class Affine(Layer):
    """``out = x @ W + b`` for x of shape (N, D), or (N, ...) flattened to (N, D).

    Parameters
    ----------
    W, b : arrays of shape (D, M) and (M,), optional
        The book's layer, holding its arrays (``layer.W``, ``layer.b``).
    units : int, optional
        M, for a layer described without arrays (in a network, which makes
        them: W from N(0, std**2) for the network's weight scale, b zeros).
    xp : namespace, optional
        The arrays' namespace, when the caller knows it.
    """

    param_names = ("W", "b")
    decayed = ("W",)
    numbered = True

    def __init__(
        self,
        W: Array = None,
        b: Array = None,
        *,
        units: int | None = None,
        xp: Namespace | None = None,
    ) -> None:
        super().__init__(xp=xp)
        if isinstance(W, int) and not isinstance(W, bool):
            raise XpnetTypeError(
                f"`W` must be an array of shape (D, M). Received: {W!r}; for a layer of "
                f"{W} units inside a network, write Affine(units={W})."
            )
        if W is None:
            self.units = positive_int(units, "units")
        elif b is None:
            raise XpnetTypeError(
                f"`b` must be an array of shape ({W.shape[-1]},) beside `W`. Received: None."
            )
        else:
            self.units = int(W.shape[-1])
            self.params = {"W": W, "b": b}

    W, b = array_attribute("W"), array_attribute("b")

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units}

    def output_shape(self, in_shape: Shape) -> Shape:
        return (self.units,)

    def param_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        return {"W": (math.prod(in_shape), self.units), "b": (self.units,)}

    def init(
        self,
        in_shape: Shape,
        rng: Any,
        *,
        weight_init_std: float | str,
        backend: Backend,
        dtype: Any,
    ) -> tuple[Params, dict[str, Array]]:
        fan_in = math.prod(in_shape)
        std = weight_scale(weight_init_std, fan_in)
        W = rng.normal((fan_in, self.units), std, dtype=dtype, backend=backend)
        b = backend.xp.zeros(self.units, dtype=dtype, device=backend.device)
        return {"W": W, "b": b}, {}

    def pure_forward(
        self, params: Params, buffers: dict[str, Array], x: Array, ctx: Context
    ) -> tuple[Array, dict[str, Any], dict[str, Array]]:
        flat = self.flat(ctx.xp, x)
        out = flat @ params["W"] + vector(params["b"])
        shape = None if flat is x else tuple(x.shape)
        return out, {"x": flat, "original_x_shape": shape}, buffers

    def pure_backward(
        self,
        params: Params,
        cache: dict[str, Any],
        dout: Array,
        ctx: Context,
        input_grad: bool = True,
    ) -> tuple[Array | None, Params]:
        """``dW = x.T @ dout``, ``db = sum(dout)``, ``dx = dout @ W.T`` (in the input's shape).

        The first layer of a network has no use for ``dx``, the largest of
        the three products; ``input_grad=False`` skips it.
        """
        xp, shape = ctx.xp, cache["original_x_shape"]
        grads = {"W": cache["x"].T @ dout, "b": xp.sum(dout, axis=0)}  # 2-D: .T is standard
        if not input_grad:
            return None, grads
        dx = dout @ params["W"].T
        return dx if shape is None else xp.reshape(dx, shape), grads
