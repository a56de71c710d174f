"""The activation layers, each registered by the name networks take (``activation="relu"``).

Examples
--------
>>> import numpy as np
>>> sorted(ACTIVATIONS)
['relu', 'sigmoid']
>>> layer = Relu()
>>> layer.forward(np.array([-1.0, 2.0])), layer.backward(np.array([5.0, 5.0]))
(array([0., 2.]), array([0., 5.]))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._typing import Array, Namespace, Params
from ..backend import native
from ..functions import relu, sigmoid
from ._base import ACTIVATIONS, Context, Layer

__all__ = ["ACTIVATIONS", "Relu", "Sigmoid"]


class Activation(Layer):
    """An elementwise function: no parameters; :meth:`change` serves numerical gradients."""

    #: The function itself, ``f(x, /, *, xp=None)`` (:mod:`xpnet.functions`).
    function: Callable[..., Array]

    def change(self, xp: Namespace, a: Array, z: Array, v: Array) -> Array:
        """``f(a + v) - f(a)``, given ``z = f(a)``: how the output moves when its input does."""
        return self.function(a + v, xp=xp) - z


class Sigmoid(Activation):
    """``out = sigmoid(x)``; its derivative is ``out * (1 - out)``."""

    activation_name = "sigmoid"
    function = staticmethod(sigmoid)

    def pure_forward(
        self, params: Params, buffers: dict[str, Array], x: Array, ctx: Context
    ) -> tuple[Array, dict[str, Any], dict[str, Array]]:
        out = sigmoid(x, xp=ctx.xp)
        return out, {"out": out}, buffers

    def pure_backward(
        self,
        params: Params,
        cache: dict[str, Any],
        dout: Array,
        ctx: Context,
        input_grad: bool = True,
    ) -> tuple[Array | None, Params]:
        out = cache["out"]
        return dout * (1.0 - out) * out, {}

    def change(self, xp: Namespace, a: Array, z: Array, v: Array) -> Array:
        """``sigmoid(a + v) - z = -z (1 - z) e / (1 + (1 - z) e)`` with ``e = expm1(-v)``.

        No cancellation, and one ``expm1`` per input change instead of one
        sigmoid per change and unit.
        """
        e = xp.expm1(-v)
        return -z * (1 - z) * e / (1 + (1 - z) * e)


class Relu(Activation):
    """``out = max(x, 0)``; the gradient passes where ``x > 0``."""

    activation_name = "relu"
    function = staticmethod(relu)
    x: Array  # the last forward's input, for the book's face (``mask``)

    def pure_forward(
        self, params: Params, buffers: dict[str, Array], x: Array, ctx: Context
    ) -> tuple[Array, dict[str, Any], dict[str, Array]]:
        return relu(x, xp=ctx.xp), {"x": x}, buffers

    def pure_backward(
        self,
        params: Params,
        cache: dict[str, Any],
        dout: Array,
        ctx: Context,
        input_grad: bool = True,
    ) -> tuple[Array | None, Params]:
        """``dout`` where ``x > 0``, else 0 (one fused operation where the library has it).

        Portably a product with the mask: NumPy's ``where`` takes six times as
        long as the cast and the product here.
        """
        xp, x, own = ctx.xp, cache["x"], native(ctx.xp, "relu_backward")
        if own is not None:
            return own(dout, x), {}
        return dout * xp.astype(x > 0, dout.dtype), {}

    @property
    def mask(self) -> Array:
        """The book's attribute: where the last forward's input was positive."""
        return self.x > 0
