"""Backend fixtures: every test is written once and runs on the backend
named by ``XPNET_BACKEND`` / ``XPNET_DEVICE`` (set by each nox session).

Every test is in exactly one of two groups, checked at collection:

* **backend-dependent**: it requests the ``backend`` fixture (or ``xp``,
  ``device``, ``dtype``, which depend on it; ``@pytest.mark.usefixtures("backend")``
  for a test that reaches the backend another way, such as a child process
  reading ``XPNET_BACKEND``). It runs in every backend's session.
* **backend-independent**: marked ``@pytest.mark.backend_independent`` (per
  test, class or module). Argument parsing, output files, the sweep store,
  locks, data files, docs strings, the architecture: it runs once, on NumPy,
  in the session that sets ``XPNET_RUN_INDEPENDENT=1`` (nox's tests-numpy;
  the default when pytest is run by hand). Elsewhere it is deselected, and
  counted as such in pytest's summary.

Doctests are backend-dependent: a reader runs an example on the backend
they chose (``XPNET_BACKEND``), so each session runs them on its own (they
take a fraction of a second in all).

A test not marked ``slow`` (with its reason: ``@pytest.mark.slow(reason=...)``)
must take at most 20 s; see :func:`pytest_runtest_makereport`.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from _pytest.doctest import DoctestItem
from helpers import timeout_scale

import xpnet
from xpnet.backend import Backend, float64_available, resolve_backend

BACKEND_NAME = os.environ.get("XPNET_BACKEND") or "numpy"
DEVICE_NAME = os.environ.get("XPNET_DEVICE") or None
#: Set by scripts/gpu_check.sh: a backend that cannot run (no GPU) fails every test
#: that needs it, instead of skipping them all, which would read as a green run.
REQUIRED = os.environ.get("XPNET_REQUIRE_BACKEND", "") not in ("", "0")
ROOT = Path(__file__).parents[1]


def _restore_ctrl_c() -> None:
    """Let the tests' child processes take Ctrl-C, whatever started the suite.

    A shell without job control starts a background command (``pytest ... &``)
    with SIGINT ignored, and an ignored signal stays ignored across ``exec``:
    every ``xpnet`` the tests start would then sleep through the SIGINT that
    the signal tests send it. A handled signal is reset to the default in a
    child, so taking Python's own handler back here restores it there too.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


_restore_ctrl_c()


def _configure_libraries() -> None:
    if BACKEND_NAME == "array_api_strict":
        import array_api_strict

        # The oldest standard xpnet supports: take_along_axis arrived in 2024.12.
        version = os.environ.get("XPNET_STRICT_API_VERSION", "2024.12")
        array_api_strict.set_array_api_strict_flags(api_version=version)
    if BACKEND_NAME == "jax":
        _jax_compilation_cache()
    if BACKEND_NAME == "torch":
        import torch

        # Library code must never rely on torch's default dtype.
        default = os.environ.get("XPNET_TORCH_DEFAULT_DTYPE", "float32")
        torch.set_default_dtype(getattr(torch, default))
        # Exact comparisons on GPUs: no TF32 in matmuls.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def _jax_compilation_cache() -> None:
    """JAX's persistent compilation cache, in build/ (or ``XPNET_JAX_CACHE``), for this session.

    Tests build many jitted functions whose programs are the same (a new
    ``train()`` call, a network of the same shapes): keyed by the program,
    the cache compiles each once per session, and once per machine across
    sessions. Set through the environment, so that the ``xpnet`` processes
    the tests start use it too. Set ``XPNET_JAX_CACHE=off`` to leave it off.
    """
    folder = os.environ.get("XPNET_JAX_CACHE") or str(ROOT / "build" / "jax-cache")
    if folder == "off":
        return
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", folder)
    # Every program, however quick to compile: most of the suite's are small.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")


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
    """Make the backend under test current inside each test (not in doctests).

    A backend-independent test runs on NumPy whatever the session, child
    processes included (``XPNET_BACKEND=numpy``): its result cannot depend on
    which session ran it. Doctests see NumPy through the environment only
    (a ``use_backend`` context would hide the ``set_backend`` of an example).
    """
    node = request.node
    if node.get_closest_marker("backend_independent") is not None:
        with pytest.MonkeyPatch.context() as patch, xpnet.use_backend("numpy"):
            patch.setenv("XPNET_BACKEND", "numpy")
            patch.delenv("XPNET_DEVICE", raising=False)
            yield
    elif isinstance(node, pytest.Function) and not isinstance(_BACKEND, str):
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


# --- which session runs a test --------------------------------------------------------------

