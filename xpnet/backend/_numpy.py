"""NumPy: the default backend, on the CPU."""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from ..errors import BackendError
from ._library import Library


def _parse_device(spec: Any) -> str:
    if spec not in (None, "cpu"):
        raise BackendError(
            f"Invalid device {spec!r} for backend 'numpy': NumPy runs on 'cpu' only."
        )
    return "cpu"


LIBRARY = Library(
    name="numpy",
    module="numpy",
    extra="'xpnet' (numpy is a dependency)",
    namespace="array_api_compat.numpy",
    parse_device=_parse_device,
    devices=lambda: ["cpu"],
    to_host=np.asarray,
    is_array=array_api_compat.is_numpy_array,
)
