"""Backends: which array library, and which device, new arrays are made on.

This package is the one place that knows the array libraries by name: each
has a small module (``_numpy.py``, ``_torch.py``…) listed in
``_registry.py``. Everything else infers the namespace from its input arrays
(:func:`namespace`) or, when it creates arrays, asks for a :class:`Backend`
(:func:`resolve_backend`).

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

from ._arrays import (
    DEFAULT_FLOAT,
    asarray,
    backend_of,
    cast_floating,
    check_memory,
    device,
    float64_available,
    float_warnings_off,
    is_writeable,
    library_of,
    namespace,
    perturbation,
    read_only_reason,
    resolve_dtype,
    to_numpy,
)
from ._backends import (
    BACKENDS,
    Backend,
    available_devices,
    compiler_backends,
    get_backend,
    library_notes,
    resolve_backend,
    set_backend,
    use_backend,
)
from ._dtypes import dtype_name, index_dtype
from ._interrupts import deferred_interrupts, redeliver_lost_interrupts
from ._natives import native, natives_on, portable
from ._precision import (
    DEFAULT_PRECISION,
    PRECISIONS,
    check_precision,
    matmul_precision,
    precision_of,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_FLOAT",
    "DEFAULT_PRECISION",
    "PRECISIONS",
    "Backend",
    "asarray",
    "available_devices",
    "backend_of",
    "cast_floating",
    "check_memory",
    "check_precision",
    "compiler_backends",
    "deferred_interrupts",
    "device",
    "dtype_name",
    "float64_available",
    "float_warnings_off",
    "get_backend",
    "index_dtype",
    "is_writeable",
    "library_notes",
    "library_of",
    "matmul_precision",
    "namespace",
    "native",
    "natives_on",
    "perturbation",
    "portable",
    "precision_of",
    "read_only_reason",
    "redeliver_lost_interrupts",
    "resolve_backend",
    "resolve_dtype",
    "set_backend",
    "to_numpy",
    "use_backend",
]
