"""JAX: immutable arrays on CPU or GPU; xpnet turns on its 64-bit types.

JAX starts with 64-bit types off: ``float64`` silently becomes ``float32``.
xpnet needs float64 for the chapter's numbers and its gradient checks, so
when it loads JAX it turns them on (``jax.config.update("jax_enable_x64",
True)``), for the whole process: the user's own JAX code then also creates
float64 and int64 arrays where it names no dtype. Setting
``JAX_ENABLE_X64=0`` before starting Python keeps JAX's 32-bit default;
xpnet then has no float64 on JAX and says so when asked for it.
"""

from __future__ import annotations

import os
from typing import Any

import array_api_compat
import numpy as np

from .._typing import Device, Namespace
from ..errors import BackendError, DeviceNotAvailableError
from ._library import Compiler, Library, Precision, split_index


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


#: How JAX spells "off" in its boolean environment variables.
_FALSE = ("0", "n", "no", "f", "false", "off")


def _x64_refused() -> bool:
    """Whether the user turned 64-bit types off on purpose (``JAX_ENABLE_X64=0``)."""
    return os.environ.get("JAX_ENABLE_X64", "").strip().lower() in _FALSE


def _enable_x64() -> None:
    import jax

    if not _x64_refused() and not jax.config.read("jax_enable_x64"):
        jax.config.update("jax_enable_x64", True)


def _notes() -> str:
    import jax

    if jax.config.read("jax_enable_x64"):
        why = "set by JAX_ENABLE_X64" if os.environ.get("JAX_ENABLE_X64") else "turned on by xpnet"
        return f"64-bit types (x64) on, {why}; JAX_ENABLE_X64=0 keeps JAX's 32-bit default"
    why = "JAX_ENABLE_X64=0" if _x64_refused() else "turned off with jax.config"
    return f"64-bit types (x64) off ({why}): no float64 on JAX"


def _natives() -> dict[str, Any]:
    import jax

    return {
        "sigmoid": jax.nn.sigmoid,
        "softmax": lambda x, axis=-1: jax.nn.softmax(x, axis=axis),
    }


#: JAX's names of its matmul precisions -> xpnet's levels (None: JAX's default, TF32 on GPUs).
_LEVELS = {"highest": "highest", "float32": "highest", "high": "high", "tensorfloat32": "high"}


def _precision_level() -> str:
    import jax

    value = jax.config.jax_default_matmul_precision  # type: ignore[attr-defined]
    return "default" if value is None else _LEVELS.get(str(value), str(value))


def _precision_setting(level: str) -> Any:
    """JAX's own context: it holds per thread, and code compiled inside is traced at `level`.

    "high" is JAX's "tensorfloat32" by name: JAX's "high" is three bfloat16
    passes on a TPU.
    """
    import jax

    named = {"default": None, "high": "tensorfloat32", "highest": "float32"}
    return jax.default_matmul_precision(named.get(level, level))


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
    on_load=_enable_x64,
    notes=_notes,
    compiler=COMPILER,
    natives=_natives,
    precision=Precision(level=_precision_level, setting=_precision_setting),
)
