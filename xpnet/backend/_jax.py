"""JAX: immutable arrays on CPU or GPU; float64 only with x64 enabled."""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from .._typing import Device, Namespace
from ..errors import BackendError, DeviceNotAvailableError
from ._library import Compiler, Library, split_index


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


def _natives() -> dict[str, Any]:
    import jax

    return {
        "sigmoid": jax.nn.sigmoid,
        "softmax": lambda x, axis=-1: jax.nn.softmax(x, axis=axis),
    }


def _jit(fn: Any, device: Device) -> Any:
    import jax

    return jax.jit(fn)


def _jit_loop(body: Any, device: Device) -> Any:
    """A chunk of iterations as one compiled call: ``lax.fori_loop`` over rows of `batches`.

    `start` and `stop` are traced, not static: every part of a chunk (the
    first iteration alone, a block cut by an evaluation) runs the same
    compiled code, and the losses go into a vector as long as `batches`.
    """
    import jax

    def run(
        params: Any, opt_state: Any, x: Any, t: Any, batches: Any, start: Any, stop: Any
    ) -> Any:
        losses = jax.numpy.zeros(batches.shape[0], dtype=x.dtype)

        def one(i: Any, carry: Any) -> Any:
            params, opt_state, losses = carry
            params, opt_state, loss = body(params, opt_state, x, t, batches[i])
            return params, opt_state, losses.at[i].set(loss)

        return jax.lax.fori_loop(start, stop, one, (params, opt_state, losses))

    return jax.jit(run)


#: JAX compiles by default: eagerly, every one of the step's ~30 operations is
#: a dispatch of its own (some 3 ms per iteration on a CPU); one compiled call
#: per chunk of 256 iterations runs as fast as a hand-written ``lax.scan`` loop,
#: for under a second of compilation (docs/compile.md).
COMPILER = Compiler(name="jax.jit", auto=lambda device: True, function=_jit, loop=_jit_loop)

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
    compiler=COMPILER,
    natives=_natives,
)