#: Fixtures whose request makes a test backend-dependent.
BACKEND_FIXTURES = frozenset({"backend", "xp", "device", "dtype"})


def run_independent() -> bool:
    """Whether this session runs the backend-independent tests (``XPNET_RUN_INDEPENDENT``)."""
    return os.environ.get("XPNET_RUN_INDEPENDENT", "1").strip().lower() not in ("0", "", "no")


def _group_problem(item: pytest.Item) -> str | None:
    """Why `item` is not in exactly one group (or its slow mark lacks a reason), else None."""
    fixtures = BACKEND_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    dependent = bool(fixtures) or isinstance(item, DoctestItem)
    independent = item.get_closest_marker("backend_independent") is not None
    slow = item.get_closest_marker("slow")
    if slow is not None and not (slow.args or slow.kwargs.get("reason")):
        return "is marked slow without a reason: @pytest.mark.slow(reason=...)"
    if dependent and independent:
        return "requests the backend fixture and is marked backend_independent: choose one"
    if not (dependent or independent):
        return (
            "neither requests the backend fixture (backend, xp, device, dtype; or "
            '@pytest.mark.usefixtures("backend")) nor is marked backend_independent'
        )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check that every test is in one group; deselect the independent ones where they don't run."""
    problems = []
    keep, deselected = [], []
    for item in items:
        problem = _group_problem(item)
        if problem:
            problems.append(f"{item.nodeid} {problem}")
        if item.get_closest_marker("backend_independent") and not run_independent():
            deselected.append(item)
        else:
            keep.append(item)
    if problems:
        raise pytest.UsageError(
            "Every test is backend-dependent or backend-independent (tests/conftest.py):\n  "
            + "\n  ".join(problems)
        )
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


def pytest_report_header(config: pytest.Config) -> list[str]:
    where = "here" if run_independent() else "not here (XPNET_RUN_INDEPENDENT=0): in tests-numpy"
    return [
        f"xpnet backend under test: {BACKEND_NAME} (device {DEVICE_NAME or 'default'})",
        f"backend-independent tests: run {where}",
        f"budget of an unmarked test: {test_budget():.0f} s "
        f"(XPNET_TEST_TIMEOUT_SCALE={timeout_scale():g})",
    ]


# --- the 20 s budget of an unmarked test ------------------------------------------------------

#: Seconds an unmarked test may take on a quiet 2-core machine (see test_budget()).
BUDGET_S = 20.0
_started = pytest.StashKey[tuple[float, float]]()


def test_budget() -> float:
    """``BUDGET_S`` times ``XPNET_TEST_TIMEOUT_SCALE``."""
    return BUDGET_S * timeout_scale()


test_budget.__test__ = False  # type: ignore[attr-defined]  # not a test


def _clocks() -> tuple[float, float]:
    """(wall, CPU) seconds; CPU time is this process's and its finished children's, all threads."""
    t = os.times()
    return time.monotonic(), t.user + t.system + t.children_user + t.children_system


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_started] = _clocks()


@pytest.hookimpl(wrapper=True, trylast=True)  # inside the reliability report's wrapper
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Fail a passing unmarked test whose set-up and call took more than the budget.

    What is measured is the smaller of the wall-clock and the CPU time (this
    process's threads and the children it waited for). On a busy machine a
    test's wall-clock time grows but its CPU time does not; a test that
    computes on several threads uses more CPU than wall-clock time. Either
    way the smaller is what the test would take alone on a quiet machine,
    give or take. (A test that only waits would escape the CPU measure; tests
    wait for events, never for fixed times: see helpers.wait_until.)

    CPU time grows too when the machine is oversubscribed (shared caches, and
    BLAS threads that spin while they wait for a core: 2 s tests took 20-30 s
    of CPU beside stress-ng at a load of 17 on 2 cores), so the budget grows
    with the load average beyond the core count.
    """
    report = yield
    if call.when != "call" or not report.passed or item.get_closest_marker("slow"):
        return report
    wall0, cpu0 = item.stash.get(_started, _clocks())
    wall1, cpu1 = _clocks()
    took = min(wall1 - wall0, cpu1 - cpu0)
    busy = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    if took > test_budget() * busy:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} took {took:.1f} s (wall {wall1 - wall0:.1f} s, CPU {cpu1 - cpu0:.1f} s), "
            f"more than the {test_budget() * busy:.0f} s an unmarked test may take here "
            f"(20 s x XPNET_TEST_TIMEOUT_SCALE={timeout_scale():g} x {busy:.1f} for the load): "
            "make it faster, or mark it @pytest.mark.slow(reason=...)"
        )
    return report
