"""The chapter's networks: SimpleNet and TwoLayerNet, on any backend.

Parameters live in a plain dict, ``net.params``. Layers are built from that
dict at every call, so updating an entry in place (``params["W1"] -= ...``)
and reassigning it (``params["W1"] = W1 - ...``) both work; the book's
chapter-5 network keeps references in its layers and silently stops learning
when entries are reassigned.

Examples
--------
>>> import numpy as np
>>> net = TwoLayerNet(784, 50, 10, seed=0, backend="numpy")
>>> sorted(net.params), net.params["W1"].shape, str(net.params["W1"].dtype)
(['W1', 'W2', 'b1', 'b2'], (784, 50), 'float32')
>>> x = np.zeros((3, 784), dtype=np.float32)
>>> net.predict(x).shape
(3, 10)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from typing import Any

from ._checks import positive_int
from ._io import check_writable_path, load_npz, save_npz
from .backend import (
    Backend,
    asarray,
    dtype_name,
    namespace,
    resolve_backend,
    resolve_dtype,
    to_numpy,
)
from .functions import (
    _softmax,
    batch_cross_entropy,
    check_labels,
    cross_entropy_error,
    softmax,
)
from .gradient import default_step, numerical_gradient
from .layers import Affine, Relu, Sigmoid, SoftmaxWithLoss
from .numgrad import two_layer_numerical_gradient
from .random import default_rng

__all__ = ["SimpleNet", "TwoLayerNet"]

ACTIVATIONS: dict[str, Callable[..., Any]] = {"sigmoid": Sigmoid, "relu": Relu}
PARAM_NAMES = ("W1", "b1", "W2", "b2")
FORMAT_VERSION = 1


class SimpleNet:
    """The chapter's one-layer example: ``predict(x) = x @ W`` with W of shape (2, 3).

    Parameters
    ----------
    W : array of shape (2, 3), optional
        Initial weights, used as given; when omitted they are drawn from
        N(0, 1) with `seed` on `backend` and `device`, in `dtype` (float64 by
        default, like the book).

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
        W: Any = None,
        *,
        backend: str | Backend | None = None,
        device: Any = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        if W is None:
            b = resolve_backend(backend, device)
            W = default_rng(seed).normal(
                (2, 3), dtype=resolve_dtype(b, dtype, "float64"), backend=b
            )
        namespace(W)
        if tuple(W.shape) != (2, 3):
            raise ValueError(f"`W` must have shape (2, 3). Received: W.shape={tuple(W.shape)}.")
        self.W = W

    def predict(self, x: Any) -> Any:
        """Scores ``x @ W``."""
        return x @ self.W

    def loss(self, x: Any, t: Any) -> Any:
        """``cross_entropy_error(softmax(predict(x)), t)``."""
        return cross_entropy_error(softmax(self.predict(x)), t)


