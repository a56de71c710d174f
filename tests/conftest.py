"""Backend fixtures: every test is written once and runs on the backend
named by ``XPNET_BACKEND`` / ``XPNET_DEVICE`` (set by each nox session)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import xpnet
from xpnet.backend import Backend, float64_available, resolve_backend

BACKEND_NAME = os.environ.get("XPNET_BACKEND") or "numpy"
DEVICE_NAME = os.environ.get("XPNET_DEVICE") or None
#: Set by scripts/gpu_check.sh: a backend that cannot run (no GPU) fails every test
#: that needs it, instead of skipping them all, which would read as a green run.
REQUIRED = os.environ.get("XPNET_REQUIRE_BACKEND", "") not in ("", "0")


def _configure_libraries() -> None:
    if BACKEND_NAME == "array_api_strict":
        import array_api_strict

        # The oldest standard xpnet supports: take_along_axis arrived in 2024.12.
        version = os.environ.get("XPNET_STRICT_API_VERSION", "2024.12")
        array_api_strict.set_array_api_strict_flags(api_version=version)
    if BACKEND_NAME == "torch":
        import torch

        # Library code must never rely on torch's default dtype.
        default = os.environ.get("XPNET_TORCH_DEFAULT_DTYPE", "float32")
        torch.set_default_dtype(getattr(torch, default))
        # Exact comparisons on GPUs: no TF32 in matmuls.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def _load_backend() -> Backend | str:
    """The backend under test, or the reason it cannot run here."""
    try:
        _configure_libraries()
        return resolve_backend(BACKEND_NAME, DEVICE_NAME)
    except ImportError as exc:
        return f"backend {BACKEND_NAME!r} is not installed: {exc}"
    except RuntimeError as exc:  # no GPU
        return f"backend {BACKEND_NAME!r} has no usable device: {exc}"


_BACKEND = _load_backend()


@pytest.fixture(scope="session")
def backend() -> Backend:
    """The Backend under test; skips every test when it is unavailable (fails if it is required)."""
    if isinstance(_BACKEND, str):
        if REQUIRED:
            pytest.fail(f"{_BACKEND} (XPNET_REQUIRE_BACKEND is set: a skip would hide it)")
        pytest.skip(_BACKEND)
    return _BACKEND


@pytest.fixture
def xp(backend: Backend) -> Any:
    return backend.xp


@pytest.fixture
def device(backend: Backend) -> Any:
    return backend.device


@pytest.fixture(autouse=True)
def _current_backend(request: pytest.FixtureRequest) -> Any:
    """Make the backend under test current inside each test (not in doctests)."""
    if isinstance(request.node, pytest.Function) and not isinstance(_BACKEND, str):
        with xpnet.use_backend(_BACKEND):
            yield
    else:
        yield


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest, backend: Backend) -> Any:
    """Each floating dtype the backend's device has, as the backend's dtype object."""
    if request.param == "float64" and not float64_available(backend):
        pytest.skip(f"{backend} has no float64")
    return getattr(backend.xp, request.param)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST folder (XPNET_DATA, else ../shared/data/mnist); skip without it."""
    candidates = [os.environ.get("XPNET_DATA"), Path(__file__).parents[1] / "../shared/data/mnist"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").exists():
            return Path(candidate).resolve()
    pytest.skip("real MNIST not found: set XPNET_DATA to a folder holding the four IDX files")
