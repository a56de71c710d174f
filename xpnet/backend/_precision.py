"""One policy for float32 matrix products: full float32, unless TF32 is asked for.

GPUs since NVIDIA's Ampere multiply float32 matrices several times faster
in TensorFloat-32 (TF32: float32's range, a 10-bit mantissa), and the
libraries disagree on whether they do so by default: JAX does on GPUs,
PyTorch and CuPy do not. A GPU run could then differ from the CPU's by far
more than float32 rounding, and gradient checks fail on correct gradients.
xpnet states one policy instead:

* training runs at "highest" (full float32) unless the run asks for "high"
  (``train(..., precision="high")``, ``xpnet train --precision high``), which
  allows TF32 where the device has it;
* gradient checks always run at "highest", whatever the caller set.

xpnet applies the level itself, around its own work, and puts the library's
setting back afterwards (:func:`matmul_precision`). Each library says how it
sets it in its registry record (``Library.precision``); NumPy and
array-api-strict always compute in full float32 and have none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .._validation import one_of
from ._backends import Backend, resolve_backend

__all__ = ["DEFAULT_PRECISION", "PRECISIONS", "check_precision", "matmul_precision", "precision_of"]

#: The levels xpnet knows: full float32, and TF32 allowed.
PRECISIONS = ("highest", "high")

#: Training's level unless a run says otherwise.
DEFAULT_PRECISION = "highest"


def check_precision(level: Any, name: str = "precision") -> str:
    """`level` if it is one of :data:`PRECISIONS`, else an error naming `name`.

    Examples
    --------
    >>> check_precision("high")
    'high'
    >>> check_precision("tf32")
    Traceback (most recent call last):
    ...
    xpnet.errors.XpnetValueError: `precision` must be one of 'highest', 'high'. Received: 'tf32'.
    """
    return one_of(level, name, PRECISIONS)


@contextlib.contextmanager
def matmul_precision(backend: str | Backend | None, level: str) -> Iterator[None]:
    """Run the block with `backend`'s float32 matrix products at `level`.

    Parameters
    ----------
    backend : str, Backend or None
        Whose library to set (None: the current backend).
    level : {"highest", "high"}
        "highest": full float32; "high": TF32 allowed where the device has it.

    The library's own setting is back when the block ends. On NumPy and
    array-api-strict, which always compute in full float32, nothing changes.

    Examples
    --------
    >>> with matmul_precision("numpy", "highest"):
    ...     pass
    """
    level = check_precision(level)
    precision = resolve_backend(backend).library.precision
    if precision is None:
        yield
        return
    with precision.setting(level):
        yield


def precision_of(backend: str | Backend | None = None) -> str | None:
    """The level `backend`'s library multiplies float32 matrices at now; None if it has no setting.

    "highest" or "high", or the library's own word for another setting
    ("default" for JAX's own default, TF32 on GPUs).

    Examples
    --------
    >>> precision_of("numpy") is None
    True
    """
    precision = resolve_backend(backend).library.precision
    return None if precision is None else precision.level()
