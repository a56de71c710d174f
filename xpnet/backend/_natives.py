"""The array libraries' own versions of functions outside the standard.

``sigmoid`` and ``softmax`` are not in the array API standard, so xpnet
computes them portably, in several elementwise operations. Where a library
has its own (``torch.sigmoid``, ``jax.nn.softmax``, a fused CuPy kernel), one
call does the same work, and eager training on that library spends less time
dispatching. Each library lists its natives in its registry record
(``Library.natives``); :func:`native` finds them from a namespace.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from .._typing import Namespace
from ._registry import LIBRARIES

__all__ = ["native", "natives_on", "portable", "register"]

#: Namespace module name -> its natives. Keyed by name, not by module, so that
#: torch.compile traces the look-up without breaking its graph.
_tables: dict[str, dict[str, Callable[..., Any]]] = {}


class _Switch:
    """Whether natives are off (inside :func:`portable`): a plain flag a tracer can read."""

    off = False


@contextlib.contextmanager
def portable() -> Iterator[None]:
    """Inside the block, every function takes its portable form, natives aside.

    For comparing the two (the portable form is the reference) and for
    measuring what a native gains.

    Examples
    --------
    >>> import array_api_compat.torch as xp  # doctest: +SKIP
    >>> with portable():  # doctest: +SKIP
    ...     native(xp, "sigmoid") is None
    True
    """
    before, _Switch.off = _Switch.off, True
    try:
        yield
    finally:
        _Switch.off = before


def natives_on() -> bool:
    """Whether :func:`native` gives libraries' own functions (False inside :func:`portable`)."""
    return not _Switch.off


def native(xp: Namespace, name: str) -> Callable[..., Any] | None:
    """Library `xp`'s own `name` function, or None where xpnet's portable form serves.

    Examples
    --------
    >>> import array_api_compat.numpy as xp
    >>> native(xp, "softmax") is None
    True
    """
    key = getattr(xp, "__name__", None)  # namespaces are modules; anything else: portable
    if key is None or _Switch.off:
        return None
    table = _tables.get(key)
    if table is None:
        table = _tables[key] = _table_of(xp)
    return table.get(name)


def _table_of(xp: Namespace) -> dict[str, Callable[..., Any]]:
    for lib in LIBRARIES.values():
        if sys.modules.get(lib.namespace) is xp:
            return dict(lib.natives())
    return {}


def register(xp: Namespace) -> None:
    """Look up `xp`'s natives now, when its library is loaded (not inside a traced step)."""
    key = getattr(xp, "__name__", None)
    if key is not None and key not in _tables:
        _tables[key] = _table_of(xp)
