"""Arrays on any backend: namespaces, devices, dtypes, and moving data to and from the host."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import array_api_compat
import numpy as np

from .. import _memory
from .._typing import Array, Device, Namespace
from ..errors import XpnetError, XpnetTypeError, XpnetValueError
from ._backends import Backend, resolve_backend
from ._dtypes import NEEDS_64BIT, lookup_dtype
from ._library import plain_perturbation
from ._registry import LIBRARIES

__all__ = [
    "DEFAULT_FLOAT",
    "asarray",
    "backend_of",
    "cast_floating",
    "check_memory",
    "device",
    "float64_available",
    "float_warnings_off",
    "is_writeable",
    "library_of",
    "namespace",
    "perturbation",
    "read_only_reason",
    "resolve_dtype",
    "to_numpy",
]

#: xpnet's one default floating dtype: what everything that creates floating
#: arrays without being told a dtype makes (asarray of Python numbers,
#: xpnet.random, networks, load_mnist). Arrays that have a dtype keep it.
DEFAULT_FLOAT = "float32"


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


#: Array type -> its namespace. array_api_compat decides by type alone, in about 10 µs
#: a call: a training step asks dozens of times (each optimizer rule, each layer).
_BY_TYPE: dict[type, Namespace] = {}


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
    if len(arrays) == 1:
        xp = _BY_TYPE.get(type(arrays[0]))
        if xp is not None:
            return xp
    try:
        xp = array_api_compat.array_namespace(*arrays)
    except TypeError:
        raise XpnetTypeError(_mixing_message(arrays)) from None
    if len(arrays) == 1:
        _BY_TYPE[type(arrays[0])] = xp
    else:
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


def backend_of(x: Array) -> Backend:
    """The :class:`Backend` (library and device) array `x` lives on.

    Examples
    --------
    >>> import numpy as np
    >>> backend_of(np.zeros(2))
    Backend(name='numpy', device='cpu')
    """
    namespace(x)
    return resolve_backend(library_of(x), array_api_compat.device(x))


def perturbation(x: Array) -> AbstractContextManager[Array]:
    """A context in which `x` may be changed in place and restored without a trace.

    It yields the array to write into (PyTorch: ``x.data``, with autograd
    off, so a tensor that requires grad keeps ``requires_grad``, ``.grad``
    and its version counter). Used by :func:`xpnet.numerical_gradient`.
    """
    lib = LIBRARIES.get(library_of(x))
    return plain_perturbation(x) if lib is None else lib.perturbation(x)


def is_writeable(x: Array) -> bool:
    """Whether `x` may be changed in place (False for JAX and read-only views)."""
    return bool(array_api_compat.is_writeable_array(x))


def read_only_reason(x: Array) -> str:
    """Why `x` cannot be changed in place, in words for an error message.

    Examples
    --------
    >>> import numpy as np
    >>> read_only_reason(np.broadcast_to(np.zeros(1), (3,)))[:40]
    'it is a read-only NumPy array (flags.wri'
    """
    if array_api_compat.is_jax_array(x):
        return "it is a JAX array, and JAX arrays are immutable"
    if isinstance(x, np.ndarray):
        return (
            "it is a read-only NumPy array (flags.writeable is False: xpnet.to_numpy of a "
            "JAX array, np.broadcast_to and read-only memory maps give such arrays)"
        )
    return f"it is a read-only {library_of(x)} array"


def cast_floating(x: Any, xp: Namespace, dtype: Any) -> Any:
    """`x` in `dtype` when it is a real floating array of `xp` in another dtype; else `x` itself.

    Networks take floating inputs of any precision, as Keras does (float64
    data into a float32 network); anything else (another library, integers)
    is returned unchanged for their checks to refuse by name.

    Examples
    --------
    >>> import numpy as np
    >>> xp = namespace(asarray([1.0], backend="numpy"))
    >>> cast_floating(np.ones(2), xp, xp.float32).dtype
    dtype('float32')
    """
    try:
        same = namespace(x) is xp
    except XpnetError:  # not an array
        return x
    if same and x.dtype != dtype and xp.isdtype(x.dtype, "real floating"):
        return xp.astype(x, dtype)
    return x


def float64_available(b: Backend) -> bool:
    """Whether backend `b` can hold float64 (and other 64-bit) arrays on its device."""
    return b.library.has_float64(b.xp, b.device)


def resolve_dtype(b: Backend, dtype: Any = None, default: str = DEFAULT_FLOAT) -> Any:
    """Turn a dtype name or object (None for `default`) into backend `b`'s dtype object.

    Raises XpnetTypeError for names the backend lacks, and for 64-bit dtypes
    on a device without them (JAX with ``JAX_ENABLE_X64=0``, for instance).

    Examples
    --------
    >>> resolve_dtype(resolve_backend("array_api_strict"), "float64")  # doctest: +SKIP
    array_api_strict.float64
    >>> resolve_dtype(resolve_backend("numpy"), "float64").__name__
    'float64'
    """
    name, obj = lookup_dtype(b.xp, default if dtype is None else dtype)
    if name in NEEDS_64BIT and not float64_available(b):
        hint = (
            ": its 64-bit types are off (JAX_ENABLE_X64=0, or jax.config); xpnet turns them "
            "on when it loads JAX unless JAX_ENABLE_X64=0 is set."
            if b.name == "jax"
            else "."
        )
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
        ``"float32"``, ``"int64"``… or the backend's dtype object. None keeps
        the dtype of NumPy arrays and scalars (float64 becomes float32 on a
        device without float64), gives Python floats xpnet's default
        float32, and infers the rest like NumPy (Python ints: int64, bools).
    backend, device
        See :func:`resolve_backend`.

    Examples
    --------
    >>> x = asarray([[1, 2], [3, 4]], dtype="float64", backend="numpy")
    >>> x.dtype, x.shape
    (dtype('float64'), (2, 2))
    >>> asarray([0.5, 1.0], backend="numpy").dtype  # Python floats: xpnet's default
    dtype('float32')

    Data in the other byte order (``np.dtype(">f4")``, as some files store
    it) arrives in the machine's own, on every backend:

    >>> asarray(np.ones(2, dtype=">f4"), backend="numpy").dtype
    dtype('float32')
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
    if not host.dtype.isnative:  # big-endian data on a little-endian machine, or the reverse
        host = host.astype(host.dtype.newbyteorder("="))
    if dtype is None and host.dtype == np.float64:
        typed = isinstance(obj, np.ndarray | np.generic) and float64_available(b)
        dtype = None if typed else DEFAULT_FLOAT
    target = None if dtype is None else resolve_dtype(b, dtype)
    return b.xp.asarray(host, dtype=target, device=b.device)


def check_memory(b: Backend, sizes: Sequence[int], what: str, *, hint: str = "") -> None:
    """Refuse arrays of `sizes` bytes that cannot fit where backend `b` keeps them.

    They must fit together on `b`'s device: an accelerator's free memory when
    its library says (PyTorch, CuPy), else the host's. Arrays are made on the
    host first, one at a time, so on an accelerator the largest must also fit
    in host memory.

    Raises
    ------
    XpnetValueError
        "`what` needs N bytes, more than the M bytes of memory available …; `hint`".
    """
    if not sizes:
        return
    free = b.library.free_memory(b.device)
    if free is None:
        _memory.check_fits(sum(sizes), _memory.host_memory(), what, "on this machine", hint=hint)
        return
    _memory.check_fits(sum(sizes), free, what, f"on {b.name} {b.device}", hint=hint)
    largest = f"the largest array of {what}"
    _memory.check_fits(max(sizes), _memory.host_memory(), largest, "on this machine", hint=hint)


@contextlib.contextmanager
def float_warnings_off() -> Iterator[None]:
    """No floating-point RuntimeWarnings (overflow, invalid value) while the block runs.

    For callers that check results themselves, as training checks every
    loss: the command line reports a diverging run in one line, without
    NumPy's warnings (array-api-strict computes with NumPy too) before it.
    """
    with np.errstate(all="ignore"):
        yield


def to_numpy(x: Array) -> np.ndarray:
    """Return `x` as a NumPy array on the host.

    A NumPy array comes back as it is (no copy); arrays of other libraries
    are copied, off the GPU where they live on one.

    Examples
    --------
    >>> to_numpy(asarray([1.5], dtype="float64", backend="numpy"))
    array([1.5])
    """
    if isinstance(x, np.ndarray):
        return x
    for lib in LIBRARIES.values():
        if lib.is_array(x):
            return lib.to_host(x)
    return np.asarray(x)
