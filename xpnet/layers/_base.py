"""The Layer protocol: a layer declares its arrays; its forward and backward are pure.

A layer object holds only its settings (a width, a ratio, a stride). Its
arrays live outside it, in dicts the caller passes, so one object describes
the layer of any number of networks, and a compiler can trace it:

* ``param_shapes(in_shape)`` and ``buffer_shapes(in_shape)`` name the arrays
  for inputs of per-sample shape `in_shape`; ``output_shape(in_shape)``;
* ``init(in_shape, rng, *, weight_init_std, backend, dtype)`` draws them;
* ``pure_forward(params, buffers, x, ctx) -> (out, cache, buffers)``;
* ``pure_backward(params, cache, dout, ctx, input_grad=True) -> (dx, grads)``.

`ctx` (:class:`Context`) carries the namespace, the train flag and the
pass's random key. Nothing is modified in place: a forward returns new
buffers (batch normalisation's running statistics), a backward new arrays.

The book's stateful use is written once, here, on top of the pure pair:
``layer.forward(x)`` keeps the cache (its entries become attributes with the
book's names: ``layer.x``, ``layer.mask``, ``layer.out``), ``layer.backward(dout)``
returns ``dx`` and sets ``layer.dW``, ``layer.db``… for each parameter.

Every subclass registers itself by class name in :data:`LAYERS` (so a saved
:class:`~xpnet.nets.Sequential` is rebuilt from names), activations also in
:data:`ACTIVATIONS` and normalisation layers in :data:`NORMALIZATIONS`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

from .._typing import Array, Namespace, Params
from ..backend import Backend, namespace
from ..errors import XpnetValueError

__all__ = [
    "ACTIVATIONS", "LAYERS", "NORMALIZATIONS",
    "Context", "Layer", "Shape", "array_attribute", "vector",
]  # fmt: skip


def array_attribute(name: str, store: str = "params") -> property:
    """The book's attribute ``layer.<name>`` for the array `name` of the layer's `store`.

    Read and set, as the book's networks do when they load their parameters
    (``self.layers["Affine1"].W = self.params["W1"]``); a buffer not yet made
    reads as None.
    """

    def get(layer: Any) -> Any:
        arrays = getattr(layer, store)
        return arrays[name] if store == "params" else arrays.get(name)

    def set_(layer: Any, value: Any) -> None:
        getattr(layer, store)[name] = value

    return property(get, set_, doc=f"The layer's ``{store}[{name!r}]``.")


#: A per-sample shape: (784,) for a flat image, (1, 28, 28) for a channel of one.
Shape = tuple[int, ...]

#: Every layer class by name.
LAYERS: dict[str, type[Layer]] = {}
#: Activation layers by the name networks and the command line take ("sigmoid", "relu").
ACTIVATIONS: dict[str, type[Any]] = {}
#: Normalisation layers by name ("batch", "layer").
NORMALIZATIONS: dict[str, type[Layer]] = {}


class Context(NamedTuple):
    """What one pass through the layers shares.

    Attributes
    ----------
    xp : namespace
    train : bool
        Training mode (batch statistics, dropout) or test mode.
    key : array or None
        The pass's random key (:func:`xpnet.random.key_uniform`): dropout draws
        its mask from it.
    stream : int
        Which stream of `key` a layer draws from (its number in the network,
        so that two dropout layers draw different masks).
    """

    xp: Namespace
    train: bool = True
    key: Array | None = None
    stream: int = 0


def vector(value: Array) -> Array:
    """A per-feature parameter (M,), or stacked (B, M) -> (B, 1, M) to broadcast over samples.

    The batched numerical gradient stacks B perturbed copies of one
    parameter on a leading axis; the layers' outputs then have shape
    (B, N, M).
    """
    return value[..., None, :] if value.ndim > 1 else value


class Layer:
    """Base class of the layers: no parameters, no buffers, identity; the book's face.

    Subclasses override what they have: the shapes, :meth:`init`,
    :meth:`pure_forward`, :meth:`pure_backward` and :meth:`get_config`.

    Attributes
    ----------
    params, buffers : dict of arrays
        The arrays of a layer used on its own, the book's way (``Affine(W, b)``);
        empty for a layer that only describes part of a network.
    """

    #: Names of the parameters and buffers, without the network's numbering.
    param_names: ClassVar[tuple[str, ...]] = ()
    buffer_names: ClassVar[tuple[str, ...]] = ()
    #: The parameters that L2 weight decay applies to (weights, not biases or scales).
    decayed: ClassVar[tuple[str, ...]] = ()
    #: Whether the forward draws random numbers from ``ctx.key``.
    random: ClassVar[bool] = False
    #: Whether the layer starts a new number of the book's names (W1, W2, …).
    numbered: ClassVar[bool] = False
    #: Whether :meth:`pure_forward` broadcasts a parameter stacked on a leading axis.
    stackable: ClassVar[bool] = True
    #: Registry names (set by activation and normalisation layers).
    activation_name: ClassVar[str | None] = None
    normalization_name: ClassVar[str | None] = None

    params: Params
    buffers: dict[str, Array]
    xp: Namespace | None = None
    in_shape: Shape | None = None

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        # register=False: a variant of a registered layer under the same name (the
        # book's classes in xpnet.book), which must not replace it in the registries.
        super().__init_subclass__(**kwargs)
        if not register:
            return
        LAYERS[cls.__name__] = cls
        if cls.__dict__.get("activation_name"):
            ACTIVATIONS[cls.activation_name] = cls  # type: ignore[index]
        if cls.__dict__.get("normalization_name"):
            NORMALIZATIONS[cls.normalization_name] = cls  # type: ignore[index]

    def __init__(self, *, xp: Namespace | None = None) -> None:
        self.params, self.buffers, self.xp = {}, {}, xp

    # -- what the layer is -------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The settings that rebuild the layer (JSON-able): ``type(self)(**config)``."""
        return {}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({settings})"

    def build(self, in_shape: Shape) -> Shape:
        """Fix the per-sample input shape (a network does this once); return the output's."""
        self.in_shape = tuple(in_shape)
        return self.output_shape(self.in_shape)

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def flat(self, xp: Namespace, x: Array) -> Array:
        """`x` as (..., N, D), each sample's axes flattened (Affine's and the
        normalisations' view of images); unbuilt, as the book: all axes but the first."""
        if self.in_shape is None:
            return x if x.ndim == 2 else xp.reshape(x, (x.shape[0], -1))
        if len(self.in_shape) == 1:
            return x
        lead = x.ndim - len(self.in_shape)
        return xp.reshape(x, (*x.shape[:lead], math.prod(self.in_shape)))

    def param_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        return {}

    def workspace(self, in_shape: Shape) -> int:
        """Elements a pass holds per sample besides its output (im2col's rows): memory checks."""
        return 0

    def buffer_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        return {}

    def init(
        self,
        in_shape: Shape,
        rng: Any,
        *,
        weight_init_std: float | str,
        backend: Backend,
        dtype: Any,
    ) -> tuple[Params, dict[str, Array]]:
        """New parameters and buffers for inputs of `in_shape`, drawn from `rng` where random."""
        return {}, {}

    # -- the pure pair -----------------------------------------------------------------

    def pure_forward(
        self, params: Params, buffers: dict[str, Array], x: Array, ctx: Context
    ) -> tuple[Array, dict[str, Any], dict[str, Array]]:
        """The output, what the backward needs, and the buffers after this pass."""
        return x, {}, buffers

    def pure_backward(
        self,
        params: Params,
        cache: dict[str, Any],
        dout: Array,
        ctx: Context,
        input_grad: bool = True,
    ) -> tuple[Array | None, Params]:
        """The gradient of the input (None with ``input_grad=False``) and of each parameter."""
        return dout, {}

    # -- the book's face ---------------------------------------------------------------

    def forward(self, x: Array, train_flg: bool = True) -> Array:
        """The book's ``forward``: the output, keeping what :meth:`backward` needs."""
        self._check_own_arrays()
        ctx = Context(self.xp or namespace(x, *self.params.values()), train_flg)
        out, cache, self.buffers = self.pure_forward(self.params, self.buffers, x, ctx)
        self.__dict__.update(cache)  # the book's attributes: x, mask, out…
        self._state = (cache, ctx)
        return out

    def _check_own_arrays(self) -> None:
        """The book's face needs the layer's own arrays (a network's layers have none)."""
        missing = [name for name in self.param_names if name not in self.params]
        if missing:
            name, arrays = type(self).__name__, ", ".join(self.param_names)
            raise XpnetValueError(
                f"{name} used on its own needs its arrays: {name}({arrays}), as the book builds "
                f"it (in a network, the network holds them). Received: no {', '.join(missing)}."
            )

    def backward(self, dout: Array, *, input_grad: bool = True) -> Array | None:
        """The book's ``backward``: ``dx``, with ``d<name>`` set for every parameter.

        ``input_grad=False`` skips ``dx`` (None), which the first layer of a
        network has no use for.
        """
        if not hasattr(self, "_state"):
            raise XpnetValueError(
                f"{type(self).__name__}.backward() uses what forward() kept: call forward() first."
            )
        cache, ctx = self._state
        dx, grads = self.pure_backward(self.params, cache, dout, ctx, input_grad)
        for name, grad in grads.items():
            setattr(self, f"d{name}", grad)
        return dx