class TwoLayerNet:
    """Affine -> sigmoid (or ReLU) -> Affine -> softmax, as in the chapter.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        Layer widths (784, 50, 10 for MNIST in the chapter).
    weight_init_std : float
        Weights are drawn from N(0, weight_init_std**2); biases start at 0.
    activation : {"sigmoid", "relu"}
        The hidden layer's activation.
    backend, device, dtype
        Where the parameters live; float32 by default.
    seed : int, optional
        Seed for the initial weights: the same seed gives the same weights on
        every backend.

    Attributes
    ----------
    params : dict of arrays
        ``W1`` (input, hidden), ``b1`` (hidden,), ``W2`` (hidden, output),
        ``b2`` (output,).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        activation: str = "sigmoid",
        backend: str | Backend | None = None,
        device: Any = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        sizes = [
            positive_int(v, n)
            for v, n in (
                (input_size, "input_size"),
                (hidden_size, "hidden_size"),
                (output_size, "output_size"),
            )
        ]
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {sorted(ACTIVATIONS)}. Received: {activation!r}."
            )
        if not (isinstance(weight_init_std, int | float) and math.isfinite(weight_init_std)):
            raise ValueError(
                f"`weight_init_std` must be a finite number. Received: {weight_init_std!r}."
            )
        self.backend = resolve_backend(backend, device)
        self.dtype = resolve_dtype(self.backend, dtype)
        self.input_size, self.hidden_size, self.output_size = sizes
        self.activation = activation
        self.weight_init_std = float(weight_init_std)
        rng = default_rng(seed)
        xp, dev = self.backend.xp, self.backend.device
        self.params: dict[str, Any] = {
            "W1": rng.normal(
                (sizes[0], sizes[1]), weight_init_std, dtype=self.dtype, backend=self.backend
            ),
            "b1": xp.zeros(sizes[1], dtype=self.dtype, device=dev),
            "W2": rng.normal(
                (sizes[1], sizes[2]), weight_init_std, dtype=self.dtype, backend=self.backend
            ),
            "b2": xp.zeros(sizes[2], dtype=self.dtype, device=dev),
        }

    def __repr__(self) -> str:
        return (
            f"TwoLayerNet({self.input_size}, {self.hidden_size}, {self.output_size}, "
            f"activation={self.activation!r}, backend={self.backend.name!r}, "
            f"device={self.backend.device!r}, dtype={self.dtype!r})"
        )

    # -- forward -------------------------------------------------------------

    def _layers(self, params: dict[str, Any]) -> list[Any]:
        # Inputs are checked by the public methods, so the layers skip the look-up.
        xp = self.backend.xp
        return [
            Affine(params["W1"], params["b1"], xp=xp),
            ACTIVATIONS[self.activation](xp=xp),
            Affine(params["W2"], params["b2"], xp=xp),
        ]

    def _scores(self, x: Any, params: dict[str, Any] | None = None) -> Any:
        out = x
        for layer in self._layers(self.params if params is None else params):
            out = layer.forward(out)
        return out

    def predict(self, x: Any) -> Any:
        """Class probabilities, shape (N, output_size), for inputs of shape (N, input_size)."""
        self._check_x(x)
        return softmax(self._scores(x))

    def loss(self, x: Any, t: Any) -> Any:
        """Mean cross-entropy of ``predict(x)`` against labels or one-hot `t` (0-d array)."""
        xp = self._check_xt(x, t)
        return batch_cross_entropy(xp, _softmax(xp, self._scores(x)), t)

    def accuracy(self, x: Any, t: Any) -> Any:
        """Fraction of samples whose most probable class is the label (0-d array).

        `t` may be integer labels (N,) or one-hot (N, C); the book's version
        only works with one-hot.
        """
        xp = self._check_xt(x, t)
        predicted = xp.argmax(self._scores(x), axis=1)
        labels = xp.argmax(t, axis=1) if t.ndim == 2 else t
        hits = xp.astype(predicted == xp.astype(labels, predicted.dtype), self.dtype)
        return xp.mean(hits)

    # -- gradients -----------------------------------------------------------

    def loss_and_gradient(
        self, x: Any, t: Any, *, check_input: bool = True
    ) -> tuple[Any, dict[str, Any]]:
        """The loss and the gradient of every parameter, by backpropagation.

        ``check_input=False`` skips validating `x` and `t` (the training loop
        checks its data once, not every mini-batch: checking label values
        reads back from the device), as scikit-learn's ``fit(check_input=)``.
        """
        if check_input:
            self._check_xt(x, t)
        affine1, activation, affine2 = self._layers(self.params)
        last = SoftmaxWithLoss(xp=self.backend.xp)
        loss = last.forward(affine2.forward(activation.forward(affine1.forward(x))), t)
        affine1.backward(activation.backward(affine2.backward(last.backward())), input_grad=False)
        grads = {"W1": affine1.dW, "b1": affine1.db, "W2": affine2.dW, "b2": affine2.db}
        return loss, grads

    def gradient(self, x: Any, t: Any) -> dict[str, Any]:
        """The gradient of :meth:`loss` with respect to every parameter, by backpropagation."""
        return self.loss_and_gradient(x, t)[1]

    def numerical_gradient(
        self, x: Any, t: Any, *, method: str = "structured", h: float | None = None
    ) -> dict[str, Any]:
        """The gradient of :meth:`loss` by central differences, ``(L(p+h) - L(p-h)) / 2h``.

        Parameters
        ----------
        x, t
            A batch and its labels (or one-hot targets).
        method : {"structured", "loop"}
            "loop" perturbs one parameter at a time and runs the whole forward
            pass twice for each, as the chapter does (some 159,000 passes for
            784-50-10). "structured" (the default) computes the same
            differences from one forward pass, reusing everything a
            perturbation leaves unchanged; the results agree up to
            floating-point rounding. See :mod:`xpnet.numgrad`.
        h : float, optional
            The step; by default chosen for the dtype (:func:`xpnet.gradient.default_step`).

        Notes
        -----
        Each loss evaluation sees the perturbed parameter as an argument, so
        both methods work on every backend, JAX included.
        """
        xp = self._check_xt(x, t)
        step = default_step(xp, self.dtype) if h is None else float(h)
        if method == "structured":
            labels = xp.argmax(t, axis=1) if t.ndim == 2 else t
            return two_layer_numerical_gradient(xp, self.params, self.activation, x, labels, step)
        if method != "loop":
            raise ValueError(f"`method` must be 'structured' or 'loop'. Received: {method!r}.")
        grads = {}
        for name in PARAM_NAMES:

            def loss_at(value: Any, name: str = name) -> Any:
                params = {**self.params, name: value}
                return batch_cross_entropy(xp, _softmax(xp, self._scores(x, params)), t)

            grads[name] = numerical_gradient(loss_at, self.params[name], h=step)
        return grads

    # -- input checks --------------------------------------------------------

    def _check_x(self, x: Any) -> Any:
        xp = namespace(x, self.params["W1"])
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.input_size:
            raise ValueError(
                f"`x` must have shape (N, {self.input_size}). Received: x.shape={tuple(x.shape)}."
            )
        if x.dtype != self.dtype:
            raise TypeError(
                f"`x` must have the network's dtype {self.dtype}. Received: x.dtype={x.dtype}."
            )
        return xp

    def _check_xt(self, x: Any, t: Any) -> Any:
        xp = self._check_x(x)
        namespace(x, t)
        n, c = x.shape[0], self.output_size
        if n == 0:
            raise ValueError(
                "`x` is an empty batch: the loss and accuracy of 0 samples are undefined."
            )
        if tuple(t.shape) == (n, c):
            return xp
        if tuple(t.shape) != (n,):
            raise ValueError(
                f"`t` must be labels of shape ({n},) or one-hot of shape ({n}, {c}). "
                f"Received: t.shape={tuple(t.shape)}."
            )
        check_labels(t, c)
        return xp

    # -- saving --------------------------------------------------------------

    def architecture(self) -> dict[str, Any]:
        """What rebuilds this network's shape: sizes, activation and dtype."""
        return {
            "class": "TwoLayerNet",
            "format_version": FORMAT_VERSION,
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "output_size": self.output_size,
            "activation": self.activation,
            "dtype": dtype_name(self.params["W1"]),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the parameters and architecture to one ``.npz`` file, atomically.

        The file holds plain arrays and a JSON string (no pickle); it loads on
        any backend with :meth:`load`.
        """
        target = check_writable_path(path, "path")
        arrays: dict[str, Any] = {name: to_numpy(self.params[name]) for name in PARAM_NAMES}
        arrays["architecture"] = json.dumps(self.architecture())
        save_npz(target, arrays)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        backend: str | Backend | None = None,
        device: Any = None,
    ) -> TwoLayerNet:
        """Read a network written by :meth:`save`, onto `backend` and `device`."""
        return cls.from_arrays(load_npz(path), backend=backend, device=device, source=str(path))

    @classmethod
    def from_arrays(
        cls,
        arrays: dict[str, Any],
        *,
        backend: str | Backend | None = None,
        device: Any = None,
        source: str = "arrays",
    ) -> TwoLayerNet:
        """Rebuild a network from host arrays: ``architecture`` (JSON) and W1, b1, W2, b2.

        Everything is checked against the declared architecture before a
        network is made; a mismatch names the key and the shapes or dtypes.
        """
        arch = _read_architecture(arrays, source)
        net = cls(
            arch["input_size"],
            arch["hidden_size"],
            arch["output_size"],
            activation=arch["activation"],
            backend=backend,
            device=device,
            dtype=arch["dtype"],
        )
        expected = {name: (tuple(net.params[name].shape), arch["dtype"]) for name in PARAM_NAMES}
        extra = sorted(set(arrays) - set(PARAM_NAMES) - {"architecture"})
        missing = sorted(set(PARAM_NAMES) - set(arrays))
        if extra or missing:
            raise ValueError(
                f"{source}: expected arrays {list(PARAM_NAMES)}; "
                f"missing {missing}, unexpected {extra}."
            )
        for name, (shape, dtype) in expected.items():
            got = arrays[name]
            if got.shape != shape or got.dtype.name != dtype:
                raise ValueError(
                    f"{source}: `{name}` must be {dtype} of shape {shape} for the declared "
                    f"architecture. Received: {got.dtype.name} of shape {got.shape}."
                )
        net.params = {
            name: asarray(arrays[name], dtype=net.dtype, backend=net.backend)
            for name in PARAM_NAMES
        }
        return net


def _read_architecture(arrays: dict[str, Any], source: str) -> dict[str, Any]:
    try:
        arch = json.loads(str(arrays["architecture"]))
    except (KeyError, ValueError) as exc:
        raise ValueError(
            f"{source}: not an xpnet network file (no readable `architecture`: {exc})."
        ) from None
    required = {
        "class": str,
        "input_size": int,
        "hidden_size": int,
        "output_size": int,
        "activation": str,
        "dtype": str,
    }
    for key, kind in required.items():
        if not isinstance(arch.get(key), kind):
            raise ValueError(
                f"{source}: architecture field {key!r} must be {kind.__name__}. "
                f"Received: {arch.get(key)!r}."
            )
    if arch["class"] != "TwoLayerNet":
        raise ValueError(f"{source}: holds a {arch['class']!r}, not a TwoLayerNet.")
    if arch["dtype"] not in ("float32", "float64", "float16"):
        raise ValueError(f"{source}: unsupported dtype {arch['dtype']!r}.")
    return arch
