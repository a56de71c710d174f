"""SimpleNet: the chapter's one-layer example for the numerical gradient."""

from __future__ import annotations

from typing import Any

from .._typing import Array
from .._validation import shape_str
from ..backend import Backend, namespace, resolve_backend, resolve_dtype
from ..errors import XpnetValueError
from ..functions import cross_entropy_error, softmax
from ..random import default_rng

__all__ = ["SimpleNet"]


class SimpleNet:
    """The chapter's one-layer example: ``predict(x) = x @ W`` with W of shape (2, 3).

    Inputs `x` of another floating dtype are cast to W's, as Keras does.

    Parameters
    ----------
    W : array of shape (2, 3), optional
        Initial weights, used as given; when omitted they are drawn from
        N(0, 1) with `seed` on `backend` and `device`, in `dtype` (float32 by
        default, xpnet's default float dtype; the book's NumPy draws float64).

    Examples
    --------
    >>> import numpy as np
    >>> from xpnet import numerical_gradient
    >>> W = np.array([[0.47355232, 0.9977393, 0.84668094],
    ...               [0.85557411, 0.03563661, 0.69422093]])
    >>> net = SimpleNet(W)
    >>> x, t = np.array([0.6, 0.9]), np.array([0, 0, 1.0])
    >>> round(float(net.loss(x, t)), 4)
    0.9281
    >>> numerical_gradient(lambda w: net.loss(x, t), net.W).round(3)
    array([[ 0.219,  0.144, -0.363],
           [ 0.329,  0.215, -0.544]])
    """

    def __init__(
        self,
        W: Array = None,
        *,
        backend: str | Backend | None = None,
        device: Any = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        if W is None:
            b = resolve_backend(backend, device)
            W = default_rng(seed).normal((2, 3), dtype=resolve_dtype(b, dtype), backend=b)
        namespace(W)
        if tuple(W.shape) != (2, 3):
            raise XpnetValueError(f"`W` must have shape (2, 3). Received: W.shape={shape_str(W)}.")
        self.W = W

    def predict(self, x: Array) -> Array:
        """Scores ``x @ W``; a floating `x` of another dtype is cast to W's first."""
        xp = namespace(x, self.W)
        if x.dtype != self.W.dtype and xp.isdtype(x.dtype, "real floating"):
            x = xp.astype(x, self.W.dtype)
        return x @ self.W

    def loss(self, x: Array, t: Array) -> Array:
        """``cross_entropy_error(softmax(predict(x)), t)``."""
        return cross_entropy_error(softmax(self.predict(x)), t)
