"""Backends: choosing the library and device new arrays are made on."""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .._typing import Device, Namespace
from ..errors import BackendError, NotInstalledError, XpnetTypeError
from ._interrupts import deferred_interrupts
from ._library import Library
from ._natives import register as register_natives
from ._registry import LIBRARIES

__all__ = [
    "BACKENDS",
    "Backend",
    "available_devices",
    "compiler_backends",
    "get_backend",
    "library_notes",
    "resolve_backend",
    "set_backend",
    "use_backend",
]

#: The backend names xpnet knows, in the order ``xpnet info`` lists them.
BACKENDS = tuple(LIBRARIES)


@dataclass(frozen=True, eq=False)
class Backend:
    """An array library and a device on it.

    Two Backends are equal when they name the same library and device; they
    hash by name and device text, so they work as dict keys even on libraries
    whose device objects are not hashable.

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
    lib.on_load()
    xp = importlib.import_module(lib.namespace)
    register_natives(xp)
    return xp


def _spec_key(spec: Any) -> Any:
    """A hashable stand-in for a device spec (device objects need not be hashable)."""
    if spec is None or isinstance(spec, str | int):
        return spec
    return (type(spec).__module__, type(spec).__qualname__, str(spec))


_made: dict[tuple[str, Any], Backend] = {}


def _no_device(spec: Any) -> bool:
    """Whether a device spec names none: None or blank (`XPNET_DEVICE=`, `--device ""`)."""
    return spec is None or (isinstance(spec, str) and not spec.strip())


def _make_backend(name: str, spec: Any) -> Backend:
    spec = None if _no_device(spec) else spec  # the library's default device
    key = (name, _spec_key(spec))
    if key not in _made:
        lib = _library(name)
        # Importing the library and starting its devices run native code that calls back
        # into Python: a Ctrl-C there is held back, and acted on once they are done.
        with deferred_interrupts():
            xp = _load_namespace(lib)
            custom = not (spec is None or isinstance(spec, str | int))
            dev = spec if custom else lib.parse_device(spec)
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
    return _make_backend(name.strip(), os.environ.get("XPNET_DEVICE"))


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
        or a library device object. None (or an empty string, as in
        ``XPNET_DEVICE=``) keeps the backend's device: the current backend's,
        or the library's default for a named one.

    Examples
    --------
    >>> resolve_backend("numpy", "cpu")
    Backend(name='numpy', device='cpu')
    """
    if _no_device(device):
        device = None
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
    with deferred_interrupts():  # the first look at the devices starts them
        _load_namespace(lib)
        return lib.devices()


def library_notes(name: str) -> str:
    """A line about library `name`'s state for ``xpnet info`` ("" if none; imports it).

    Examples
    --------
    >>> library_notes("numpy")
    ''
    """
    lib = _library(name)
    with deferred_interrupts():
        _load_namespace(lib)
        return lib.notes()


def compiler_backends() -> tuple[str, ...]:
    """The backends whose library compiles training (``train(compile=True)``).

    Examples
    --------
    >>> "numpy" in compiler_backends()
    False
    """
    return tuple(name for name, lib in LIBRARIES.items() if lib.compiler is not None)
