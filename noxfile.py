"""Test xpnet on every backend this machine can run: `nox`, or `nox -s tests-torch`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = True

# On the project's machines `torch==2.13.0` is a local CPU wheel; an unpinned
# torch can pull a multi-GB CUDA build. Override with XPNET_TORCH_PIN.
TORCH = os.environ.get("XPNET_TORCH_PIN", "torch==2.13.0")
XDIST = "pytest-xdist>=3.5,<4"
# --durations: the slowest tests of every session, in CI's log (tests/conftest.py fails
# an unmarked test over its 20 s budget).
PYTEST = ("pytest", "tests", "xpnet", "--durations=25")


def _run_tests(
    session: nox.Session,
    extras: str,
    *deps: str,
    env: dict[str, str | None],
    slow: bool = True,
    independent: bool = False,
    report: str | None = None,
    workers: int = 0,
) -> None:
    """Install the extras and run the suite; ``slow=False`` leaves out the long MNIST runs.

    Sessions that repeat a backend in a second configuration (array-api-strict's
    simulated device, PyTorch's float64 default) skip the slow tests, which the
    first configuration already ran: CI stays well under its time limit.
    Backend-independent tests run in the session with ``independent=True``
    only (tests/conftest.py deselects them elsewhere). ``report`` names the
    reliability counts that docs/reliability.md shows (scripts/reliability.py).
    ``workers`` > 0 runs the tests in that many processes (pytest-xdist).
    """
    session.install("-e", f".[test{extras}]", *deps, *([XDIST] if workers else []))
    args = [*PYTEST, *(() if slow else ("-m", "not slow"))]
    if workers:
        args += ["-n", str(workers)]
    if report:
        args.append(f"--reliability-report=build/reliability-{report}.json")
    env = {**env, "XPNET_RUN_INDEPENDENT": "1" if independent else "0"}
    session.run(*args, *session.posargs, env=env)


@nox.session(name="tests-numpy")
def tests_numpy(session: nox.Session) -> None:
    """Run the tests on NumPy, the backend-independent ones and the sweeps' clusters (only here)."""
    env = {"XPNET_BACKEND": "numpy"}
    _run_tests(session, ",distributed", env=env, independent=True, report="numpy")


@nox.session(name="tests-array_api_strict")
@nox.parametrize("device", ["cpu", "device1"])
def tests_strict(session: nox.Session, device: str) -> None:
    """Run the tests on array-api-strict (standard 2024.12), on its CPU and simulated device1."""
    env = {
        "XPNET_BACKEND": "array_api_strict",
        "XPNET_DEVICE": device,
        "XPNET_STRICT_API_VERSION": "2024.12",
    }
    cpu = device == "cpu"
    _run_tests(session, ",strict", env=env, slow=cpu, report="array_api_strict" if cpu else None)


@nox.session(name="tests-torch")
@nox.parametrize("default_dtype", ["float32", "float64"])
def tests_torch(session: nox.Session, default_dtype: str) -> None:
    """Run the tests on PyTorch (CPU), under both default dtypes."""
    env = {
        "XPNET_BACKEND": "torch",
        "XPNET_DEVICE": "cpu",
        "XPNET_TORCH_DEFAULT_DTYPE": default_dtype,
    }
    _run_tests(session, "", TORCH, env=env, slow=default_dtype == "float32")


@nox.session(name="tests-jax")
def tests_jax(session: nox.Session) -> None:
    """Run the tests on JAX (CPU) as a user would: JAX_ENABLE_X64 unset (xpnet turns x64 on).

    Eager JAX spends its time compiling and dispatching on one thread: two processes
    (pytest-xdist) keep two cores busy. tests/conftest.py keeps JAX's compilation
    cache in build/jax-cache, shared by both: a second run compiles little.
    """
    env = {"XPNET_BACKEND": "jax", "XPNET_DEVICE": "cpu", "JAX_ENABLE_X64": None}
    _run_tests(session, ",jax", env=env, workers=2)


@nox.session(name="tests-cupy")
def tests_cupy(session: nox.Session) -> None:
    """Run the tests on CuPy; skipped on machines without an NVIDIA GPU."""
    if shutil.which("nvidia-smi") is None:
        session.skip("no NVIDIA GPU on this machine (nvidia-smi not found)")
    extra = os.environ.get("XPNET_CUPY_EXTRA", "cuda12")
    _run_tests(session, f",{extra}", env={"XPNET_BACKEND": "cupy"})


@nox.session(default=False)
def quick(session: nox.Session) -> None:
    """The loop while editing: NumPy, then array-api-strict, without the slow tests."""
    session.install("-e", ".[test,strict,distributed]")
    fast = (*PYTEST, "-m", "not slow", *session.posargs)
    session.run(*fast, env={"XPNET_BACKEND": "numpy", "XPNET_RUN_INDEPENDENT": "1"})
    strict = {"XPNET_BACKEND": "array_api_strict", "XPNET_DEVICE": "cpu"}
    session.run(*fast, env={**strict, "XPNET_RUN_INDEPENDENT": "0"})


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation, running every code block; warnings are errors.

    The reliability page shows the counts that tests-numpy and tests-array_api_strict
    wrote into build/ (or the recorded ones, saying so): run those first, as `nox` does.
    """
    session.install("-e", ".[docs]")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "build/site", env={"NO_MKDOCS_2_WARNING": "1"}
    )


SITE = Path("build/site")
# What the site is built from: a site older than any of these is built again.
SITE_SOURCES = ("mkdocs.yml", "pyproject.toml", "README.md", "docs", "xpnet", "tests")
SITE_SUFFIXES = {".md", ".py", ".yml", ".toml", ".js", ".css", ".png", ".svg"}


def _site_is_current() -> bool:
    index = SITE / "index.html"
    if not index.exists():
        return False
    sources = [
        p
        for src in map(Path, SITE_SOURCES)
        for p in ([src] if src.is_file() else src.rglob("*"))
        if p.suffix in SITE_SUFFIXES and "__pycache__" not in p.parts
    ]
    return max(p.stat().st_mtime for p in sources) < index.stat().st_mtime


@nox.session(name="docs-browser")
def docs_browser(session: nox.Session) -> None:
    """Open every page of the site in headless Chromium: no errors, images and formulas shown."""
    browser = os.environ.get("XPNET_CHROMIUM") or shutil.which("chromium")
    if browser is None:
        message = "Chromium not found: apt-get install chromium (or set XPNET_CHROMIUM)"
        if os.environ.get("CI"):
            session.error(message)
        session.skip(message)
    if _site_is_current():
        session.log(f"{SITE} is newer than its sources (built by `nox -s docs`): checking it")
        session.install("-e", ".[test]", "playwright>=1.45,<2", "pyyaml>=6")
    else:
        session.install("-e", ".[docs]", "playwright>=1.45,<2", "pyyaml>=6")
        session.run(
            "mkdocs", "build", "--strict", "--site-dir", str(SITE),
            env={"NO_MKDOCS_2_WARNING": "1"},
        )  # fmt: skip
    env = {"XPNET_DOCS_SITE": str(SITE), "XPNET_CHROMIUM": str(browser)}
    session.run("pytest", "tests/test_docs_browser.py", *session.posargs, env=env)


@nox.session
@nox.parametrize("backend", ["numpy", "array_api_strict"])
def notebook(session: nox.Session, backend: str) -> None:
    """Execute examples/tutorial.ipynb in a kernel, briefly; copies go to build/notebook."""
    session.install("-e", ".[test,notebook,strict]")
    env = {
        "XPNET_RUN_NOTEBOOK": "1",
        "XPNET_RUN_INDEPENDENT": "0",  # the file's History tests run in tests-numpy
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
