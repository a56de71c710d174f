"""Backpropagation layers: each forward sits next to its backward.

The chapter's Affine, Sigmoid, Relu and SoftmaxWithLoss, and chapter 6's
BatchNormalization and Dropout (whose masks come from a counter-based
generator that gives the same numbers on every backend). Layers never modify
their inputs or the upstream gradient (the book's ``Relu.backward`` writes
zeros into ``dout``), and use only standard array API operations, so they run
on every backend. A layer built with ``xp=``
trusts that namespace (a network that checked its inputs passes it);
otherwise every forward looks the namespace up from its input, and the
backward of that call reuses it.

Examples
--------
>>> import numpy as np
>>> layer = Affine(np.ones((3, 2)), np.zeros(2))
>>> layer.forward(np.ones((4, 3)))[0]
array([3., 3.])
>>> layer.backward(np.ones((4, 2))).shape, layer.dW.shape, layer.db.tolist()
((4, 3), (3, 2), [4.0, 4.0])
"""

from __future__ import annotations

from typing import Any

from ._typing import Array, Namespace
from ._validation import bounded_float
from .backend import device, library_of, namespace
from .functions import LOG_EPS, one_hot, relu, sigmoid, softmax
from .random import advance_key, key_uniform, new_key

__all__ = [
    "Affine",
    "BatchNormalization",
    "Dropout",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "dropout_mask",
]

#: The book's guard in batch normalisation's square root (``10e-7``).
BN_EPS = 1e-6


class Affine:
    """``out = x @ W + b`` for x of shape (N, D) (or (N, ...), flattened to (N, D)).

    Parameters
    ----------
    W, b : arrays of shape (D, M) and (M,)
    xp : namespace, optional
        The arrays' namespace, when the caller knows it (saves looking it up
        at every forward; the caller then vouches that inputs match).
    """

    def __init__(self, W: Array, b: Array, *, xp: Namespace | None = None) -> None:
        self.W, self.b = W, b
        self.xp = xp
        self.x: Any = None
        self.dW: Any = None
        self.db: Any = None

    def forward(self, x: Array) -> Array:
        xp = self._call_xp = self.xp or namespace(x, self.W)
        self._input_shape = tuple(x.shape)
        self.x = xp.reshape(x, (x.shape[0], -1))
        return self.x @ self.W + self.b

    def backward(self, dout: Array, *, input_grad: bool = True) -> Array | None:
        """Set ``dW`` and ``db``; return ``dx`` (None with ``input_grad=False``).

        The first layer of a network has no use for ``dx``, the largest of
        the three products; skipping it saves a third of the backward pass.
        """
        xp = self._call_xp
        self.dW = xp.matrix_transpose(self.x) @ dout
        self.db = xp.sum(dout, axis=0)
        if not input_grad:
            return None
        return xp.reshape(dout @ xp.matrix_transpose(self.W), self._input_shape)


class Sigmoid:
    """``out = sigmoid(x)``; its derivative is ``out * (1 - out)``."""

    def __init__(self, *, xp: Namespace | None = None) -> None:
        self.xp = xp
        self.out: Any = None

    def forward(self, x: Array) -> Array:
        self.out = sigmoid(x, xp=self.xp)
        return self.out

    def backward(self, dout: Array) -> Array:
        return dout * (1.0 - self.out) * self.out


class Relu:
    """``out = max(x, 0)``; the gradient passes where ``x > 0``."""

    def __init__(self, *, xp: Namespace | None = None) -> None:
        self.xp = xp
        self.mask: Any = None

    def forward(self, x: Array) -> Array:
        xp = self._call_xp = self.xp or namespace(x)
        self.mask = x > 0
        return relu(x, xp=xp)

    def backward(self, dout: Array) -> Array:
        xp = self._call_xp
        return xp.where(self.mask, dout, 0)


class SoftmaxWithLoss:
    """Softmax followed by cross-entropy, the network's output layer.

    ``forward(x, t)`` returns ``-mean(log(softmax(x)[t] + 1e-7))`` for integer
    labels `t` of shape (N,) or one-hot `t` of shape (N, C). ``backward``
    returns the exact derivative of that value, 1e-7 guard included:
    ``(y - t) * r / N`` with ``r = y_t / (y_t + 1e-7)`` per sample. The usual
    ``(y - t) / N`` differs from it by about ``1e-7 / y_t`` relative, which a
    float64 gradient check would see.
    """

    def __init__(self, *, xp: Namespace | None = None) -> None:
        self.xp = xp
        self.loss: Any = None
        self.y: Any = None
        self.t: Any = None

    def forward(self, x: Array, t: Array) -> Array:
        xp = self.xp or namespace(x, t)
        self.y = softmax(x, xp=xp)
        if t.ndim == x.ndim:
            self.t = xp.astype(t, x.dtype)
        else:
            self.t = one_hot(t, x.shape[-1], dtype=x.dtype, xp=xp)
        y_t = xp.sum(self.y * self.t, axis=-1)
        self._ratio = y_t / (y_t + LOG_EPS)
        self.loss = -xp.sum(xp.log(y_t + LOG_EPS)) / x.shape[0]
        return self.loss

    def backward(self, dout: Any = 1.0) -> Array:
        batch = self.y.shape[0]
        return (self.y - self.t) * (self._ratio[:, None] * (dout / batch))


