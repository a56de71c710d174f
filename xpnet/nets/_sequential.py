"""Sequential: a network from a list of layers, ending in softmax with cross-entropy.

From the layers alone it derives everything a network needs:

* the book's parameter names (:mod:`xpnet.nets._layout`: ``W1, b1, gamma1,
  beta1, W2, b2``…, and the buffer ``dropout_key`` from which every dropout
  layer draws its masks);
* the initial arrays, drawn in layer order from one seeded generator;
* the forward pass (test or training mode) and the backward pass;
* the numerical gradient: every perturbed copy of a parameter stacked on a
  leading axis and evaluated in one call (the batched engine of
  :func:`xpnet.numerical_gradient`), where every layer broadcasts so.

Examples
--------
>>> import numpy as np
>>> from xpnet.layers import Affine, Relu
>>> net = Sequential([Affine(units=8), Relu(), Affine(units=3)], (4,), seed=0, backend="numpy")
>>> sorted(net.params), net.output_size
(['W1', 'W2', 'b1', 'b2'], 3)
>>> net.predict(np.zeros((2, 4), dtype=np.float32)).shape
(2, 3)
"""

from __future__ import annotations

import math
from typing import Any

from .._typing import Array, Params
from .._validation import finite_float, positive_int
from ..backend import Backend, dtype_name, resolve_backend, resolve_dtype
from ..errors import XpnetTypeError, XpnetValueError
from ..functions import one_hot
from ..gradient import numerical_gradient
from ..layers import Context, Layer, check_weight_init
from ..random import advance_key, default_rng, new_key
from ._layout import KEY, array_spec, check_dtype_name, layer_from_config, layout
from ._network import Network
from ._state import Spec

__all__ = ["Sequential"]


