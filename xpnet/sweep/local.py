"""The embedded cluster: Dask's LocalCluster on 127.0.0.1, sized to this machine and quiet.

One single-threaded worker process per core (or per GPU with dask-cuda), its
numeric libraries on one thread and malloc as glibc settles it
(:func:`worker_environment`), Dask's monitoring slowed (:data:`QUIET`). At
most :data:`PER_CORE` workers per core, and as many as the memory available
holds at :data:`WORKER_BYTES` each (:func:`most_workers`).

The workers share this process's terminal: a Ctrl-C reaches them too. They
ignore it once started (``xpnet.sweep.run.dask_setup``), the cluster starts
with this process's Ctrl-C held back, and what they print while starting goes
to the null device unless debugging (``XPNET_DEBUG=1``), so that an
interrupted sweep says one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from .. import _memory
from ..backend import deferred_interrupts
from ..errors import NotInstalledError
from .remote import debugging, distributed_module

__all__ = [
    "MALLOC",
    "PER_CORE",
    "QUIET",
    "THREAD_LIMITS",
    "WORKER_BYTES",
    "cores",
    "local_cluster",
    "most_workers",
    "worker_environment",
]

#: Environment of embedded workers: one thread per worker in every numeric library.
THREAD_LIMITS = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
#: glibc's malloc as it settles by itself. Dask sets MALLOC_TRIM_THRESHOLD_=65536 for
#: its workers, which turns off glibc's adaptive mmap threshold: every temporary array
#: over 128 KiB is then mapped and unmapped again, and a training run spends ~15x more
#: page faults (measured: +20-50 % CPU time per run). These are the values glibc adapts to.
MALLOC = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "67108864"}
#: Dask's own monitoring in the embedded cluster, slowed to what runs of seconds need. Its
#: defaults wake every event loop (scheduler, nannies, workers) 50 times a second to time
#: it, sample each worker's running task 100 times a second (the dashboard's profile, which
#: the embedded cluster does not show), read memory 10 and system figures 2 times a second.
#: Measured on 2 idle one-thread workers: 0.13 s of CPU per second in all, 0.02 with these;
#: on a busy 2-core machine that CPU is taken from the runs. Memory limits still hold.
QUIET = {
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "500ms",
}


#: Embedded workers allowed per core: runs are single-threaded, so more only share the cores.
PER_CORE = 4
#: Memory an embedded worker takes: Python, NumPy and Dask (~80 MB), and a copy of its data
#: (MNIST in float32: ~200 MB); past what the machine has, workers start into swap or never.
WORKER_BYTES = 300 * 10**6


def worker_environment() -> dict[str, str]:
    """Environment variables for sweep workers: one thread per numeric library, and malloc.

    OpenMP's setting also gives PyTorch one intra-op thread; XLA (JAX) gets
    its own flags, added to any ``XLA_FLAGS`` already set. They must be set
    before a worker process starts (malloc and BLAS read them once): see
    :func:`local_cluster`, and export them before ``dask worker`` elsewhere.
    """
    xla = os.environ.get("XLA_FLAGS", "")
    one = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return {**THREAD_LIMITS, **MALLOC, "XLA_FLAGS": f"{xla} {one}".strip()}


def cores() -> int:
    """The cores this process may use (its CPU affinity where the OS tells)."""
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def local_cluster(workers: int | None = None, *, gpus: bool = False) -> Any:
    """A LocalCluster (or LocalCUDACluster) on 127.0.0.1: one 1-thread worker per core or GPU.

    Workers get :func:`worker_environment` before they start (Dask's
    ``pre-spawn-environ``, which it also writes into this process's
    ``os.environ``, as Dask itself does for its defaults), and the cluster
    Dask's monitoring slowed down (:data:`QUIET`; Dask reads it while the
    scheduler, nannies and workers start).
    """
    common = {
        "threads_per_worker": 1,
        "host": "127.0.0.1",
        "dashboard_address": ":0",  # any free port: two sweeps on one machine never collide
        # Dask's logs in the workers: errors only, and none unless debugging (see .remote)
        "silence_logs": logging.ERROR if debugging() else logging.CRITICAL + 1,
        "preload": ["xpnet.sweep.run"],  # workers import xpnet (and NumPy) while they start
    }
    if gpus:
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError as exc:
            raise NotInstalledError(
                f"`gpus=True` needs dask-cuda, which is not installed ({exc}). "
                "Install it with: pip install 'xpnet[cuda12]' (Linux, Python 3.11+)."
            ) from exc
    distributed = distributed_module()  # first: without Dask, the error names the extra
    import dask

    # A Ctrl-C while the cluster starts is held back until it has: one interrupted half-way
    # is left for Dask to close at exit, which it does with pages of tracebacks.
    with (
        _pre_spawn(worker_environment()),
        dask.config.set(QUIET),
        deferred_interrupts(),
        _children_quiet(),
    ):
        if gpus:
            return LocalCUDACluster(n_workers=workers, **common)
        return distributed.LocalCluster(n_workers=workers or cores(), processes=True, **common)


@contextlib.contextmanager
def _children_quiet() -> Iterator[None]:
    """Processes started in the block write their standard error to the null device.

    They are the cluster's workers (and multiprocessing's resource tracker, if
    it starts now), which live in this terminal's process group: a Ctrl-C
    reaches them too, and one that falls while a worker is still importing
    prints its traceback; the tracker warns of the semaphores such a worker
    left, which it then cleans up. The sweep reports the interruption in one
    line; with ``XPNET_DEBUG=1`` (``xpnet --debug``) they write where this
    process does.
    """
    if debugging():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no standard error to keep
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def _pre_spawn(values: dict[str, str]) -> Iterator[None]:
    """Dask's ``pre-spawn-environ`` with `values` while a cluster starts its workers.

    Dask reads each of those variables from ``os.environ`` first (where an
    earlier cluster may have left its own), so they are set there too, and
    restored afterwards.
    """
    import dask

    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        with dask.config.set(
            {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in values.items()}
        ):
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def most_workers() -> tuple[int, str]:
    """The most embedded workers this machine runs, and why, in words."""
    n = cores()
    bound, why = PER_CORE * n, f"{n} cores ({PER_CORE} workers per core at most)"
    memory = _memory.host_memory()
    if memory is not None and memory // WORKER_BYTES < bound:
        bound = max(1, memory // WORKER_BYTES)
        why = (
            f"{_memory.format_bytes(memory)} of memory available, about "
            f"{WORKER_BYTES // 10**6} MB per worker"
        )
    return bound, why
