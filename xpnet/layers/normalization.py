"""Normalisation layers: BatchNormalization (the book's) and LayerNorm.

Each computes ``gamma * (x - mu) / sqrt(var + eps) + beta``; they differ in
what ``mu`` and ``var`` are taken over. Each registers a name in
:data:`~xpnet.layers.NORMALIZATIONS` ("batch", "layer"), which
``MultiLayerNetExtend(normalization=...)`` and ``xpnet train --normalization``
take.

Examples
--------
>>> import numpy as np
>>> bn = BatchNormalization(np.ones(2), np.zeros(2))
>>> bn.forward(np.array([[1.0, 2.0], [3.0, 6.0]])).round(3)
array([[-1., -1.],
       [ 1.,  1.]])
>>> bn.running_mean
array([0.2, 0.4])
"""

from __future__ import annotations

import math
from typing import Any

from .._typing import Array, Namespace, Params
from .._validation import bounded_float, positive_float
from ..backend import Backend, device, namespace
from ..errors import XpnetTypeError, XpnetValueError
from ._base import Context, Layer, Shape, array_attribute, vector

__all__ = ["BN_EPS", "BatchNormalization", "LayerNorm"]

#: The book's guard in batch normalisation's square root (``10e-7``).
BN_EPS = 1e-6


class _Normalization(Layer):
    """Scale and shift per feature (``gamma``, ``beta``), inputs flattened per sample."""

    param_names = ("gamma", "beta")

    def __init__(self, gamma: Array = None, beta: Array = None, *, xp: Namespace | None = None):
        super().__init__(xp=xp)
        if (gamma is None) != (beta is None):
            raise XpnetTypeError(
                "`gamma` and `beta` must be given together (arrays of one shape), or neither "
                f"(in a network). Received: gamma={type(gamma).__name__}, "
                f"beta={type(beta).__name__}."
            )
        if gamma is not None:
            self.params = {"gamma": gamma, "beta": beta}

    gamma, beta = array_attribute("gamma"), array_attribute("beta")

    def param_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        return {"gamma": (math.prod(in_shape),), "beta": (math.prod(in_shape),)}

    def init(
        self,
        in_shape: Shape,
        rng: Any,
        *,
        weight_init_std: float | str,
        backend: Backend,
        dtype: Any,
    ) -> tuple[Params, dict[str, Array]]:
        xp, n, where = backend.xp, math.prod(in_shape), backend.device
        # Every array its own: eager training updates parameters in place.
        params = {
            "gamma": xp.ones(n, dtype=dtype, device=where),
            "beta": xp.zeros(n, dtype=dtype, device=where),
        }
        buffers = {
            name: (xp.ones if name.endswith("var") else xp.zeros)(n, dtype=dtype, device=where)
            for name in self.buffer_names
        }
        return params, buffers

    @staticmethod
    def _unflat(xp: Namespace, out: Array, shape: Shape | None) -> Array:
        """`out` back in the input's `shape`, where :meth:`flat` flattened it (else None)."""
        return out if shape is None else xp.reshape(out, shape)