class Sequential(Network):
    """A network of `layers` in order, then softmax with cross-entropy.

    Parameters
    ----------
    layers : list of Layer
        Described by their settings (``Affine(units=100)``, ``Relu()``,
        ``BatchNormalization()``, ``Dropout(0.5)``); the network makes their
        arrays. The last layer must output one score per class.
    input_shape : tuple of int
        One sample's shape: ``(784,)``, or ``(1, 28, 28)`` for images.
    weight_init_std : float or {"he", "relu", "xavier", "sigmoid"}
        Standard deviation of the initial weights, or the rule that gives it
        from a layer's fan-in (``sqrt(2 / n_in)`` for He).
    weight_decay_lambda : float
        L2 weight decay: ``0.5 * lambda * sum(W**2)`` over the weights is
        added to the loss (``lambda * W`` to their gradients).
    backend, device, dtype
        Where the arrays live; float32 by default.
    seed : int, optional
        Seed of the initial weights (and of the dropout key): the same seed
        gives the same network on every backend.
    """

    def __init__(
        self,
        layers: list[Layer],
        input_shape: tuple[int, ...],
        *,
        weight_init_std: float | str = "he",
        weight_decay_lambda: float = 0.0,
        backend: str | Backend | None = None,
        device: Any = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        b = resolve_backend(backend, device)
        if not isinstance(layers, list | tuple) or not layers:
            raise XpnetTypeError(
                "`layers` must be a non-empty list of layers, such as [Affine(units=100), "
                f"Relu(), Affine(units=10)]. Received: {layers!r}."
            )
        if not isinstance(input_shape, list | tuple):
            raise XpnetTypeError(
                "`input_shape` must be a tuple of ints, one sample's shape: (784,) or "
                f"(1, 28, 28). Received: {input_shape!r}."
            )
        for layer in layers:
            if not isinstance(layer, Layer) or layer.params:
                raise XpnetTypeError(
                    "`layers` must be layers described by their settings, such as "
                    f"Affine(units=100): the network makes their arrays. Received: {layer!r}."
                )
        config = {
            "class": "Sequential",
            "input_shape": [positive_int(n, "input_shape") for n in input_shape],
            "layers": [{"class": type(layer).__name__, **layer.get_config()} for layer in layers],
            "weight_decay_lambda": weight_decay_lambda,
            "dtype": dtype_name(resolve_dtype(b, dtype), xp=b.xp),
        }
        self._build(config, b, weight_init_std, seed)

    # -- what a subclass with the book's signature overrides ---------------------------------

    @classmethod
    def _checked_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """`config` checked, with its values normalised (what ``get_config`` returns)."""
        shape = config.get("input_shape")
        layers = config.get("layers")
        if not isinstance(shape, list | tuple) or not isinstance(layers, list) or not layers:
            raise XpnetValueError(
                "A Sequential network's config needs `input_shape` (a list of ints) and `layers` "
                f"(a non-empty list). Received: {config!r}."
            )
        decay = finite_float(config.get("weight_decay_lambda", 0.0), "weight_decay_lambda")
        if decay < 0:
            raise XpnetValueError(f"`weight_decay_lambda` must be >= 0. Received: {decay!r}.")
        return {
            "class": cls.__name__,
            "input_shape": [positive_int(n, "input_shape") for n in shape],
            "layers": [dict(c) for c in layers],
            "weight_decay_lambda": decay,
            "dtype": check_dtype_name(config.get("dtype")),
        }

    @classmethod
    def _layers_of(cls, config: dict[str, Any]) -> tuple[list[Layer], tuple[int, ...]]:
        """The layers (fresh, unbuilt) and the per-sample input shape of a checked `config`."""
        return [layer_from_config(c) for c in config["layers"]], tuple(config["input_shape"])

    def _describe(self) -> None:
        """Set the book's attributes from :attr:`config` (sizes, options)."""

    # -- building -----------------------------------------------------------------------

    def _build(
        self, config: dict[str, Any], b: Backend, weight_init_std: float | str, seed: int | None
    ) -> None:
        """Check `config` and the memory its arrays need, then draw them."""
        self._setup(config, b)
        self.weight_init_std = check_weight_init(weight_init_std, self.config["dtype"], b)
        self._initialise(seed)

    def _setup(self, config: dict[str, Any], b: Backend) -> None:
        """Take a `config` as this network's shape; make no arrays."""
        self.config = config = type(self)._checked_config(config)
        layers, self.input_shape = type(self)._layers_of(config)
        self._slots, (self.output_size,) = layout(layers, self.input_shape)
        self.backend, self.dtype = b, resolve_dtype(b, config["dtype"])
        self.weight_decay_lambda = config.get("weight_decay_lambda", 0.0)
        self._random = any(slot.layer.random for slot in self._slots)
        self._stackable = all(slot.layer.stackable for slot in self._slots)
        spec = array_spec(self._slots, config["dtype"])
        owned = {name: slot for slot in self._slots for _, name in slot.params}
        self._param_names = tuple(name for name in spec if name in owned)  # the book's order
        self._decayed = tuple(
            name for slot in self._slots for local, name in slot.params
            if local in slot.layer.decayed
        )  # fmt: skip
        self._axes = {name: tuple(range(-len(spec[name][0]), 0)) for name in self._param_names}
        self._describe()
        self._check_memory(spec, *self._memory_label())

    @classmethod
    def from_config(cls, config: dict[str, Any], *, backend: Backend) -> Any:
        net = cls.__new__(cls)
        net.weight_init_std = 0.0
        net._setup(config, backend)
        net.params, net.buffers = {}, {}
        return net

    @classmethod
    def state_spec(cls, config: dict[str, Any]) -> Spec:
        """The arrays a network with `config` saves: name -> (shape, dtype name), none allocated."""
        config = cls._checked_config(config)
        layers, input_shape = cls._layers_of(config)
        return array_spec(layout(layers, input_shape)[0], config["dtype"])

    def _initialise(self, seed: int | None) -> None:
        """Weights from xpnet's host generator, in layer order; the dropout key's seed last."""
        rng, b = default_rng(seed), self.backend
        params: Params = {}
        buffers: dict[str, Array] = {}
        for slot in self._slots:
            p, s = slot.layer.init(
                slot.in_shape, rng, weight_init_std=self.weight_init_std, backend=b,
                dtype=self.dtype,
            )  # fmt: skip
            params.update({name: p[local] for local, name in slot.params})
            buffers.update({name: s[local] for local, name in slot.buffers})
        self.params = {name: params[name] for name in self._param_names}
        self.buffers = {
            name: buffers[name] for name in self.state_spec(self.config) if name in buffers
        }
        if self._random:
            seed_of_key = int(rng.integers(2**31 - 1, (1,), backend="numpy")[0])
            self.buffers[KEY] = new_key(seed_of_key, backend=b)

    def astype(self, dtype: Any) -> Any:
        """A copy of the network in another floating dtype (chapter 8's float16 inference).

        Examples
        --------
        >>> from xpnet.layers import Affine
        >>> net = Sequential([Affine(units=2)], (3,), seed=0, backend="numpy")
        >>> str(net.astype("float16").params["W1"].dtype)
        'float16'
        """
        name = dtype_name(resolve_dtype(self.backend, dtype), xp=self.backend.xp)
        copy = type(self).from_config({**self.get_config(), "dtype": name}, backend=self.backend)
        copy.set_state_arrays(self.state_arrays())  # cast on the way, as a file's arrays are
        return copy

    def activation_sizes(self) -> list[int]:
        """Elements of each layer's output for one sample (what a pass keeps per sample)."""
        return [
            math.prod(slot.layer.output_shape(slot.in_shape)) + slot.layer.workspace(slot.in_shape)
            for slot in self._slots
        ]

    def get_config(self) -> dict[str, Any]:
        """What rebuilds this network's shape (not its weights), JSON-able."""
        return dict(self.config)

    def _memory_label(self) -> tuple[str, str]:
        """How a refusal for lack of memory names the network, and what to change."""
        return f"{self.config['class']} with {self.config['dtype']} arrays", "make it smaller"

    def __repr__(self) -> str:
        c = self.get_config()
        shown = ", ".join(f"{k}={v!r}" for k, v in c.items() if k not in ("class", "dtype"))
        return (
            f"{c['class']}({shown}, backend={self.backend.name!r}, "
            f"device={self.backend.device!r}, dtype={self.dtype!r})"
        )

    # -- the passes ---------------------------------------------------------------------

    def _forward(
        self, params: Params, buffers: dict[str, Array], x: Array, *, train: bool, advance: bool
    ) -> tuple[Array, list[Any], dict[str, Array]]:
        new_buffers, key = buffers, None
        if train and self._random:
            key = buffers[KEY]
            if advance:
                key = advance_key(key)
                new_buffers = {**buffers, KEY: key}
        ctx = Context(self.backend.xp, train, key)
        caches = []
        out = x
        for slot in self._slots:
            layer = slot.layer
            p = {local: params[name] for local, name in slot.params}
            b = {local: buffers[name] for local, name in slot.buffers}
            out, cache, after = layer.pure_forward(
                p, b, out, ctx._replace(stream=slot.stream) if layer.random else ctx
            )
            caches.append(cache)
            if after is not b:
                if new_buffers is buffers:
                    new_buffers = dict(buffers)
                new_buffers.update({name: after[local] for local, name in slot.buffers})
        return out, caches, new_buffers

    def _backward(self, params: Params, caches: Any, dout: Array) -> Params:
        ctx = Context(self.backend.xp, True)
        grads: Params = {}
        for i in range(len(self._slots) - 1, -1, -1):
            slot = self._slots[i]
            p = {local: params[name] for local, name in slot.params}
            dout, g = slot.layer.pure_backward(p, caches[i], dout, ctx, i > 0)
            grads.update({name: g[local] for local, name in slot.params})
        return grads

    def _numerical(
        self,
        params: Params,
        buffers: dict[str, Array],
        x: Array,
        t: Array,
        h: float,
        *,
        batched: bool = True,
        **options: Any,
    ) -> Params:
        """Central differences of :meth:`_loss_at`; batched: a chunk of perturbations per call.

        The batched engine needs every layer to broadcast a parameter stacked
        on a leading axis; otherwise each perturbed copy is evaluated alone.
        """
        xp = self.backend.xp
        target = one_hot(t, self.output_size, dtype=self.dtype, xp=xp) if t.ndim == 1 else t
        grads = {}
        for name in params:

            def loss_at(value: Array, name: str = name) -> Array:
                return self._loss_at({**params, name: value}, buffers, x, target)

            grads[name] = numerical_gradient(
                loss_at, params[name], h=h, batched=batched and self._stackable
            )
        return grads
