"""Test xpnet on every backend this machine can run: `nox`, or `nox -s tests-torch`."""

from __future__ import annotations

import os
import shutil

import nox

nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = True

# On the project's machines `torch==2.13.0` is a local CPU wheel; an unpinned
# torch can pull a multi-GB CUDA build. Override with XPNET_TORCH_PIN.
TORCH = os.environ.get("XPNET_TORCH_PIN", "torch==2.13.0")
PYTEST = ("pytest", "tests", "xpnet")


def _run_tests(session: nox.Session, extras: str, *deps: str, env: dict[str, str]) -> None:
    session.install("-e", f".[test{extras}]", *deps)
    session.run(*PYTEST, *session.posargs, env=env)


@nox.session(name="tests-numpy")
def tests_numpy(session: nox.Session) -> None:
    """Run the tests on NumPy."""
    _run_tests(session, "", env={"XPNET_BACKEND": "numpy"})


@nox.session(name="tests-array_api_strict")
@nox.parametrize("device", ["cpu", "device1"])
def tests_strict(session: nox.Session, device: str) -> None:
    """Run the tests on array-api-strict (standard 2024.12), on its CPU and simulated device1."""
    env = {
        "XPNET_BACKEND": "array_api_strict",
        "XPNET_DEVICE": device,
        "XPNET_STRICT_API_VERSION": "2024.12",
    }
    _run_tests(session, ",strict", env=env)


@nox.session(name="tests-torch")
@nox.parametrize("default_dtype", ["float32", "float64"])
def tests_torch(session: nox.Session, default_dtype: str) -> None:
    """Run the tests on PyTorch (CPU), under both default dtypes."""
    env = {
        "XPNET_BACKEND": "torch",
        "XPNET_DEVICE": "cpu",
        "XPNET_TORCH_DEFAULT_DTYPE": default_dtype,
    }
    _run_tests(session, "", TORCH, env=env)


@nox.session(name="tests-jax")
def tests_jax(session: nox.Session) -> None:
    """Run the tests on JAX (CPU) with float64 enabled."""
    env = {"XPNET_BACKEND": "jax", "XPNET_DEVICE": "cpu", "JAX_ENABLE_X64": "1"}
    _run_tests(session, ",jax", env=env)


@nox.session(name="tests-cupy")
def tests_cupy(session: nox.Session) -> None:
    """Run the tests on CuPy; skipped on machines without an NVIDIA GPU."""
    if shutil.which("nvidia-smi") is None:
        session.skip("no NVIDIA GPU on this machine (nvidia-smi not found)")
    extra = os.environ.get("XPNET_CUPY_EXTRA", "cuda12")
    _run_tests(session, f",{extra}", env={"XPNET_BACKEND": "cupy"})


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation, running every code block; warnings are errors."""
    session.install("-e", ".[docs]")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "build/site", env={"NO_MKDOCS_2_WARNING": "1"}
    )


@nox.session
@nox.parametrize("backend", ["numpy", "array_api_strict"])
def notebook(session: nox.Session, backend: str) -> None:
    """Execute examples/tutorial.ipynb in a kernel, briefly; copies go to build/notebook."""
    session.install("-e", ".[test,notebook,strict]")
    env = {
        "XPNET_RUN_NOTEBOOK": "1",
        "XPNET_BACKEND": backend,
        "XPNET_TUTORIAL_ITERS": os.environ.get("XPNET_TUTORIAL_ITERS", "300"),
    }
    session.run("pytest", "tests/test_notebook.py", *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common mistakes with ruff."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def types(session: nox.Session) -> None:
    """Type-check the package with mypy."""
    session.install("-e", ".", "mypy>=1.10")
    session.run("mypy")