class BatchNormalization(_Normalization):
    """Batch normalisation (Ioffe and Szegedy, 2015): ``gamma * (x - mu) / sqrt(var + eps) + beta``.

    In training mode ``mu`` and ``var`` are the batch's mean and variance over
    the samples, and the running statistics move towards them:
    ``running = momentum * running + (1 - momentum) * batch``. In test mode
    the running statistics are used. ``eps`` is the book's 1e-6.

    Parameters
    ----------
    gamma, beta : arrays of shape (D,), optional
        Scale and shift (``gammaN``, ``betaN`` of a network); a layer inside
        a network has none of its own.
    momentum : float
        In [0, 1).
    running_mean, running_var : arrays of shape (D,), optional
        The running statistics; zeros and ones when None. (The book starts
        the variance at zero; xpnet at one, as PyTorch and Keras do, so that
        test mode before any training normalises nothing.)

    Notes
    -----
    Inputs have shape (N, D) (images are flattened per sample); leading axes
    before those are independent batches (the batched numerical gradient
    stacks perturbed networks there). Nothing is modified in place.
    """

    buffer_names = ("running_mean", "running_var")
    normalization_name = "batch"

    def __init__(
        self,
        gamma: Array = None,
        beta: Array = None,
        momentum: float = 0.9,
        running_mean: Array | None = None,
        running_var: Array | None = None,
        *,
        xp: Namespace | None = None,
    ) -> None:
        super().__init__(gamma, beta, xp=xp)
        self.momentum = bounded_float(momentum, "momentum", 0.0, 1.0)
        for name, value in (("running_mean", running_mean), ("running_var", running_var)):
            if value is not None:
                self.buffers[name] = value

    running_mean = array_attribute("running_mean", "buffers")
    running_var = array_attribute("running_var", "buffers")

    def get_config(self) -> dict[str, Any]:
        return {"momentum": self.momentum}

    def buffer_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        return {name: (math.prod(in_shape),) for name in self.buffer_names}

    def forward(self, x: Array, train_flg: bool = True) -> Array:
        """The book's forward; running statistics start at 0 and 1 on the first call."""
        self._check_own_arrays()
        xp = self.xp or namespace(x, self.params["gamma"])
        n = math.prod(x.shape[1:])
        self.buffers.setdefault("running_mean", xp.zeros(n, dtype=x.dtype, device=device(x)))
        self.buffers.setdefault("running_var", xp.ones(n, dtype=x.dtype, device=device(x)))
        return super().forward(x, train_flg)

    def pure_forward(
        self, params: Params, buffers: dict[str, Array], x: Array, ctx: Context
    ) -> tuple[Array, dict[str, Any], dict[str, Array]]:
        xp = ctx.xp
        flat = self.flat(xp, x)
        shape = None if flat is x else tuple(x.shape)
        gamma, beta = vector(params["gamma"]), vector(params["beta"])
        if not ctx.train:
            xn = (flat - buffers["running_mean"]) / xp.sqrt(buffers["running_var"] + BN_EPS)
            return self._unflat(xp, gamma * xn + beta, shape), {}, buffers
        if flat.shape[-2] < 2:  # shapes are static: this holds under a compiler too
            raise XpnetValueError(
                "BatchNormalization needs more than one sample per batch when training: one "
                "sample's statistics normalise it to 0, and the network stops learning. "
                f"Received: a batch of {flat.shape[-2]}. Use batches of 2 or more, or LayerNorm "
                "(normalization='layer')."
            )
        mu = xp.mean(flat, axis=-2, keepdims=True)
        xc = flat - mu
        var = xp.mean(xc * xc, axis=-2, keepdims=True)
        std = xp.sqrt(var + BN_EPS)
        xn = xc / std
        m = self.momentum
        new = {
            "running_mean": m * buffers["running_mean"] + (1 - m) * xp.squeeze(mu, axis=-2),
            "running_var": m * buffers["running_var"] + (1 - m) * xp.squeeze(var, axis=-2),
        }
        cache = {"xc": xc, "std": std, "xn": xn, "input_shape": shape}
        return self._unflat(xp, gamma * xn + beta, shape), cache, new

    def pure_backward(
        self,
        params: Params,
        cache: dict[str, Any],
        dout: Array,
        ctx: Context,
        input_grad: bool = True,
    ) -> tuple[Array | None, Params]:
        """``dgamma``, ``dbeta`` and ``dx`` by the book's step-by-step chain rule."""
        xp, xc, std = ctx.xp, cache["xc"], cache["std"]
        dout = self.flat(xp, dout)
        n = dout.shape[-2]
        grads = {"gamma": xp.sum(cache["xn"] * dout, axis=-2), "beta": xp.sum(dout, axis=-2)}
        dxn = params["gamma"] * dout
        dxc = dxn / std
        dstd = -xp.sum((dxn * xc) / (std * std), axis=-2, keepdims=True)
        dvar = 0.5 * dstd / std
        dxc = dxc + (2.0 / n) * xc * dvar
        dmu = xp.sum(dxc, axis=-2, keepdims=True)
        return self._unflat(xp, dxc - dmu / n, cache["input_shape"]), grads


class LayerNorm(_Normalization):
    """Layer normalisation (Ba, Kiros and Hinton, 2016): each sample over its own features.

    ``gamma * (x - mu) / sqrt(var + eps) + beta`` with ``mu`` and ``var`` the
    mean and (biased) variance of one sample's D features: the same in
    training and test mode, no running statistics, any batch size.

    Parameters
    ----------
    gamma, beta : arrays of shape (D,), optional
        Scale and shift (``gammaN``, ``betaN`` inside a network).
    eps : float
        Added to the variance (1e-5, as PyTorch's ``nn.LayerNorm``).

    Examples
    --------
    >>> import numpy as np
    >>> ln = LayerNorm(np.ones(3), np.zeros(3))
    >>> ln.forward(np.array([[1.0, 2.0, 3.0]])).round(3)
    array([[-1.225,  0.   ,  1.225]])
    """

    normalization_name = "layer"

    def __init__(
        self, gamma: Array = None, beta: Array = None, *, eps: float = 1e-5, xp: Any = None
    ) -> None:
        super().__init__(gamma, beta, xp=xp)
        self.eps = positive_float(eps, "eps")

    def get_config(self) -> dict[str, Any]:
        return {"eps": self.eps}

    def pure_forward(
        self, params: Params, buffers: dict[str, Array], x: Array, ctx: Context
    ) -> tuple[Array, dict[str, Any], dict[str, Array]]:
        xp = ctx.xp
        flat = self.flat(xp, x)
        shape = None if flat is x else tuple(x.shape)
        xc = flat - xp.mean(flat, axis=-1, keepdims=True)
        std = xp.sqrt(xp.mean(xc * xc, axis=-1, keepdims=True) + self.eps)
        xn = xc / std
        out = vector(params["gamma"]) * xn + vector(params["beta"])
        return self._unflat(xp, out, shape), {"xn": xn, "std": std, "input_shape": shape}, buffers

    def pure_backward(
        self,
        params: Params,
        cache: dict[str, Any],
        dout: Array,
        ctx: Context,
        input_grad: bool = True,
    ) -> tuple[Array | None, Params]:
        """Per sample ``dx = (dxn - mean(dxn) - xn mean(dxn xn)) / std``, ``dxn = gamma dout``."""
        xp, xn = ctx.xp, cache["xn"]
        dout = self.flat(xp, dout)
        grads = {"gamma": xp.sum(xn * dout, axis=-2), "beta": xp.sum(dout, axis=-2)}
        dxn = params["gamma"] * dout
        centred = dxn - xp.mean(dxn, axis=-1, keepdims=True)
        dx = (centred - xn * xp.mean(dxn * xn, axis=-1, keepdims=True)) / cache["std"]
        return self._unflat(xp, dx, cache["input_shape"]), grads
