"""Backends: which array library, and which device, new arrays are made on.

This is the one module that knows the array libraries by name. Everything else
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
import functools
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "BACKENDS",
    "Backend",
    "asarray",
    "available_devices",
    "default_index_dtype",
    "device",
    "dtype_name",
    "float64_available",
    "get_backend",
    "index_dtype",
    "is_writeable",
    "name_of_dtype",
    "namespace",
    "resolve_backend",
    "resolve_dtype",
    "set_backend",
    "to_numpy",
    "use_backend",
]

#: The backend names xpnet knows, in the order ``xpnet info`` lists them.
BACKENDS = ("numpy", "cupy", "torch", "jax", "array_api_strict")

# What to `pip install` when a backend's library is missing.
_INSTALL_HINT = {
    "cupy": "pip install 'xpnet[cuda12]' (or 'xpnet[cuda13]' for CUDA 13)",
    "torch": "pip install 'xpnet[torch]'",
    "jax": "pip install 'xpnet[jax]'",
    "array_api_strict": "pip install 'xpnet[strict]'",
}
_DTYPE_NAMES = (
    "float32",
    "float64",
    "float16",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex64",
    "complex128",
)
_LIBRARY = {
    "numpy": "numpy",
    "cupy": "cupy",
    "torch": "torch",
    "jax": "jax",
    "array_api_strict": "array_api_strict",
}


@dataclass(frozen=True)
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
    """

    name: str
    xp: ModuleType
    device: Any

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, device={self.device!r})"


# ---------------------------------------------------------------------------
# Loading libraries and parsing devices


def _load_namespace(name: str) -> ModuleType:
    """Import the library behind `name` and return its array API namespace."""
    if name not in BACKENDS:
        raise ValueError(f"Unknown backend {name!r}. Valid names: {', '.join(BACKENDS)}.")
    try:
        importlib.import_module(_LIBRARY[name])
    except ImportError as exc:
        raise ImportError(
            f"Backend {name!r} needs the {_LIBRARY[name]!r} package, which is not "
            f"installed ({exc}). Install it with: {_INSTALL_HINT.get(name, 'pip install numpy')}"
        ) from exc
    if name == "jax":
        return importlib.import_module("jax.numpy")
    if name == "array_api_strict":
        return importlib.import_module("array_api_strict")
    return importlib.import_module(f"array_api_compat.{name}")


def _split_index(spec: str, name: str) -> tuple[str, int]:
    """'cuda:1' -> ('cuda', 1); 'cuda' -> ('cuda', 0)."""
    kind, _, index = spec.partition(":")
    if index and not index.isdigit():
        raise ValueError(f"Invalid device {spec!r} for backend {name!r}: expected e.g. 'cuda:0'.")
    return kind, int(index or 0)


def _cupy_device(spec: str | int | None) -> Any:
    import cupy

    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when no driver is present
        raise RuntimeError(f"Backend 'cupy' needs a CUDA GPU, but none is usable: {exc}") from exc
    if isinstance(spec, int):
        index = spec
    elif spec is None:
        index = 0
    else:
        kind, index = _split_index(spec, "cupy")
        if kind not in ("cuda", "gpu"):
            raise ValueError(
                f"Invalid device {spec!r} for backend 'cupy': expected 'cuda' or 'cuda:N'."
            )
    if not 0 <= index < count:
        raise RuntimeError(f"Backend 'cupy' has no device {index}: {count} CUDA device(s) usable.")
    return cupy.cuda.Device(index)


