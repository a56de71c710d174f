"""dtypes by name, on any backend: resolving names, naming dtypes, the index dtype."""

from __future__ import annotations

from typing import Any

import array_api_compat

from .._typing import Device, Namespace
from ..errors import XpnetTypeError

__all__ = ["DTYPE_NAMES", "NEEDS_64BIT", "dtype_name", "index_dtype", "lookup_dtype"]

#: The standard's dtype names (plus float16, which most libraries have).
DTYPE_NAMES = (
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
#: dtypes a device may lack (JAX without x64 has none of them).
NEEDS_64BIT = frozenset({"float64", "int64", "uint64", "complex128"})


def lookup_dtype(xp: Namespace, dtype: Any) -> tuple[str, Any]:
    """``(name, dtype object)`` of `xp` for a dtype name or dtype object; TypeError if unknown."""
    if isinstance(dtype, str):
        obj = getattr(xp, dtype, None) if dtype in DTYPE_NAMES else None
        if obj is not None:
            return dtype, obj
    else:
        for name in DTYPE_NAMES:
            if getattr(xp, name, None) == dtype:
                return name, getattr(xp, name)
    valid = ", ".join(n for n in DTYPE_NAMES if hasattr(xp, n))
    raise XpnetTypeError(f"Unknown dtype {dtype!r} for {xp.__name__}. Valid names: {valid}.")


def dtype_name(x: Any, /, *, xp: Namespace | None = None) -> str:
    """The standard name of a dtype ('float32', 'int64', …), on any library.

    Parameters
    ----------
    x : array or dtype object
        An array (its dtype is named), or a dtype object of namespace `xp`.
    xp : namespace, optional
        Needed when `x` is a dtype object; inferred from an array.

    Examples
    --------
    >>> import numpy as np
    >>> dtype_name(np.zeros(2, dtype=np.float32))
    'float32'
    """
    if not isinstance(x, type) and array_api_compat.is_array_api_obj(x):
        xp = array_api_compat.array_namespace(x) if xp is None else xp
        x = x.dtype
    if xp is None:
        raise XpnetTypeError(f"dtype_name({x!r}) needs `xp=` to name a dtype object.")
    return lookup_dtype(xp, x)[0]


def index_dtype(xp: Namespace, device: Device) -> Any:
    """The integer dtype namespace `xp` uses for indices and labels on `device`.

    Examples
    --------
    >>> import array_api_compat.numpy as xp
    >>> index_dtype(xp, "cpu")
    dtype('int64')
    """
    return xp.__array_namespace_info__().default_dtypes(device=device)["indexing"]
