"""The book's code mixes NumPy arrays with the backend's: bring them to one library.

The book's scripts make some arrays themselves (``np.random.randn``,
``np.zeros``) and get others from ``load_mnist`` on the chosen backend. Where
one of the book's functions or layers receives both, xpnet's own functions
would refuse the mix (no hidden copies between libraries). Here, in the
book's modules only, NumPy arrays (and Python numbers) are brought to the
backend array's library and device, and floating dtypes are promoted as
NumPy does (float32 with float64 gives float64). On the CPU the copy is
free where the library shares NumPy's memory (PyTorch, array-api-strict).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..backend import asarray, backend_of, library_of, namespace

__all__ = ["align", "is_array", "to_host_float"]


def is_array(obj: Any) -> bool:
    """Whether `obj` is an array of a library xpnet knows (NumPy included)."""
    return hasattr(obj, "shape") and hasattr(obj, "dtype") and "." not in library_of(obj)


def align(*objs: Any) -> tuple[Any, tuple[Any, ...]]:
    """The namespace and `objs` on one library, device and floating dtype.

    NumPy arrays and Python numbers go to the library of the first other
    array; `None` passes through. Arrays of two libraries other than NumPy
    are an error (xpnet's own message).

    Examples
    --------
    >>> import numpy as np
    >>> xp, (a, b) = align(np.ones(2, dtype=np.float32), np.ones(2))
    >>> str(a.dtype), str(b.dtype)
    ('float64', 'float64')
    """
    arrays = [o for o in objs if is_array(o)]
    foreign = [a for a in arrays if not isinstance(a, np.ndarray | np.generic)]
    if foreign:
        namespace(*foreign)  # one library and device, or xpnet's error
        target = backend_of(foreign[0])
        moved = [_moved(o, target) for o in objs]
    else:
        moved = [np.asarray(o) if isinstance(o, numbers.Number) else o for o in objs]
    present = [o for o in moved if o is not None]
    xp = namespace(*present)
    floats = [o.dtype for o in present if xp.isdtype(o.dtype, "real floating")]
    if len(set(map(str, floats))) > 1:
        common = xp.result_type(*floats)
        moved = [
            xp.astype(o, common) if o is not None and xp.isdtype(o.dtype, "real floating") else o
            for o in moved
        ]
    return xp, tuple(moved)


def _moved(obj: Any, target: Any) -> Any:
    if isinstance(obj, np.ndarray | np.generic):
        return asarray(obj, backend=target)
    if isinstance(obj, numbers.Number) and not isinstance(obj, bool):
        return asarray(np.asarray(obj), backend=target)
    return obj


def to_host_float(value: Any) -> float:
    """A 0-d array of any library, or a number, as a Python float."""
    from ..backend import to_numpy

    return float(to_numpy(value)) if is_array(value) else float(value)
