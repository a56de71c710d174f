"""Type aliases shared by the modules, and the protocol a trainable network follows.

Arrays, namespaces and devices come from five libraries with no common base
class, so they are typed as aliases of ``Any`` that say what is meant.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol, TypeAlias, runtime_checkable

__all__ = ["Array", "Device", "Namespace", "Params", "Trainable"]

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

    Every network of :mod:`xpnet.nets` implements it (:class:`xpnet.nets.Network`);
    so can any network of your own. Buffers are arrays the network saves that
    no optimizer touches (batch normalisation's running statistics, the
    dropout key): an empty dict for most networks.
    """

    #: Names to parameter arrays; training replaces the dict after every step
    #: (eager steps on NumPy, CuPy and PyTorch update copies made at the start
    #: of the run in place: an array a caller holds never changes).
    params: Params
    #: Names to non-trainable arrays; training replaces the dict after every step.
    buffers: dict[str, Array]
    #: Where the parameters live (:class:`xpnet.Backend`).
    backend: Any
    #: The parameters' floating dtype (the backend's dtype object).
    dtype: Any
    #: Features per sample and number of classes.
    input_size: int
    output_size: int

    def loss_gradient_buffers(
        self,
        x: Array,
        t: Array,
        *,
        params: Params | None = None,
        buffers: dict[str, Array] | None = None,
        check_input: bool = True,
        weight_decay: float = 0.0,
    ) -> tuple[Array, Params, dict[str, Array]]:
        """One training pass, purely: the loss (0-d), the gradients and the buffers after it.

        `weight_decay` is L2 decay added to the network's own for this pass.
        """
        ...

    def numerical_gradient(
        self,
        x: Array,
        t: Array,
        *,
        params: Params | None = None,
        buffers: dict[str, Array] | None = None,
    ) -> Params:
        """The gradient of the loss by central differences (``grad="numerical"``)."""
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
        """How many samples are classified correctly (test mode): a 0-d integer array."""
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
        """Every array the network saves: parameters and buffers."""
        ...

    def set_state_arrays(self, arrays: dict[str, Any]) -> None:
        """Take host arrays matching :meth:`state_spec` as the network's state."""
        ...