class BatchNormalization:
    """Batch normalisation (Ioffe and Szegedy, 2015): ``gamma * (x - mu) / sqrt(var + eps) + beta``.

    In training mode (``train_flg=True``) ``mu`` and ``var`` are the batch's
    mean and variance over the samples, and the running statistics move
    towards them: ``running = momentum * running + (1 - momentum) * batch``.
    In test mode the running statistics are used. ``eps`` is the book's 1e-6.

    Parameters
    ----------
    gamma, beta : arrays of shape (D,)
        Scale and shift (parameters ``gammaN``, ``betaN`` of a network).
    momentum : float
        In [0, 1).
    running_mean, running_var : arrays of shape (D,), optional
        The running statistics; zeros and ones when None. (The book starts
        the variance at zero; xpnet at one, as PyTorch and Keras do, so that
        test mode before any training normalises nothing.)

    Notes
    -----
    Inputs have shape (N, D); any leading axes before those are independent
    batches (the batched numerical gradient stacks perturbed networks there).
    Nothing is modified in place: after a training forward,
    :attr:`running_mean` and :attr:`running_var` are new arrays.
    """

    def __init__(
        self,
        gamma: Array,
        beta: Array,
        momentum: float = 0.9,
        running_mean: Array | None = None,
        running_var: Array | None = None,
        *,
        xp: Namespace | None = None,
    ) -> None:
        self.gamma, self.beta = gamma, beta
        self.momentum = bounded_float(momentum, "momentum", 0.0, 1.0)
        self.running_mean, self.running_var = running_mean, running_var
        self.xp = xp
        self.dgamma: Any = None
        self.dbeta: Any = None

    def forward(self, x: Array, train_flg: bool = True) -> Array:
        xp = self._call_xp = self.xp or namespace(x, self.gamma)
        if self.running_mean is None:
            self.running_mean = xp.zeros(x.shape[-1], dtype=x.dtype, device=device(x))
        if self.running_var is None:
            self.running_var = xp.ones(x.shape[-1], dtype=x.dtype, device=device(x))
        if not train_flg:
            xn = (x - self.running_mean) / xp.sqrt(self.running_var + BN_EPS)
            return self.gamma * xn + self.beta
        mu = xp.mean(x, axis=-2, keepdims=True)
        self.xc = x - mu
        var = xp.mean(self.xc * self.xc, axis=-2, keepdims=True)
        self.std = xp.sqrt(var + BN_EPS)
        self.xn = self.xc / self.std
        m = self.momentum
        self.running_mean = m * self.running_mean + (1 - m) * xp.squeeze(mu, axis=-2)
        self.running_var = m * self.running_var + (1 - m) * xp.squeeze(var, axis=-2)
        return self.gamma * self.xn + self.beta

    def backward(self, dout: Array) -> Array:
        """Set ``dgamma`` and ``dbeta``; return ``dx`` (the book's step-by-step chain rule)."""
        xp = self._call_xp
        n = dout.shape[-2]
        self.dbeta = xp.sum(dout, axis=-2)
        self.dgamma = xp.sum(self.xn * dout, axis=-2)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -xp.sum((dxn * self.xc) / (self.std * self.std), axis=-2, keepdims=True)
        dvar = 0.5 * dstd / self.std
        dxc = dxc + (2.0 / n) * self.xc * dvar
        dmu = xp.sum(dxc, axis=-2, keepdims=True)
        return dxc - dmu / n


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


class Dropout:
    """Dropout (Srivastava et al., 2014), as in the book: training drops, testing scales.

    Training (``train_flg=True``) multiplies by a mask of 0s (probability
    `dropout_ratio`) and 1s; testing multiplies by ``1 - dropout_ratio``.

    Parameters
    ----------
    dropout_ratio : float
        The fraction of units dropped, in [0, 1).
    seed : int, optional
        Seed of the layer's masks: every training forward advances a key and
        draws the mask from it (:func:`dropout_mask`), the same on every
        backend. Networks pass their own masks instead (``mask=``).

    Examples
    --------
    >>> import numpy as np
    >>> layer = Dropout(0.5, seed=0)
    >>> out = layer.forward(np.ones((2, 4), dtype=np.float32))
    >>> bool(((out == 0) | (out == 1)).all()), layer.forward(np.ones(2), train_flg=False)
    (True, array([0.5, 0.5]))
    """

    def __init__(self, dropout_ratio: float = 0.5, *, seed: int | None = None) -> None:
        self.dropout_ratio = bounded_float(dropout_ratio, "dropout_ratio", 0.0, 1.0)
        self.seed = seed
        self.key: Any = None
        self.mask: Any = None

    def forward(self, x: Array, train_flg: bool = True, *, mask: Array | None = None) -> Array:
        if not train_flg:
            return x * (1.0 - self.dropout_ratio)
        if mask is None:
            if self.key is None:
                self.key = new_key(self.seed, backend=library_of(x), device=device(x))
            self.key = advance_key(self.key)
            mask = dropout_mask(self.key, tuple(x.shape), self.dropout_ratio, dtype=x.dtype)
        self.mask = mask
        return x * mask

    def backward(self, dout: Array) -> Array:
        return dout * self.mask
