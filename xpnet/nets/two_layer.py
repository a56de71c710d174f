"""TwoLayerNet: the chapter's network, on any backend.

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

import math
import os
from collections.abc import Callable
from typing import Any

from .._typing import Array, Namespace, Params
from .._validation import check_xt, finite_float, one_of, positive_int
from ..backend import (
    Backend,
    asarray,
    cast_floating,
    check_memory,
    dtype_name,
    namespace,
    resolve_backend,
    resolve_dtype,
)
from ..checking import GradientCheckReport, check_network_gradient
from ..errors import XpnetTypeError
from ..functions import softmax
from ..gradient import default_step, numerical_gradient
from ..layers import Affine, Relu, Sigmoid, SoftmaxWithLoss
from ..numgrad import two_layer_numerical_gradient
from ..random import default_rng
from ._init import check_weight_init, weight_scale
from ._state import Spec, load_state, save_state

__all__ = ["TwoLayerNet"]

ACTIVATIONS: dict[str, Callable[..., Any]] = {"sigmoid": Sigmoid, "relu": Relu}
PARAM_NAMES = ("W1", "b1", "W2", "b2")
#: The dtypes a network may have: real floating.
FLOAT_DTYPES = ("float16", "float32", "float64")


class TwoLayerNet:
    """Affine -> sigmoid (or ReLU) -> Affine -> softmax, as in the chapter.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        Layer widths (784, 50, 10 for MNIST in the chapter).
    weight_init_std : float or {"xavier", "sigmoid", "he", "relu"}
        Weights are drawn from N(0, std**2) with std = weight_init_std, or
        sqrt(1 / n_in) ("xavier", "sigmoid") or sqrt(2 / n_in) ("he",
        "relu") for a layer with n_in inputs; biases start at 0.
    activation : {"sigmoid", "relu"}
        The hidden layer's activation.
    backend, device, dtype
        Where the parameters live; float32 by default (xpnet's default float
        dtype). Inputs of another floating dtype are cast to the network's.
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
        weight_init_std: float | str = 0.01,
        *,
        activation: str = "sigmoid",
        backend: str | Backend | None = None,
        device: Any = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        b = resolve_backend(backend, device)
        config: dict[str, Any] = {
            "class": "TwoLayerNet",
            "input_size": input_size,
            "hidden_size": hidden_size,
            "output_size": output_size,
            "activation": activation,
            "dtype": dtype_name(resolve_dtype(b, dtype), xp=b.xp),
        }
        self._configure(config, b)
        self.weight_init_std = check_weight_init(weight_init_std, config["dtype"], b)
        rng = default_rng(seed)
        sizes = (self.input_size, self.hidden_size, self.output_size)
        xp, dev = b.xp, b.device
        std1, std2 = (weight_scale(self.weight_init_std, n) for n in sizes[:2])
        self.params: Params = {
            "W1": rng.normal(sizes[:2], std1, dtype=self.dtype, backend=b),
            "b1": xp.zeros(sizes[1], dtype=self.dtype, device=dev),
            "W2": rng.normal(sizes[1:], std2, dtype=self.dtype, backend=b),
            "b2": xp.zeros(sizes[2], dtype=self.dtype, device=dev),
        }

    def _configure(self, config: dict[str, Any], b: Backend) -> None:
        """Set sizes, activation, backend and dtype from a checked `config`.

        Sizes whose parameters cannot fit in memory are refused here, before
        anything is allocated, with the bytes they would need.
        """
        spec = self.state_spec(config)
        itemsize = {"float16": 2, "float32": 4, "float64": 8}[config["dtype"]]
        sizes = [math.prod(shape) * itemsize for shape, _ in spec.values()]
        d, h, c = (config[k] for k in ("input_size", "hidden_size", "output_size"))
        check_memory(
            b, sizes, f"TwoLayerNet({d}, {h}, {c}) with {config['dtype']} parameters",
            hint="reduce `input_size`, `hidden_size` or `output_size`",
        )  # fmt: skip
        self.input_size = config["input_size"]
        self.hidden_size = config["hidden_size"]
        self.output_size = config["output_size"]
        self.activation = config["activation"]
        self.backend = b
        self.dtype = resolve_dtype(b, config["dtype"])

    def __repr__(self) -> str:
        return (
            f"TwoLayerNet({self.input_size}, {self.hidden_size}, {self.output_size}, "
            f"activation={self.activation!r}, backend={self.backend.name!r}, "
            f"device={self.backend.device!r}, dtype={self.dtype!r})"
        )

    # -- forward -------------------------------------------------------------

    def _layers(self, params: Params) -> list[Any]:
        # Inputs are checked by the public methods, so the layers skip the look-up.
        xp = self.backend.xp
        return [
            Affine(params["W1"], params["b1"], xp=xp),
            ACTIVATIONS[self.activation](xp=xp),
            Affine(params["W2"], params["b2"], xp=xp),
        ]

    def _scores(self, x: Array, params: Params | None = None) -> Array:
        out = x
        for layer in self._layers(self.params if params is None else params):
            out = layer.forward(out)
        return out

    def predict(self, x: Array) -> Array:
        """Class probabilities, shape (N, output_size), for inputs of shape (N, input_size)."""
        x = self._cast(x)
        xp = self._check_xt(x, None)
        return softmax(self._scores(x), xp=xp)

    def loss(self, x: Array, t: Array) -> Array:
        """Mean cross-entropy of ``predict(x)`` against labels or one-hot `t` (0-d array)."""
        x = self._cast(x)
        xp = self._check_xt(x, t)
        return SoftmaxWithLoss(xp=xp).forward(self._scores(x), t)

    def accuracy(self, x: Array, t: Array) -> float:
        """Fraction of samples whose most probable class is the label, as a Python float.

        `t` may be integer labels (N,) or one-hot (N, C); the book's version
        only works with one-hot. The count of hits is read back to the host
        (the value is exact: hits / N).
        """
        x = self._cast(x)
        self._check_xt(x, t)
        return int(self.correct(x, t, check_input=False)) / x.shape[0]

    def correct(
        self, x: Array, t: Array, *, params: Params | None = None, check_input: bool = True
    ) -> Array:
        """How many samples' most probable class is the label (a 0-d integer array).

        The count stays on the device: training adds nothing to read back,
        and compiles it with the step's compiler. `params` and `check_input`
        as in :meth:`loss_and_gradient`.
        """
        if check_input:
            x = self._cast(x)
            xp = self._check_xt(x, t)
        else:
            xp = self.backend.xp
        predicted = xp.argmax(self._scores(x, params), axis=1)
        labels = xp.argmax(t, axis=1) if t.ndim == 2 else t
        return xp.count_nonzero(predicted == xp.astype(labels, predicted.dtype))

    # -- gradients -----------------------------------------------------------

    def loss_and_gradient(
        self, x: Array, t: Array, *, params: Params | None = None, check_input: bool = True
    ) -> tuple[Array, Params]:
        """The loss and the gradient of every parameter, by backpropagation.

        A pure function of `params` (the network's own by default): nothing is
        changed. ``check_input=False`` skips validating `x` and `t` (the
        training loop checks its data once, not every mini-batch: checking
        label values reads back from the device), as scikit-learn's
        ``fit(check_input=)``.
        """
        if check_input:
            x = self._cast(x)
            self._check_xt(x, t)
        affine1, activation, affine2 = self._layers(self.params if params is None else params)
        last = SoftmaxWithLoss(xp=self.backend.xp)
        loss = last.forward(affine2.forward(activation.forward(affine1.forward(x))), t)
        affine1.backward(activation.backward(affine2.backward(last.backward())), input_grad=False)
        grads = {"W1": affine1.dW, "b1": affine1.db, "W2": affine2.dW, "b2": affine2.db}
        return loss, grads

    def gradient(self, x: Array, t: Array) -> Params:
        """The gradient of :meth:`loss` with respect to every parameter, by backpropagation."""
        return self.loss_and_gradient(x, t)[1]

    def numerical_gradient(
        self, x: Array, t: Array, *, method: str = "structured", h: float | None = None
    ) -> Params:
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
        x = self._cast(x)
        xp = self._check_xt(x, t)
        one_of(method, "method", ("structured", "loop"))
        step = default_step(xp, self.dtype) if h is None else finite_float(h, "h")
        if method == "structured":
            labels = xp.argmax(t, axis=1) if t.ndim == 2 else t
            return two_layer_numerical_gradient(xp, self.params, self.activation, x, labels, step)
        grads = {}
        for name in PARAM_NAMES:

            def loss_at(value: Array, name: str = name) -> Array:
                params = {**self.params, name: value}
                return SoftmaxWithLoss(xp=xp).forward(self._scores(x, params), t)

            grads[name] = numerical_gradient(loss_at, self.params[name], h=step)
        return grads

    def _cast(self, x: Array) -> Array:
        """A floating input of another dtype, cast to the network's (as Keras does)."""
        return cast_floating(x, self.backend.xp, self.dtype)

    def check_gradient(
        self, x: Array, t: Array, *, mode: str = "full", **options: Any
    ) -> GradientCheckReport:
        """Check :meth:`loss_and_gradient` against finite differences; raise if they differ.

        ``mode="full"`` compares every parameter with the structured numerical
        gradient; ``mode="fast"``, derivatives along random directions (2 loss
        evaluations each). `options` (``order``, ``h``, ``rtol``, ``atol``,
        ``directions``, ``seed``) and the report are those of
        :func:`xpnet.checking.check_network_gradient`, which any network can call.

        Raises
        ------
        xpnet.errors.GradientCheckError
            With the report (worst elements, both values) as its message.
        """
        xp = self._check_xt(x, t)

        def loss_at(params: Params) -> Array:  # the forward pass only
            return SoftmaxWithLoss(xp=xp).forward(self._scores(x, params), t)

        return check_network_gradient(self, x, t, mode=mode, loss=loss_at, **options)

    def _check_xt(self, x: Array, t: Array | None) -> Namespace:
        """Check a batch (and its targets, unless None) against the network; return `xp`."""
        xp = namespace(x, self.params["W1"]) if t is None else namespace(x, t, self.params["W1"])
        check_xt(
            xp, x, t, input_size=self.input_size, output_size=self.output_size, dtype=self.dtype
        )
        return xp

    # -- state: one format for networks and checkpoints ---------------------------

    def get_config(self) -> dict[str, Any]:
        """What rebuilds this network's shape: class, sizes, activation and dtype."""
        return {
            "class": "TwoLayerNet",
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "output_size": self.output_size,
            "activation": self.activation,
            "dtype": dtype_name(self.dtype, xp=self.backend.xp),
        }

    @classmethod
    def state_spec(cls, config: dict[str, Any]) -> Spec:
        """The arrays a TwoLayerNet with `config` saves: name -> (shape, dtype name).

        Checks `config` (sizes, activation, a real floating dtype) without
        allocating anything.
        """
        sizes = [
            positive_int(config.get(k), k) for k in ("input_size", "hidden_size", "output_size")
        ]
        one_of(config.get("activation"), "activation", tuple(ACTIVATIONS))
        dtype = config.get("dtype")
        if dtype not in FLOAT_DTYPES:
            raise XpnetTypeError(
                f"A network's dtype must be one of {', '.join(FLOAT_DTYPES)}. Received: {dtype!r}."
            )
        d, h, c = sizes
        return {
            "W1": ((d, h), dtype),
            "b1": ((h,), dtype),
            "W2": ((h, c), dtype),
            "b2": ((c,), dtype),
        }

    def state_arrays(self) -> Params:
        """The arrays :meth:`save` writes: the parameters."""
        return dict(self.params)

    def set_state_arrays(self, arrays: dict[str, Any]) -> None:
        """Take host arrays (checked against :meth:`state_spec`) as the parameters."""
        self.params = {
            name: asarray(arrays[name], dtype=self.dtype, backend=self.backend)
            for name in PARAM_NAMES
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the network to one ``.npz`` file, atomically (no pickle).

        An existing file at `path` is replaced, as the book's ``save`` does
        (training checkpoints, unlike this, are never replaced without
        ``overwrite=True``); a crash leaves the old file or the new one,
        never half of either. It loads on any backend with :meth:`load`.
        """
        save_state(path, self)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        backend: str | Backend | None = None,
        device: Any = None,
    ) -> TwoLayerNet:
        """Read a network written by :meth:`save` (or the network of a checkpoint).

        Everything is checked before a network is made: the declared
        architecture, each array's name, shape and dtype (from the file's
        headers, before reading data), and finite values.
        """
        state = load_state(path, cls)
        net = cls.__new__(cls)
        net._configure(state.meta["network"], resolve_backend(backend, device))
        net.weight_init_std = 0.0
        net.set_state_arrays(state.network)
        return net
