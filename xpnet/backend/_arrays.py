"""Arrays on any backend: namespaces, devices, dtypes, and moving data to and from the host."""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from .._typing import Array, Device, Namespace
from ..errors import XpnetTypeError, XpnetValueError
from ._backends import Backend, resolve_backend
from ._dtypes import NEEDS_64BIT, lookup_dtype
from ._registry import LIBRARIES

__all__ = [
    "asarray",
    "device",
    "float64_available",
    "is_writeable",
    "library_of",
    "namespace",
    "resolve_dtype",
    "to_numpy",
]


def library_of(x: Any) -> str:
    """The backend name of array `x`'s library ('numpy', 'torch', …), or its type's module.

    Examples
    --------
    >>> import numpy as np
    >>> library_of(np.zeros(2))
    'numpy'
    """
    for name, lib in LIBRARIES.items():
        if lib.is_array(x):
            return name
    return f"{type(x).__module__}.{type(x).__qualname__}"


def namespace(*arrays: Array) -> Namespace:
    """The array API namespace shared by `arrays`, checking they share one device.

    Raises
    ------
    XpnetTypeError
        When an input is not an array, or the inputs come from two libraries.
    XpnetValueError
        When the inputs live on different devices.

    Examples
    --------
    >>> import numpy as np
    >>> namespace(np.zeros(2), np.ones(3)).__name__
    'array_api_compat.numpy'
    """
    try:
        xp = array_api_compat.array_namespace(*arrays)
    except TypeError:
        raise XpnetTypeError(_mixing_message(arrays)) from None
    if len(arrays) > 1:
        # A traced array (jax.grad, jax.jit) has no device (None): it matches any.
        found = (array_api_compat.device(a) for a in arrays)
        devices = {str(d): None for d in found if d is not None}
        if len(devices) > 1:
            raise XpnetValueError(
                f"Input arrays use different devices: {', '.join(devices)}. "
                "Move them to one device first."
            )
    return xp


def _mixing_message(arrays: tuple[Any, ...]) -> str:
    kinds = {library_of(a) if hasattr(a, "shape") else type(a).__name__: None for a in arrays}
    if any(not hasattr(a, "shape") for a in arrays):
        return (
            f"Expected arrays. Received: {', '.join(kinds)}. "
            "Convert Python lists and scalars with xpnet.asarray(...) first."
        )
    return (
        f"Expected arrays of one array library. Received arrays of {', '.join(kinds)}. "
        "Move data between libraries explicitly: xpnet.asarray(xpnet.to_numpy(x), backend=...)."
    )


def device(x: Array) -> Device:
    """The device `x` lives on, as its library's device object."""
    return array_api_compat.device(x)


def is_writeable(x: Array) -> bool:
    """Whether `x` may be changed in place (False for JAX and read-only views)."""
    return bool(array_api_compat.is_writeable_array(x))


def float64_available(b: Backend) -> bool:
    """Whether backend `b` can hold float64 (and other 64-bit) arrays on its device."""
    return b.library.has_float64(b.xp, b.device)


def resolve_dtype(b: Backend, dtype: Any = None, default: str = "float32") -> Any:
    """Turn a dtype name or object (None for `default`) into backend `b`'s dtype object.

    Raises XpnetTypeError for names the backend lacks, and for 64-bit dtypes
    on a device without them (JAX without ``JAX_ENABLE_X64=1``, for instance).

    Examples
    --------
    >>> resolve_dtype(resolve_backend("array_api_strict"), "float64")  # doctest: +SKIP
    array_api_strict.float64
    >>> resolve_dtype(resolve_backend("numpy"), "float64").__name__
    'float64'
    """
    name, obj = lookup_dtype(b.xp, default if dtype is None else dtype)
    if name in NEEDS_64BIT and not float64_available(b):
        hint = ": set JAX_ENABLE_X64=1 before starting Python." if b.name == "jax" else "."
        raise XpnetTypeError(f"Backend {b.name!r} on {b.device!r} has no {name}{hint}")
    return obj


def asarray(
    obj: Any, dtype: Any = None, *, backend: str | Backend | None = None, device: Any = None
) -> Array:
    """Put host data (lists, scalars, NumPy arrays) on a backend and device.

    Parameters
    ----------
    obj : array_like
        Host data. An array of another library is refused: move it with
        :func:`to_numpy` first, so that no copy between devices is hidden.
    dtype : str or dtype, optional
        ``"float32"``, ``"int64"``… or the backend's dtype object; None infers
        it like NumPy does (floats become float64 where the device has it).
    backend, device
        See :func:`resolve_backend`.

    Examples
    --------
    >>> x = asarray([[1, 2], [3, 4]], dtype="float64", backend="numpy")
    >>> x.dtype, x.shape
    (dtype('float64'), (2, 2))
    """
    b = resolve_backend(backend, device)
    if array_api_compat.is_array_api_obj(obj) and not isinstance(obj, np.ndarray | np.generic):
        if array_api_compat.array_namespace(obj) is b.xp and device is None:
            return obj if dtype is None else b.xp.astype(obj, resolve_dtype(b, dtype))
        raise XpnetTypeError(
            f"`obj` is already an array of {library_of(obj)} on {array_api_compat.device(obj)}, "
            f"not of {b.name} on {b.device}; convert it with xpnet.to_numpy(obj) first."
        )
    host = np.asarray(obj)
    if dtype is None and host.dtype == np.float64 and not float64_available(b):
        host = host.astype(np.float32)
    target = None if dtype is None else resolve_dtype(b, dtype)
    return b.xp.asarray(host, dtype=target, device=b.device)


def to_numpy(x: Array) -> np.ndarray:
    """Return `x` as a NumPy array on the host.

    A NumPy array comes back as it is (no copy); arrays of other libraries
    are copied, off the GPU where they live on one.

    Examples
    --------
    >>> to_numpy(asarray([1.5], backend="numpy"))
    array([1.5])
    """
    if isinstance(x, np.ndarray):
        return x
    for lib in LIBRARIES.values():
        if lib.is_array(x):
            return lib.to_host(x)
    return np.asarray(x)