def _torch_device(spec: str | None) -> Any:
    import torch

    dev = torch.device(spec or "cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"Device {spec!r} needs a CUDA GPU, but PyTorch sees none "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda})."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"Device {spec!r} does not exist: PyTorch sees "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
        if dev.index is None:  # arrays report "cuda:0", never "cuda": name the index
            dev = torch.device("cuda", torch.cuda.current_device())
    elif dev.type != "cpu":
        raise ValueError(
            f"Invalid device {spec!r} for backend 'torch': expected 'cpu' or 'cuda[:N]'."
        )
    return dev


def _jax_device(spec: str | None) -> Any:
    import jax

    if spec is None:
        return jax.devices()[0]
    kind, index = _split_index(spec, "jax")
    platform = {"cuda": "gpu", "gpu": "gpu", "cpu": "cpu"}.get(kind)
    if platform is None:
        raise ValueError(
            f"Invalid device {spec!r} for backend 'jax': expected 'cpu' or 'cuda[:N]'."
        )
    try:
        devices = jax.devices(platform)
    except RuntimeError as exc:
        raise RuntimeError(f"Device {spec!r} needs a GPU, but JAX sees none: {exc}") from exc
    if index >= len(devices):
        raise RuntimeError(
            f"Device {spec!r} does not exist: JAX sees {len(devices)} {kind} device(s)."
        )
    return devices[index]


def _strict_device(spec: str | None) -> Any:
    import array_api_strict

    if spec is None or spec == "cpu":
        spec = "CPU_DEVICE"
    try:
        return array_api_strict.Device(spec)
    except ValueError as exc:
        raise ValueError(f"Invalid device {spec!r} for backend 'array_api_strict': {exc}") from exc


def _parse_device(name: str, spec: Any) -> Any:
    """Turn a device string (or None) into backend `name`'s device object."""
    if spec is not None and not isinstance(spec, str | int):
        return spec  # already a library device object
    if name == "numpy":
        if spec not in (None, "cpu"):
            raise ValueError(
                f"Invalid device {spec!r} for backend 'numpy': NumPy runs on 'cpu' only."
            )
        return "cpu"
    if name == "cupy":
        return _cupy_device(spec)
    if isinstance(spec, int):
        raise ValueError(f"Invalid device {spec!r} for backend {name!r}: expected a string.")
    parse = {"torch": _torch_device, "jax": _jax_device, "array_api_strict": _strict_device}
    return parse[name](spec)


@functools.cache
def _make_backend(name: str, spec: Any) -> Backend:
    xp = _load_namespace(name)
    return Backend(name=name, xp=xp, device=_parse_device(name, spec))


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
        raise TypeError(
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
    token = _context.set(resolve_backend(name, device))
    try:
        yield _context.get()  # type: ignore[misc]
    finally:
        _context.reset(token)


# ---------------------------------------------------------------------------
# Arrays: namespaces, devices, dtypes and moving data


def available_devices(name: str) -> list[str]:
    """Device strings usable with backend `name` on this machine (imports the library).

    Examples
    --------
    >>> available_devices("numpy")
    ['cpu']
    """
    _load_namespace(name)
    if name == "numpy":
        return ["cpu"]
    if name == "cupy":
        import cupy

        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception:  # no driver
            count = 0
        return [f"cuda:{i}" for i in range(count)]
    if name == "torch":
        import torch

        return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if name == "jax":
        import jax

        return [
            f"{'cuda' if d.platform == 'gpu' else d.platform}:{d.id}" for d in jax.devices()
        ] + ([] if jax.default_backend() == "cpu" else [f"cpu:{d.id}" for d in jax.devices("cpu")])
    return ["cpu", "device1", "device2"]


def namespace(*arrays: Any) -> ModuleType:
    """The array API namespace shared by `arrays`, checking they share one device.

    Raises
    ------
    TypeError
        When an input is not an array, or the inputs come from two libraries.
    ValueError
        When the inputs live on different devices.

    Examples
    --------
    >>> import numpy as np
    >>> namespace(np.zeros(2), np.ones(3)).__name__
    'array_api_compat.numpy'
    """
    try:
        xp = array_api_compat.array_namespace(*arrays)
    except TypeError as exc:
        kinds = ", ".join(sorted({type(a).__module__ + "." + type(a).__name__ for a in arrays}))
        raise TypeError(
            f"Expected arrays of one array library. Received: {kinds} ({exc}). "
            "Convert host data with xpnet.asarray(...) and move arrays between "
            "libraries explicitly."
        ) from None
    if len(arrays) < 2:
        return xp
    devices = {str(array_api_compat.device(a)): None for a in arrays}
    if len(devices) > 1:
        raise ValueError(
            f"Input arrays use different devices: {', '.join(devices)}. "
            "Move them to one device first."
        )
    return xp


def device(x: Any) -> Any:
    """The device `x` lives on, as its library's device object."""
    return array_api_compat.device(x)


def is_writeable(x: Any) -> bool:
    """Whether `x` may be changed in place (False for JAX and read-only views)."""
    return bool(array_api_compat.is_writeable_array(x))


def resolve_dtype(b: Backend, dtype: Any = None, default: str = "float32") -> Any:
    """Turn a dtype name (or None for `default`) into backend `b`'s dtype object.

    Raises a TypeError for names the backend lacks, and for float64 on a
    device without it (JAX without ``JAX_ENABLE_X64=1``, for instance).
    """
    name = default if dtype is None else dtype
    if not isinstance(name, str):
        return name
    obj = getattr(b.xp, name, None) if name in _DTYPE_NAMES else None
    if obj is None:
        raise TypeError(
            f"Unknown dtype {name!r} for backend {b.name!r}. "
            f"Valid names: {', '.join(n for n in _DTYPE_NAMES if hasattr(b.xp, n))}."
        )
    if name.endswith("64") and not float64_available(b):
        raise TypeError(
            f"Backend {b.name!r} on {b.device!r} has no {name}"
            + (": set JAX_ENABLE_X64=1 before starting Python." if b.name == "jax" else ".")
        )
    return obj


def dtype_name(x: Any) -> str:
    """The standard name of `x`'s dtype ('float32', 'int64', ...), on any library.

    Examples
    --------
    >>> import numpy as np
    >>> dtype_name(np.zeros(2, dtype=np.float32))
    'float32'
    """
    return name_of_dtype(namespace(x), x.dtype)


def name_of_dtype(xp: ModuleType, dtype: Any) -> str:
    """The standard name of namespace `xp`'s dtype object `dtype`."""
    for name in _DTYPE_NAMES:
        if getattr(xp, name, None) == dtype:
            return name
    raise TypeError(f"Unsupported dtype {dtype}.")


def float64_available(b: Backend) -> bool:
    """Whether backend `b` can hold float64 (and other 64-bit) arrays on its device."""
    if b.name == "jax":
        import jax

        return bool(jax.config.read("jax_enable_x64"))
    info = b.xp.__array_namespace_info__()
    return "float64" in info.dtypes(device=b.device, kind="real floating")


def index_dtype(b: Backend) -> Any:
    """The integer dtype backend `b` uses for indices and labels."""
    return default_index_dtype(b.xp, b.device)


def default_index_dtype(xp: ModuleType, dev: Any) -> Any:
    """The integer dtype namespace `xp` uses for indices on device `dev`."""
    return xp.__array_namespace_info__().default_dtypes(device=dev)["indexing"]


def asarray(
    obj: Any, dtype: Any = None, *, backend: str | Backend | None = None, device: Any = None
) -> Any:
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
        raise TypeError(
            f"`obj` is already an array of another library or device ({type(obj).__module__}); "
            "convert it with xpnet.to_numpy(obj) first."
        )
    host = np.asarray(obj)
    if dtype is None and host.dtype == np.float64 and not float64_available(b):
        host = host.astype(np.float32)
    target = None if dtype is None else resolve_dtype(b, dtype)
    return b.xp.asarray(host, dtype=target, device=b.device)


def to_numpy(x: Any) -> np.ndarray:
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
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().resolve_conj().numpy()
    if array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(x)):
        import array_api_strict

        # Only its CPU device converts; its simulated devices refuse.
        x = x.to_device(array_api_strict.Device("CPU_DEVICE"))
    return np.asarray(x)
