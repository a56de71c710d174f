"""The backends xpnet knows: one line per library, each described in its own module.

Adding a library is one new module ``_<name>.py`` defining ``LIBRARY`` (see
``_library.Library``) plus one line here.
"""

from __future__ import annotations

from . import _array_api_strict, _cupy, _jax, _numpy, _torch
from ._library import Library

__all__ = ["LIBRARIES"]

#: Backend name -> its Library record, in the order ``xpnet info`` lists them.
LIBRARIES: dict[str, Library] = {
    lib.name: lib
    for lib in (
        _numpy.LIBRARY,
        _cupy.LIBRARY,
        _torch.LIBRARY,
        _jax.LIBRARY,
        _array_api_strict.LIBRARY,
    )
}
