"""JAX: immutable arrays on CPU or GPU; float64 only with x64 enabled."""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from .._typing import Device, Namespace
from ..errors import BackendError, DeviceNotAvailableError
from ._library import Library, split_index


def _parse_device(spec: Any) -> Any:
    import jax

    if spec is None:
        return jax.devices()[0]
    if not isinstance(spec, str):
        raise BackendError(f"Invalid device {spec!r} for backend 'jax': expected a string.")
    kind, index = split_index(spec, "jax")
    platform = {"cuda": "gpu", "gpu": "gpu", "cpu": "cpu"}.get(kind)
    if platform is None:
        raise BackendError(
            f"Invalid device {spec!r} for backend 'jax': expected 'cpu' or 'cuda[:N]'."
        )
    try:
        devices = jax.devices(platform)
    except RuntimeError as exc:
        raise DeviceNotAvailableError(
            f"Device {spec!r} needs a GPU, but JAX sees none: {exc}"
        ) from None
    if (index or 0) >= len(devices):
        raise DeviceNotAvailableError(
            f"Device {spec!r} does not exist: JAX sees {len(devices)} {kind} device(s)."
        )
    return devices[index or 0]


def _devices() -> list[str]:
    import jax

    found = [f"{'cuda' if d.platform == 'gpu' else d.platform}:{d.id}" for d in jax.devices()]
    if jax.default_backend() != "cpu":
        found += [f"cpu:{d.id}" for d in jax.devices("cpu")]
    return found


def _has_float64(xp: Namespace, device: Device) -> bool:
    import jax

    return bool(jax.config.read("jax_enable_x64"))


LIBRARY = Library(
    name="jax",
    module="jax",
    extra="'xpnet[jax]'",
    namespace="jax.numpy",
    parse_device=_parse_device,
    devices=_devices,
    to_host=np.asarray,
    is_array=array_api_compat.is_jax_array,
    has_float64=_has_float64,
)
