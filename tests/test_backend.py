"""The backend layer: choosing, resolving, moving data, and its errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from helpers import assert_array, assert_close

import xpnet
from xpnet import backend as bk


@pytest.fixture
def clean_choice(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No use_backend context, no set_backend choice, no environment variables."""
    monkeypatch.setattr(bk._backends, "_chosen", None)
    monkeypatch.delenv("XPNET_BACKEND", raising=False)
    monkeypatch.delenv("XPNET_DEVICE", raising=False)
    token = bk._backends._context.set(None)
    yield
    bk._backends._context.reset(token)


def has_gpu(name: str) -> bool:
    if name == "torch":
        import torch

        return torch.cuda.is_available()
    import jax

    return any(d.platform == "gpu" for d in jax.devices())


@pytest.mark.backend_independent
def test_import_loads_no_backend_library() -> None:
    code = (
        "import sys, xpnet; "
        "print(sorted(m for m in ('torch', 'cupy', 'jax', 'matplotlib', 'array_api_strict', "
        "'dask', 'distributed', 'dask_cuda', 'threadpoolctl') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.backend_independent
def test_default_is_numpy_on_cpu(clean_choice: None) -> None:
    b = xpnet.get_backend()
    assert (b.name, b.device) == ("numpy", "cpu")
    assert b.xp.__name__ == "array_api_compat.numpy"


def test_environment_chooses(
    clean_choice: None, backend: bk.Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XPNET_BACKEND", backend.name)
    assert xpnet.get_backend().name == backend.name


@pytest.mark.parametrize("blank", ["", "  "])
def test_an_empty_device_means_the_backends_default(
    clean_choice: None, backend: bk.Backend, monkeypatch: pytest.MonkeyPatch, capsys, blank: str
) -> None:
    """``XPNET_DEVICE=`` and ``--device ""`` (scripts set them so) name no device: the default."""
    default = bk.resolve_backend(backend.name)
    monkeypatch.setenv("XPNET_BACKEND", backend.name)
    monkeypatch.setenv("XPNET_DEVICE", blank)
    assert xpnet.get_backend() == default
    assert bk.resolve_backend(backend.name, blank) == default
    assert bk.resolve_backend(backend, blank) is backend  # as None: the Backend's own device
    from xpnet.cli import main

    argv = ["gradcheck", "--backend", backend.name, "--device", blank, "--hidden", "2"]
    assert main([*argv, "--mode", "fast", "--directions", "1"]) == 0
    assert f"on {backend.name}" in capsys.readouterr().out


def test_use_backend_nests_and_restores_on_error(backend: bk.Backend) -> None:
    outer = xpnet.get_backend()
    with xpnet.use_backend("numpy") as inner:
        assert xpnet.get_backend() is inner
        with pytest.raises(ZeroDivisionError), xpnet.use_backend(backend):
            assert xpnet.get_backend() is backend
            1 / 0  # noqa: B018
        assert xpnet.get_backend() is inner
    assert xpnet.get_backend() is outer


def test_set_backend_and_reset(clean_choice: None, backend: bk.Backend) -> None:
    assert xpnet.set_backend(backend.name, backend.device) == backend
    assert xpnet.get_backend() == backend
    xpnet.set_backend(None)
    assert xpnet.get_backend().name == "numpy"


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown backend 'tensorflow'.*numpy, cupy, torch, jax"):
        xpnet.use_backend("tensorflow").__enter__()


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_set_backend_error_changes_nothing(clean_choice: None) -> None:
    before = xpnet.get_backend()
    with pytest.raises(ValueError, match="Unknown backend"):
        xpnet.set_backend("nope")
    assert xpnet.get_backend() is before


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from xpnet.backend._registry import LIBRARIES

    missing = dataclasses.replace(LIBRARIES["torch"], module="xpnet_no_such_module")
    monkeypatch.setitem(LIBRARIES, "torch", missing)
    monkeypatch.setattr(bk._backends, "_made", {})
    with pytest.raises(ImportError, match=r"pip install 'xpnet\[torch\]'"):
        bk.resolve_backend("torch")


@pytest.mark.reliability("bad input")
def test_cuda_without_gpu_says_so(backend: bk.Backend) -> None:
    if backend.name not in ("torch", "jax"):
        pytest.skip("CUDA devices are parsed by the torch and jax backends")
    if has_gpu(backend.name):
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="GPU"):
        bk.resolve_backend(backend.name, "cuda")


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_bad_device_strings() -> None:
    with pytest.raises(ValueError, match="NumPy runs on 'cpu' only"):
        bk.resolve_backend("numpy", "cuda")
    with pytest.raises(TypeError, match="`backend` must be a name"):
        bk.resolve_backend(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype_name", ["float32", "int32", "uint8"])
def test_asarray_and_to_numpy_round_trip(backend: bk.Backend, dtype_name: str) -> None:
    host = np.arange(6).reshape(2, 3).astype(dtype_name)
    x = xpnet.asarray(host, dtype=dtype_name)
    assert_close(x, host, backend=backend, dtype=getattr(backend.xp, dtype_name))
    back = xpnet.to_numpy(x)
    assert isinstance(back, np.ndarray) and back.dtype == host.dtype
    np.testing.assert_array_equal(back, host)


def test_asarray_default_float_dtype(backend: bk.Backend) -> None:
    """Python floats get xpnet's default float32; a NumPy array keeps its float64."""
    x = xpnet.asarray([0.5, 1.5])
    assert_array(x, backend=backend, dtype=backend.xp.float32, shape=(2,))
    typed = xpnet.asarray(np.array([0.5, 1.5]))
    expected = "float64" if bk.float64_available(backend) else "float32"
    assert_array(typed, backend=backend, dtype=getattr(backend.xp, expected), shape=(2,))


@pytest.mark.reliability("bad input")
def test_asarray_refuses_foreign_arrays(backend: bk.Backend) -> None:
    if backend.name == "numpy":
        pytest.skip("needs a second library")
    x = xpnet.asarray([1.0], dtype="float32")
    with pytest.raises(TypeError, match="already an array of"):
        xpnet.asarray(x, backend="numpy")


@pytest.mark.reliability("bad input")
def test_resolve_dtype_errors(backend: bk.Backend) -> None:
    with pytest.raises(TypeError, match="Unknown dtype 'float128'"):
        bk.resolve_dtype(backend, "float128")
    with pytest.raises(TypeError, match="Unknown dtype 'asarray'"):
        bk.resolve_dtype(backend, "asarray")


@pytest.mark.reliability("bad input")
def test_namespace_refuses_mixed_libraries(backend: bk.Backend) -> None:
    if backend.name == "numpy":
        pytest.skip("needs a second library")
    with pytest.raises(TypeError, match="one array library"):
        bk.namespace(np.zeros(2), xpnet.asarray([1.0, 2.0]))


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_namespace_refuses_mixed_devices() -> None:
    pytest.importorskip("array_api_strict")
    a = xpnet.asarray([1.0], backend="array_api_strict", device="cpu")
    b = xpnet.asarray([1.0], backend="array_api_strict", device="device1")
    with pytest.raises(ValueError, match=r"different devices: .*CPU_DEVICE.*device1"):
        bk.namespace(a, b)
    np.testing.assert_array_equal(xpnet.to_numpy(b), [1.0])


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_namespace_refuses_non_arrays() -> None:
    with pytest.raises(TypeError, match=r"xpnet.asarray"):
        xpnet.softmax([1.0, 2.0])


def test_index_dtype_is_integral(backend: bk.Backend) -> None:
    assert backend.xp.isdtype(bk.index_dtype(backend.xp, backend.device), "signed integer")


def test_backends_hash_and_compare_by_name_and_device(backend: bk.Backend) -> None:
    """Backends are dict keys on every library, CuPy's once-unhashable devices included."""
    again = bk.resolve_backend(backend.name, backend.device)
    assert again == backend and hash(again) == hash(backend)
    assert {backend: 1}[again] == 1
    assert backend != bk.resolve_backend("numpy") or backend.name == "numpy"


@pytest.mark.backend_independent
def test_an_unhashable_device_object_still_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __str__(self) -> str:
            return "cpu"

    monkeypatch.setattr(bk._backends, "_made", {})
    b = bk.resolve_backend("numpy", Unhashable())
    assert b.name == "numpy" and str(b.device) == "cpu" and hash(b) == hash(("numpy", "cpu"))


@pytest.mark.backend_independent
def test_adding_a_library_is_one_record() -> None:
    """Every registry record says how to import, parse devices, list them and reach the host."""
    from xpnet.backend._registry import LIBRARIES

    assert tuple(LIBRARIES) == bk.BACKENDS
    for name, lib in LIBRARIES.items():
        assert lib.name == name and lib.extra and lib.namespace
        assert callable(lib.parse_device) and callable(lib.to_host) and callable(lib.is_array)


@pytest.mark.reliability("bad input")
def test_complex64_is_not_mistaken_for_a_64_bit_dtype(backend: bk.Backend) -> None:
    """Only float64, int64, uint64 and complex128 need 64-bit support (JAX without x64)."""
    assert bk.resolve_dtype(backend, "complex64") == backend.xp.complex64
    assert bk.dtype_name(bk.resolve_dtype(backend, "float32"), xp=backend.xp) == "float32"


@pytest.mark.reliability("bad input")
def test_mixed_libraries_are_named_not_file_paths(backend: bk.Backend) -> None:
    if backend.name == "numpy":
        pytest.skip("needs a second library")
    with pytest.raises(TypeError, match=rf"arrays of numpy, {backend.name}\.") as info:
        bk.namespace(np.zeros(2), xpnet.asarray([1.0, 2.0]))
    assert "/" not in str(info.value) and ".py" not in str(info.value)


@pytest.mark.usefixtures("backend")  # PyTorch's devices: runs where torch is
@pytest.mark.reliability("bad input")
def test_torch_devices_are_what_torch_reports() -> None:
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="one CPU device"):
        bk.resolve_backend("torch", "cpu:5")
    with pytest.raises(ValueError, match="Invalid device 'gpu0'"):
        bk.resolve_backend("torch", "gpu0")
    if "mps:0" not in bk.available_devices("torch"):
        with pytest.raises(
            RuntimeError, match=r"'mps' needs a 'mps' accelerator, but PyTorch .* \(usable: cpu"
        ):
            bk.resolve_backend("torch", "mps")
