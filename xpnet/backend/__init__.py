"""Backends: which array library, and which device, new arrays are made on.

This package is the one place that knows the array libraries by name: each
has a small module (``_numpy.py``, ``_torch.py``…) listed in ``_registry.py``. Everything else
infers the namespace from its input arrays (:func:`namespace`) or, when it
creates arrays, asks for a :class:`Backend` (:func:`resolve_backend`).

The current backend is, in order of precedence: the innermost
:func:`use_backend` context, the last :func:`set_backend`, the environment
variables ``XPNET_BACKEND`` / ``XPNET_DEVICE``, and finally NumPy on the CPU.
Backend libraries are imported on first use, so ``import xpnet`` stays light.

Examples
--------
>>> import xpnet
>>> with xpnet.use_backend("numpy") as b:
...     x = xpnet.asarray([1.0, 2.0], dtype="float32")
>>> b.name
'numpy'
>>> xpnet.to_numpy(x).tolist()
[1.0, 2.0]
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import array_api_compat
import numpy as np

from .._typing import Array, Device, Namespace
from ..errors import BackendError, NotInstalledError, XpnetTypeError, XpnetValueError
from ._dtypes import NEEDS_64BIT, dtype_name, index_dtype, lookup_dtype
from ._library import Library
from ._registry import LIBRARIES

__all__ = [
    "BACKENDS",
    "Backend",
    "asarray",
    "available_devices",
    "device",
    "dtype_name",
    "float64_available",
    "get_backend",
    "index_dtype",
    "is_writeable",
    "library_of",
    "namespace",
    "resolve_backend",
    "resolve_dtype",
    "set_backend",
    "to_numpy",
    "use_backend",
]

#: The backend names xpnet knows, in the order ``xpnet info`` lists them.
BACKENDS = tuple(LIBRARIES)


@dataclass(frozen=True, eq=False)
class Backend:
    """An array library and a device on it.

    Attributes
    ----------
    name : str
        One of :data:`BACKENDS`.
    xp : module
        The array-API-compatible namespace (array-api-compat's wrapper where
        the library needs one, never the bare ``cupy`` or ``torch``).
    device : object
        The library's own device object; pass it as ``device=`` when creating
        arrays.

    Two Backends are equal when they name the same library and device; they
    hash by name and device text, so they work as dict keys even on libraries
    whose device objects are not hashable.
    """

    name: str
    xp: Namespace = field(repr=False)
    device: Device

    @property
    def library(self) -> Library:
        """The registry record of this backend's library."""
        return LIBRARIES[self.name]

    def _key(self) -> tuple[str, str]:
        return self.name, str(self.device)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Backend) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, device={self.device!r})"


# ---------------------------------------------------------------------------
# Loading libraries


def _library(name: str) -> Library:
    try:
        return LIBRARIES[name]
    except (KeyError, TypeError):
        raise BackendError(
            f"Unknown backend {name!r}. Valid names: {', '.join(BACKENDS)}."
        ) from None


def _load_namespace(lib: Library) -> Namespace:
    """Import the library and return its array API namespace."""
    try:
        importlib.import_module(lib.module)
    except ImportError as exc:
        raise NotInstalledError(
            f"Backend {lib.name!r} needs the {lib.module!r} package, which is not "
            f"installed ({exc}). Install it with: pip install {lib.extra}"
        ) from exc
    return importlib.import_module(lib.namespace)


def _spec_key(spec: Any) -> Any:
    """A hashable stand-in for a device spec (device objects need not be hashable)."""
    if spec is None or isinstance(spec, str | int):
        return spec
    return (type(spec).__module__, type(spec).__qualname__, str(spec))


_made: dict[tuple[str, Any], Backend] = {}


def _make_backend(name: str, spec: Any) -> Backend:
    key = (name, _spec_key(spec))
    if key not in _made:
        lib = _library(name)
        xp = _load_namespace(lib)
        dev = spec if not (spec is None or isinstance(spec, str | int)) else lib.parse_device(spec)
        _made[key] = Backend(name=name, xp=xp, device=dev)
    return _made[key]


# ---------------------------------------------------------------------------
# Choosing the current backend

_chosen: Backend | None = None
_context: contextvars.ContextVar[Backend | None] = contextvars.ContextVar(
    "xpnet_backend", default=None
)


def _from_environment() -> Backend:
    name = os.environ.get("XPNET_BACKEND") or "numpy"
    spec = os.environ.get("XPNET_DEVICE") or None
    return _make_backend(name.strip(), spec)


def get_backend() -> Backend:
    """Return the current :class:`Backend`.

    The innermost :func:`use_backend` wins, then :func:`set_backend`, then the
    ``XPNET_BACKEND`` / ``XPNET_DEVICE`` environment variables, then NumPy.

    Examples
    --------
    >>> import xpnet
    >>> with xpnet.use_backend("numpy"):
    ...     xpnet.get_backend()
    Backend(name='numpy', device='cpu')
    """
    return _context.get() or _chosen or _from_environment()


def resolve_backend(backend: str | Backend | None = None, device: Any = None) -> Backend:
    """Turn a backend name (or None for the current one) and a device into a Backend.

    Parameters
    ----------
    backend : str, Backend or None
        A name from :data:`BACKENDS`, a Backend, or None for :func:`get_backend`.
    device : str, device object or None
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, array-api-strict's ``"device1"``,
        or a library device object. None keeps the backend's device (the
        current backend's, or the library default for a named one).

    Examples
    --------
    >>> resolve_backend("numpy", "cpu")
    Backend(name='numpy', device='cpu')
    """
    if isinstance(backend, Backend):
        return backend if device is None else _make_backend(backend.name, device)
    if backend is None:
        current = get_backend()
        return current if device is None else _make_backend(current.name, device)
    if not isinstance(backend, str):
        raise XpnetTypeError(
            f"`backend` must be a name ({', '.join(BACKENDS)}), a Backend or None. "
            f"Received: {type(backend).__name__}."
        )
    return _make_backend(backend, device)


def set_backend(name: str | Backend | None, device: Any = None) -> Backend:
    """Make `name` on `device` the current backend; None goes back to the default.

    Returns the new current backend. Errors (unknown name, missing library, no
    GPU) are raised before anything changes.

    Examples
    --------
    >>> old = get_backend()
    >>> set_backend("numpy")
    Backend(name='numpy', device='cpu')
    >>> _ = set_backend(old)
    """
    global _chosen
    _chosen = None if name is None else resolve_backend(name, device)
    return get_backend()


@contextlib.contextmanager
def use_backend(name: str | Backend, device: Any = None) -> Iterator[Backend]:
    """Context manager: the current backend inside the block, restored on exit.

    The previous choice comes back however the block ends, exceptions
    included. Contexts nest and are private to each thread and asyncio task.

    Examples
    --------
    >>> with use_backend("numpy") as b:
    ...     b.name
    'numpy'
    """
    chosen = resolve_backend(name, device)
    token = _context.set(chosen)
    try:
        yield chosen
    finally:
        _context.reset(token)


def available_devices(name: str) -> list[str]:
    """Device strings usable with backend `name` on this machine (imports the library).

    Examples
    --------
    >>> available_devices("numpy")
    ['cpu']
    """
    lib = _library(name)
    _load_namespace(lib)
    return lib.devices()


# ---------------------------------------------------------------------------
# Arrays: namespaces, devices, dtypes and moving data


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
        devices = {str(array_api_compat.device(a)): None for a in arrays}
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
            f"`obj` is already an array of {library_of(obj)} on "
            f"{array_api_compat.device(obj)}; convert it with xpnet.to_numpy(obj) first."
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
