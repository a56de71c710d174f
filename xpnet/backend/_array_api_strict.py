"""array-api-strict: the standard and nothing more, with simulated devices."""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from ..errors import BackendError
from ._library import Library


def _parse_device(spec: Any) -> Any:
    import array_api_strict

    if spec is None or spec == "cpu":
        spec = "CPU_DEVICE"
    if not isinstance(spec, str):
        raise BackendError(
            f"Invalid device {spec!r} for backend 'array_api_strict': expected a string."
        )
    try:
        return array_api_strict.Device(spec)
    except ValueError as exc:
        raise BackendError(
            f"Invalid device {spec!r} for backend 'array_api_strict': {exc}"
        ) from None


def _to_host(x: Any) -> np.ndarray:
    import array_api_strict

    # Only its CPU device converts to NumPy; the simulated ones refuse.
    return np.asarray(array_api_compat.to_device(x, array_api_strict.Device("CPU_DEVICE")))


def _is_array(x: Any) -> bool:
    return type(x).__module__.startswith("array_api_strict")


LIBRARY = Library(
    name="array_api_strict",
    module="array_api_strict",
    extra="'xpnet[strict]'",
    namespace="array_api_strict",
    parse_device=_parse_device,
    devices=lambda: ["cpu", "device1", "device2"],
    to_host=_to_host,
    is_array=_is_array,
)
