"""CuPy: NumPy's API on NVIDIA GPUs."""

from __future__ import annotations

from typing import Any

import array_api_compat

from ..errors import BackendError, DeviceNotAvailableError
from ._library import Library, Precision, global_setting, split_index


def _device_count() -> int:
    import cupy

    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # CUDARuntimeError when no driver is present
        return 0


def _parse_device(spec: Any) -> Any:
    import cupy

    if isinstance(spec, int):
        index: int | None = spec
    elif spec is None:
        index = None
    else:
        kind, index = split_index(spec, "cupy")
        if kind not in ("cuda", "gpu"):
            raise BackendError(
                f"Invalid device {spec!r} for backend 'cupy': expected 'cuda' or 'cuda:N'."
            )
    count = _device_count()
    if count == 0:
        raise DeviceNotAvailableError("Backend 'cupy' needs a CUDA GPU, but none is usable.")
    index = cupy.cuda.runtime.getDevice() if index is None else index
    if not 0 <= index < count:
        raise DeviceNotAvailableError(
            f"Backend 'cupy' has no device {index}: {count} CUDA device(s) usable."
        )
    return cupy.cuda.Device(index)


def _free_memory(device: Any) -> int:
    """Free bytes on the GPU, with what CuPy's memory pool holds unused."""
    import cupy

    with device:
        return int(device.mem_info[0] + cupy.get_default_memory_pool().free_bytes())


def _natives() -> dict[str, Any]:
    import cupy

    @cupy.fuse()
    def sigmoid(x: Any) -> Any:  # xpnet.sigmoid's formula, as one fused kernel
        e = cupy.exp(-cupy.abs(x))
        return cupy.where(x >= 0, 1 / (1 + e), e / (1 + e))

    return {"sigmoid": sigmoid}


def _compute_types() -> Any:
    from cupy._core import _routines_linalg

    return _routines_linalg


def _get_precision() -> str:
    """CuPy's compute type for float32 products: DEFAULT is full float32, TF32 is "high"."""
    import cupy

    lin = _compute_types()
    kind = lin.get_compute_type(cupy.float32)  # reads CUPY_TF32 the first time
    if kind == lin.COMPUTE_TYPE_TF32:
        return "high"
    if kind == lin.COMPUTE_TYPE_DEFAULT:
        return "highest"
    return str(lin.compute_type_to_str(kind))  # e.g. COMPUTE_TYPE_FP16, which a user chose


def _set_precision(level: str) -> None:
    import cupy

    lin = _compute_types()
    if level == "highest":
        kind = lin.COMPUTE_TYPE_DEFAULT
    elif level == "high":
        # TF32 exists from compute capability 8.0 (Ampere); CuPy warns below it.
        capable = int(cupy.cuda.Device().compute_capability) >= 80
        kind = lin.COMPUTE_TYPE_TF32 if capable else lin.COMPUTE_TYPE_DEFAULT
    else:
        kind = getattr(lin, level)
    lin.set_compute_type(cupy.float32, kind)


# No compiler (compile=True is an error): CuPy refuses cuBLAS calls while a
# stream is being captured into a CUDA graph (cupy_backends/cuda/libs/cublas.pyx,
# setStream: "calling cuBLAS API during stream capture is currently
# unsupported"), and every step multiplies matrices. benchmarks/bench_gpu.py
# checks whether the installed CuPy still refuses.
LIBRARY = Library(
    name="cupy",
    module="cupy",
    extra="'xpnet[cuda12]' (or 'xpnet[cuda13]' for CUDA 13)",
    namespace="array_api_compat.cupy",
    parse_device=_parse_device,
    devices=lambda: [f"cuda:{i}" for i in range(_device_count())],
    to_host=lambda x: x.get(),
    is_array=array_api_compat.is_cupy_array,
    free_memory=_free_memory,
    natives=_natives,
    in_place=True,
    precision=Precision(
        level=_get_precision, setting=global_setting(_get_precision, _set_precision)
    ),
)
