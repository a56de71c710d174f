"""PyTorch: CPU, CUDA, and whatever other accelerator the installed build has (mps, xpu)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import array_api_compat

from .._typing import Device
from ..errors import BackendError, DeviceNotAvailableError
from ._convolutions import torch_natives
from ._library import Compiler, Library, Precision, global_setting

#: Accelerator types listed by ``xpnet info`` when the installed torch has them.
ACCELERATORS = ("cuda", "xpu", "mps")


def _accelerator(kind: str) -> Any:
    """torch.cuda, torch.xpu, torch.mps… when that module exists and says it is usable."""
    import torch

    module = getattr(torch, kind, None)
    available = getattr(module, "is_available", None)
    return module if available is not None and available() else None


def _parse_device(spec: Any) -> Any:
    import torch

    if spec is None:
        return torch.device("cpu")
    if not isinstance(spec, str):
        raise BackendError(f"Invalid device {spec!r} for backend 'torch': expected a string.")
    try:
        dev = torch.device(spec)
    except RuntimeError as exc:
        raise BackendError(f"Invalid device {spec!r} for backend 'torch': {exc}") from None
    if dev.type == "cpu":
        if dev.index not in (None, 0):
            raise BackendError(
                f"Invalid device {spec!r} for backend 'torch': there is one CPU device, 'cpu'."
            )
        return torch.device("cpu")
    module = _accelerator(dev.type)
    if module is None:
        what = "a CUDA GPU" if dev.type == "cuda" else f"a {dev.type!r} accelerator"
        raise DeviceNotAvailableError(
            f"Device {spec!r} needs {what}, but PyTorch {torch.__version__} has none usable "
            f"here (usable: {', '.join(_devices())})."
        )
    count = module.device_count() if hasattr(module, "device_count") else 1
    index = dev.index
    if index is None:  # arrays report "cuda:0", never "cuda": name the index
        index = module.current_device() if hasattr(module, "current_device") else 0
    if index >= count:
        raise DeviceNotAvailableError(
            f"Device {spec!r} does not exist: PyTorch sees {count} {dev.type} device(s)."
        )
    return torch.device(dev.type, index)


def _free_memory(dev: Any) -> int | None:
    """Free bytes on a CUDA device, with what torch's caching allocator holds unused; None else."""
    if dev.type != "cuda":
        return None
    import torch

    cached = torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev)
    return int(torch.cuda.mem_get_info(dev)[0] + cached)


def _devices() -> list[str]:
    found = ["cpu"]
    for kind in ACCELERATORS:
        module = _accelerator(kind)
        if module is not None:
            count = module.device_count() if hasattr(module, "device_count") else 1
            found += [f"{kind}:{i}" for i in range(count)]
    return found


@contextlib.contextmanager
def _perturbation(x: Any) -> Iterator[Any]:
    """Write into ``x.data`` with autograd off: no tape, and x's version counter is untouched.

    Writing into a tensor that requires grad (an ``nn.Parameter``) fails
    outside ``torch.no_grad()``; writing into ``x`` itself inside it would
    still bump ``x._version`` and make a saved graph refuse to backpropagate.
    ``x.data`` shares the storage but not the version counter.
    """
    import torch

    with torch.no_grad():
        yield x.data


def _natives() -> dict[str, Any]:
    import torch

    return {
        "sigmoid": torch.sigmoid,
        "softmax": lambda x, axis=-1: torch.softmax(x, dim=axis),
        # array-api-compat's take adds three operations to wrap negative indices
        "take": lambda x, indices, axis: torch.index_select(x, axis, indices),
        # ReLU's backward as autograd does it: one kernel, not a comparison and a where
        "relu_backward": lambda dout, x: torch.ops.aten.threshold_backward(dout, x, 0),
        **torch_natives(),  # conv2d, max_pool2d and their backwards
    }


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No warnings from torch.compile's own machinery.

    Dynamo warns when it traces through array-api-compat's cached helpers,
    and compiling imports parts of torch that warn about deprecated parts of
    torch; neither is the user's business. Inductor also warns, once per
    process, that a GPU's TF32 tensor cores are "available but not enabled":
    xpnet chose that itself (full float32 unless ``precision="high"``, see
    :mod:`xpnet.backend._precision`), so the advice is not the user's either.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*functools.lru_cache", category=UserWarning)
        warnings.filterwarnings(
            "ignore", message="TensorFloat32 tensor cores", category=UserWarning
        )
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def _compile(fn: Any, mode: str | None = None) -> Any:
    """``torch.compile(fn)`` for fixed shapes, quiet while it compiles (see :func:`_quiet`)."""
    import torch

    with _quiet():
        compiled = torch.compile(fn, mode=mode, dynamic=False)
    calls = 0

    def call(*args: Any) -> Any:
        nonlocal calls
        if calls >= 3:  # compiled (and, on CUDA, recorded as a graph): no more warnings to hide
            return compiled(*args)
        calls += 1
        with _quiet():
            return compiled(*args)

    return call


