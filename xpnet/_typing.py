"""Type aliases shared by the modules, and the protocol a trainable network follows.

Arrays, namespaces and devices come from five libraries with no common base
class, so they are typed as aliases of ``Any`` that say what is meant.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol, TypeAlias, runtime_checkable

__all__ = ["Array", "Buffered", "Device", "Namespace", "Params", "Trainable"]

#: An array of any array-API library (NumPy, CuPy, PyTorch, JAX, array-api-strict).
Array: TypeAlias = Any
#: An array-API namespace module (``array_api_compat.numpy``, ``jax.numpy``, …).
Namespace: TypeAlias = ModuleType
#: A library's own device object (``"cpu"``, ``torch.device``, ``jax.Device``, …).
Device: TypeAlias = Any
#: A network's parameters: names to arrays.
Params: TypeAlias = dict[str, Array]


@runtime_checkable
class Trainable(Protocol):
    """What :func:`xpnet.train` needs from a network.

    ``TwoLayerNet``, ``MultiLayerNet`` and ``MultiLayerNetExtend`` implement
    it; so can any network of your own.
    """

    #: Names to parameter arrays; training replaces the dict after every step.
    params: Params
    #: Where the parameters live (:class:`xpnet.Backend`).
    backend: Any
    #: The parameters' floating dtype (the backend's dtype object).
    dtype: Any
    #: Features per sample and number of classes.
    input_size: int
    output_size: int

    def loss_and_gradient(
        self, x: Array, t: Array, *, params: Params | None = None, check_input: bool = True
    ) -> tuple[Array, Params]:
        """The mini-batch loss (0-d array) and the gradient of every parameter."""
        ...

    def numerical_gradient(self, x: Array, t: Array) -> Params:
        """The gradient of the loss by central differences (``grad="numerical"``)."""
        ...

    def correct(
        self, x: Array, t: Array, *, params: Params | None = None, check_input: bool = True
    ) -> Array:
        """How many samples are classified correctly (a 0-d integer array), at `params` if given."""
        ...

    def get_config(self) -> dict[str, Any]:
        """JSON-able settings that rebuild the network's shape, its class name included."""
        ...

    @classmethod
    def state_spec(cls, config: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], str]]:
        """The arrays a saved network with `config` holds: name -> (shape, dtype name).

        Validates `config` without allocating anything, so a file can be
        checked before any of its arrays is read.
        """
        ...

    def state_arrays(self) -> Params:
        """Every array the network saves: parameters and any running statistics."""
        ...

    def set_state_arrays(self, arrays: dict[str, Any]) -> None:
        """Take host arrays matching :meth:`state_spec` as the network's state."""
        ...


@runtime_checkable
class Buffered(Protocol):
    """A trainable network with buffers: arrays it saves that no optimizer touches.

    BatchNormalization's running statistics and the dropout key of
    ``MultiLayerNetExtend`` are buffers. The training step carries them from
    one iteration to the next through the pure ``loss_gradient_buffers``.
    """

    #: Names to non-trainable arrays (included in ``state_arrays``).
    buffers: dict[str, Array]

    def loss_gradient_buffers(
        self,
        x: Array,
        t: Array,
        *,
        params: Params | None = None,
        buffers: dict[str, Array] | None = None,
        check_input: bool = True,
    ) -> tuple[Array, Params, dict[str, Array]]:
        """One training pass, purely: the loss, the gradients and the buffers after it."""
        ...

    def correct(
        self,
        x: Array,
        t: Array,
        *,
        params: Params | None = None,
        buffers: dict[str, Array] | None = None,
        check_input: bool = True,
    ) -> Array:
        """How many samples are classified correctly (test mode), at `params` and `buffers`."""
        ...
