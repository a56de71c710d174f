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

import functools
import os
from typing import Any

import array_api_compat
import numpy as np

from .._typing import Device, Namespace
from ..errors import BackendError, DeviceNotAvailableError
from ._convolutions import jax_natives
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

    # Compiled: eagerly, jax.nn.softmax is five dispatches and a host-to-device
    # transfer of a constant (143 us on the CPU, against 37 us as one compiled
    # call); inside a compiled step it is inlined as before. sigmoid is one
    # operation already (lax.logistic).
    softmax = jax.jit(lambda x, axis: jax.nn.softmax(x, axis=axis), static_argnums=1)
    return {
        "sigmoid": jax.nn.sigmoid,
        "softmax": lambda x, axis=-1: softmax(x, axis),
        **jax_natives(),  # conv2d, max_pool2d and their backwards
    }


#: JAX's names of its matmul precisions -> xpnet's levels (None: JAX's default, TF32 on GPUs).
_LEVELS = {"highest": "highest", "float32": "highest", "high": "high", "tensorfloat32": "high"}


def _precision_level() -> str:
    import jax

    value = jax.config.jax_default_matmul_precision  # type: ignore[attr-defined, unused-ignore]
    return "default" if value is None else _LEVELS.get(str(value), str(value))


def _precision_setting(level: str) -> Any:
    """JAX's own context: it holds per thread, and code compiled inside is traced at `level`.

    "high" is JAX's "tensorfloat32" by name: JAX's "high" is three bfloat16
    passes on a TPU.
    """
    import jax

    named = {"default": None, "high": "tensorfloat32", "highest": "float32"}
    return jax.default_matmul_precision(named.get(level, level))


def _sharding(device: Device) -> Any:
    """Every input and output of a compiled function on `device`.

    Pinned rather than inferred: an argument that JAX has not committed to a
    device (``jnp.asarray`` without one) and the committed arrays a compiled
    call returns would otherwise lower to two programs, so a run would
    compile twice.
    """
    import jax

    return jax.sharding.SingleDeviceSharding(device)


def _jit(fn: Any, device: Device) -> Any:
    import jax

    on = _sharding(device)
    return jax.jit(fn, in_shardings=on, out_shardings=on)


#: Rows of a chunk that one compiled call runs: a divisor of the chunk's 256, so
#: full chunks waste nothing, and small, so that the rows a call masks (at most
#: WINDOW - 1 where an evaluation cuts a chunk) cost little: benchmarks/bench_jax_loop.py.
WINDOW = 32


def _jit_loop(body: Any, device: Device, window: int = WINDOW) -> Any:
    """A chunk of iterations in compiled calls of `window` rows each: a ``lax.scan`` apiece.

    The scan's length is static, so XLA knows the loop's trip count: on a GPU
    no loop predicate is read back to the host at each iteration, as it is
    for a loop whose bounds are traced (``fori_loop(start, stop)``). On a GPU
    the window's rows outside ``start .. stop-1`` still run but are masked:
    their parameters, state and losses are dropped by selection (``where``; a
    branch's predicate would be read back too). On a CPU, where the host is
    the device, a branch (``lax.cond``) skips them: a convolutional step costs
    tens of milliseconds there, and up to 31 of them per evaluation would be
    wasted. The window's position and the bounds are traced, so every window
    of every chunk runs the same compiled code: a run compiles once. Each
    call sends its three bounds in one explicit transfer; nothing else moves
    between host and device.
    """
    import jax

    jnp = jax.numpy
    skip = device.platform == "cpu"

    def run(state: Any, x: Any, t: Any, batches: Any, losses: Any, bounds: Any) -> Any:
        lo, first, stop = bounds[0], bounds[1], bounds[2]  # rows lo.., of which first..stop-1 run
        size = min(window, batches.shape[0])  # static: shapes are known when tracing
        rows = lo + jnp.arange(size, dtype=bounds.dtype)

        def step(carry: Any, index: Any) -> Any:
            new, loss = body(carry, x, t, index)
            return new, loss.astype(losses.dtype)

        def one(carry: Any, row: Any) -> Any:
            i, index = row
            active = (i >= first) & (i < stop)
            if skip:
                idle = lambda c, _: (c, jnp.zeros((), losses.dtype))  # noqa: E731
                return jax.lax.cond(active, step, idle, carry, index)
            new, loss = step(carry, index)
            return jax.tree.map(functools.partial(jnp.where, active), new, carry), loss

        indices = jax.lax.dynamic_slice_in_dim(batches, lo, size)
        state, new = jax.lax.scan(one, state, (rows, indices))
        new = jnp.where(
            (rows >= first) & (rows < stop), new, jax.lax.dynamic_slice_in_dim(losses, lo, size)
        )
        return state, jax.lax.dynamic_update_slice_in_dim(losses, new, lo, 0)

    on = _sharding(device)
    return _Windows(jax.jit(run, in_shardings=on, out_shardings=on), device, window)


class _Windows:
    """Calls of the compiled window `jitted` over rows ``start .. stop-1`` of a chunk."""

    def __init__(self, jitted: Any, device: Device, window: int) -> None:
        self.jitted, self.device, self.window = jitted, device, window
        self.zeros: dict[Any, Any] = {}  # the losses before a chunk, per (length, dtype)

    def __call__(self, state: Any, x: Any, t: Any, batches: Any, start: int, stop: int) -> Any:
        import jax

        n = batches.shape[0]
        if (n, x.dtype) not in self.zeros:  # JAX arrays are immutable: one serves every chunk
            self.zeros[n, x.dtype] = jax.device_put(np.zeros(n, dtype=x.dtype), self.device)
        losses, size = self.zeros[n, x.dtype], min(self.window, n)
        for first in range(start, stop, size):
            bounds = np.asarray([min(first, n - size), first, stop], dtype=np.int32)
            state, losses = self.jitted(
                state, x, t, batches, losses, jax.device_put(bounds, self.device)
            )
        return state, losses


#: JAX compiles by default: eagerly, every one of the step's ~30 operations is
#: a dispatch of its own (some 3 ms per iteration on a CPU); compiled calls of
#: 32 iterations each run about as fast as a hand-written ``lax.scan`` loop,
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