def _copies(tensors: list[Any]) -> list[Any]:
    """Fresh copies of `tensors`, made by one multi-tensor kernel (one launch, not one each)."""
    import torch

    copies = [torch.empty_like(tensor) for tensor in tensors]
    if copies:
        torch._foreach_copy_(copies, tensors)
    return copies


def _replayed(compiled: Any) -> Any:
    """The step around `compiled`, a step that CUDA graphs replay: its outputs made the caller's.

    A CUDA graph writes every replay's outputs into the same memory, and
    inductor's CUDA-graph trees invalidate the previous replay's outputs
    when the next one begins ("accessing tensor output of CUDAGraphs that
    has been overwritten by a subsequent run"). The parameters a step
    returns are the next step's inputs, and the loop keeps each step's
    loss: so each step begins a new iteration of the tree
    (``cudagraph_mark_step_begin``) and returns copies, made in one kernel,
    which no later replay touches.
    """
    import torch

    def step(state: Any, x: Any, t: Any, index: Any) -> Any:
        torch.compiler.cudagraph_mark_step_begin()
        state, loss = compiled(state, x, t, index)
        owned = iter(_copies([*(v for part in state for v in part.values()), loss]))
        return tuple({k: next(owned) for k in part} for part in state), next(owned)

    return step


def _compile_step(body: Any, device: Device) -> Any:
    """The step through inductor; on CUDA also replayed as a CUDA graph ("reduce-overhead")."""
    if device.type != "cuda":
        return _compile(body)
    import torch

    compiled = _replayed(_compile(body, "reduce-overhead"))
    marked: set[int] = set()

    def step(state: Any, x: Any, t: Any, index: Any) -> Any:
        for data in (x, t):  # the whole data set: a CUDA graph must not copy it at every step
            if id(data) not in marked:
                torch._dynamo.mark_static_address(data)
                marked.add(id(data))
        return compiled(state, x, t, index)

    return step


def _get_precision() -> str:
    import torch

    return str(torch.get_float32_matmul_precision())


def _set_precision(level: str) -> None:
    import torch

    # The setting torch documents (its allow_tf32 flags are the legacy form):
    # "highest" is full float32 on every device, "high" allows TF32 on CUDA.
    torch.set_float32_matmul_precision(level)


#: torch.compile is off by default: on a 2-core CPU compiling the chapter's step
#: takes longer than the 10,000 iterations it speeds up (docs/compile.md).
#: Evaluations stay eager: four large operations, which inductor speeds up by
#: some 10% (0.015 s an evaluation) for 10-25 s of compiling each data shape.
COMPILER = Compiler(name="torch.compile", auto=lambda device: False, step=_compile_step)

LIBRARY = Library(
    name="torch",
    module="torch",
    extra="'xpnet[torch]'",
    namespace="array_api_compat.torch",
    parse_device=_parse_device,
    devices=_devices,
    to_host=lambda x: x.detach().cpu().resolve_conj().numpy(),
    is_array=array_api_compat.is_torch_array,
    free_memory=_free_memory,
    perturbation=_perturbation,
    compiler=COMPILER,
    natives=_natives,
    in_place=True,
    precision=Precision(
        level=_get_precision, setting=global_setting(_get_precision, _set_precision)
    ),
)
