"""TwoLayerNet: the chapter's network, on any backend.

``Affine -> sigmoid (or ReLU) -> Affine -> softmax``, a
:class:`~xpnet.nets.Sequential` with the book's signature. Parameters live in
a plain dict, ``net.params``; every pass reads the arrays from it, so
updating an entry in place (``params["W1"] -= ...``) and reassigning it
(``params["W1"] = W1 - ...``) both work (the book's chapter-5 network keeps
references in its layers and silently stops learning when entries are
reassigned).

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

from typing import Any

from .._typing import Array, Params
from .._validation import one_of, positive_int
from ..backend import Backend, dtype_name, resolve_backend, resolve_dtype
from ..functions import softmax
from ..layers import ACTIVATIONS, Affine, Layer
from ..numgrad import two_layer_numerical_gradient
from ._layout import check_dtype_name
from ._sequential import Sequential

__all__ = ["TwoLayerNet"]


class TwoLayerNet(Sequential):
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
        The hidden layer's activation (any name of :data:`xpnet.layers.ACTIVATIONS`).
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
        config = {
            "class": "TwoLayerNet",
            "input_size": input_size,
            "hidden_size": hidden_size,
            "output_size": output_size,
            "activation": activation,
            "dtype": dtype_name(resolve_dtype(b, dtype), xp=b.xp),
        }
        self._build(config, b, weight_init_std, seed)

    @classmethod
    def _checked_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        sizes = {
            k: positive_int(config.get(k), k) for k in ("input_size", "hidden_size", "output_size")
        }
        activation = one_of(config.get("activation"), "activation", tuple(ACTIVATIONS))
        dtype = check_dtype_name(config.get("dtype"))
        return {"class": "TwoLayerNet", **sizes, "activation": activation, "dtype": dtype}

    @classmethod
    def _layers_of(cls, config: dict[str, Any]) -> tuple[list[Layer], tuple[int, ...]]:
        layers = [
            Affine(units=config["hidden_size"]),
            ACTIVATIONS[config["activation"]](),
            Affine(units=config["output_size"]),
        ]
        return layers, (config["input_size"],)

    def _describe(self) -> None:
        c = self.config
        self.hidden_size, self.activation = c["hidden_size"], c["activation"]

    def _memory_label(self) -> tuple[str, str]:
        c = self.config
        sizes = f"{c['input_size']}, {c['hidden_size']}, {c['output_size']}"
        return (
            f"TwoLayerNet({sizes}) with {c['dtype']} parameters",
            "reduce `input_size`, `hidden_size` or `output_size`",
        )

    def __repr__(self) -> str:
        return (
            f"TwoLayerNet({self.input_size}, {self.hidden_size}, {self.output_size}, "
            f"activation={self.activation!r}, backend={self.backend.name!r}, "
            f"device={self.backend.device!r}, dtype={self.dtype!r})"
        )

    def predict(self, x: Array, train_flg: bool = False) -> Array:
        """Class probabilities, shape (N, output_size), as the chapter's ``predict``."""
        return softmax(super().predict(x, train_flg), xp=self.backend.xp)

    def numerical_gradient(  # type: ignore[override]
        self,
        x: Array,
        t: Array,
        *,
        params: Params | None = None,
        buffers: dict[str, Array] | None = None,
        h: float | None = None,
        weight_decay: float = 0.0,
        method: str = "structured",
    ) -> Params:
        """The gradient of :meth:`loss` by central differences, ``(L(p+h) - L(p-h)) / 2h``.

        Parameters
        ----------
        x, t
            A batch and its labels (or one-hot targets).
        params, buffers
            Where to take it (the network's own by default).
        h : float, optional
            The step; by default chosen for the dtype (:func:`xpnet.gradient.default_step`).
        weight_decay : float
            A run's L2 decay, whose exact gradient ``weight_decay * W`` is added.
        method : {"structured", "loop"}
            "loop" perturbs one parameter at a time and runs the whole forward
            pass twice for each, as the chapter does (some 159,000 passes for
            784-50-10). "structured" (the default) computes the same
            differences from one forward pass, reusing everything a
            perturbation leaves unchanged; the results agree up to
            floating-point rounding. See :mod:`xpnet.numgrad`.

        Notes
        -----
        Each loss evaluation sees the perturbed parameter as an argument, so
        both methods work on every backend, JAX included.
        """
        one_of(method, "method", ("structured", "loop"))
        return super().numerical_gradient(
            x, t, params=params, buffers=buffers, h=h, weight_decay=weight_decay, method=method
        )

    def _numerical(
        self,
        params: Params,
        buffers: dict[str, Array],
        x: Array,
        t: Array,
        h: float,
        *,
        method: str = "structured",
        **options: Any,
    ) -> Params:
        if method == "loop":
            return super()._numerical(params, buffers, x, t, h, batched=False)
        xp = self.backend.xp
        labels = xp.argmax(t, axis=1) if t.ndim == 2 else t
        return two_layer_numerical_gradient(xp, params, self._slots[1].layer, x, labels, h)
