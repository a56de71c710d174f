"""Where runs execute: this process, an embedded Dask LocalCluster, or an existing cluster.

:func:`executor` turns the `client` argument of :func:`xpnet.sweep.sweep`
into an object whose ``results(runs, source, retries)`` yields ``(run,
outcome)`` pairs as runs finish:

* ``"serial"``: one run after another in this process (tests, comparisons,
  debugging), each on one thread like a worker (with threadpoolctl); nothing
  but xpnet is needed.
* ``None``: an embedded ``distributed.LocalCluster`` on 127.0.0.1, one
  single-threaded worker process per core (BLAS, OpenMP and XLA limited to one
  thread each, so workers do not fight over cores), closed afterwards. With
  ``gpus=True``, ``dask_cuda.LocalCUDACluster``: one worker per GPU.
* a scheduler address (``"tcp://host:8786"``) or a scheduler file
  (``scheduler.json``): an existing cluster, left running.
* a ``distributed.Client``: used as it is, left open.

dask, distributed and dask-cuda are imported here, lazily, and only when
asked for: ``import xpnet`` imports none of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._validation import positive_float, positive_int
from ..backend import resolve_backend
from ..errors import ClusterError, NotInstalledError, XpnetError, XpnetValueError
from .run import ArraySource, failed, run_one

__all__ = [
    "DaskExecutor",
    "SerialExecutor",
    "check_options",
    "executor",
    "local_cluster",
    "one_thread",
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


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise NotInstalledError(
            f"Sweeps on a cluster need Dask distributed, which is not installed ({exc}). "
            "Install it with: pip install 'xpnet[distributed]', or pass client='serial'."
        ) from exc
    return distributed


def one_thread(settings: dict[str, Any]) -> Any:
    """A context in which this process's BLAS and OpenMP pools (PyTorch's too) use one thread.

    What a worker's environment does, for a run in this process, so that a
    serial run sums in the same order as a worker and gives the same bits.
    Needs threadpoolctl (part of ``xpnet[distributed]``); without it, or for
    JAX (whose threads are fixed when it starts), runs keep their threads.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    with contextlib.suppress(XpnetError):  # load the library first, so that its pool is limited
        resolve_backend(settings["backend"], settings.get("device"))
    return threadpool_limits(limits=1)


class SerialExecutor:
    """Runs one after another in this process, each on one thread like a worker."""

    name = "serial"

    def results(self, runs: list[Any], source: Any, retries: int) -> Iterator[tuple[Any, dict]]:
        for run in runs:
            for _ in range(retries + 1):
                try:
                    with one_thread(run.settings):
                        result = run_one(run.settings, source)
                    break
                except Exception as exc:  # a bug or a broken environment: retried, then recorded
                    result = failed(f"{type(exc).__name__}: {exc}")
            yield run, result


class DaskExecutor:
    """Runs as Dask futures on `client`'s cluster, yielded as they complete."""

    def __init__(self, client: Any, name: str) -> None:
        self.client, self.name = client, name

    def results(self, runs: list[Any], source: Any, retries: int) -> Iterator[tuple[Any, dict]]:
        distributed = _distributed()
        if isinstance(source, ArraySource):  # the arrays travel once per worker, not per run;
            # on every worker, so that a killed worker does not take the only copy with it
            source = self.client.scatter(source, hash=False, broadcast=True)
        # A fresh task key per submission: a key released by an earlier sweep (or a killed
        # client) may still be being forgotten by the scheduler, which would cancel its reuse.
        tag = uuid.uuid4().hex[:8]
        futures = {
            self.client.submit(
                run_one, run.settings, source, key=f"xpnet-run-{run.key}-{tag}", retries=retries
            ): run
            for run in runs
        }
        cancelled = 0
        try:
            for future in distributed.as_completed(futures):
                run = futures.pop(future)
                if future.status == "cancelled":  # left "running" in the store: rerun later
                    cancelled += 1
                    continue
                yield run, self._outcome(future)
                future.release()
        finally:
            if futures:  # stopped early (Ctrl-C, an error): the cluster drops the rest
                self.client.cancel(list(futures))
        if cancelled:
            raise ClusterError(
                f"The cluster cancelled {cancelled} runs (its scheduler restarted, or lost this "
                "client); run the same sweep again to complete them."
            )

    @staticmethod
    def _outcome(future: Any) -> dict[str, Any]:
        if future.status == "finished":
            return future.result()
        exc = future.exception()  # after `retries` attempts, or KilledWorker
        return failed(f"{type(exc).__name__}: {exc}", worker=None)


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
        "silence_logs": logging.ERROR,
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
    distributed = _distributed()  # first: without Dask, the error names the extra
    import dask

    with _pre_spawn(worker_environment()), dask.config.set(QUIET):
        if gpus:
            return LocalCUDACluster(n_workers=workers, **common)
        return distributed.LocalCluster(n_workers=workers or cores(), processes=True, **common)


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


def _connect(address: str, timeout: float) -> Any:
    distributed = _distributed()
    is_file = address.endswith(".json") and Path(address).is_file()
    try:
        if is_file:
            return distributed.Client(scheduler_file=address, timeout=timeout)
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"No Dask scheduler answered at {address!r} within {timeout:g} s ({exc}). "
            "Start one with `dask scheduler` and workers with `dask worker ADDRESS`."
        ) from None
    except (ValueError, TypeError) as exc:
        raise XpnetValueError(
            f"`client` must be a scheduler address such as 'tcp://host:8786', a scheduler "
            f"file, 'serial', None or a distributed.Client. Received: {address!r} ({exc})."
        ) from None


def check_options(client: Any, workers: Any, gpus: bool, timeout: Any) -> tuple[int | None, float]:
    """`workers` and `timeout` checked; an error for `workers` or `gpus` with a `client`."""
    workers = None if workers is None else positive_int(workers, "workers")
    timeout = positive_float(timeout, "timeout")
    if client is not None and (workers is not None or gpus):
        raise XpnetValueError(
            "`workers` and `gpus` size the embedded cluster: give them only with client=None. "
            f"Received: client={client!r}."
        )
    return workers, timeout


@contextlib.contextmanager
def executor(
    client: Any = None, *, workers: int | None = None, gpus: bool = False, timeout: float = 30.0
) -> Iterator[SerialExecutor | DaskExecutor]:
    """The executor for `client` (see the module's docstring); closes what it started."""
    workers, timeout = check_options(client, workers, gpus, timeout)
    if isinstance(client, str) and client == "serial":
        yield SerialExecutor()
    elif client is None:
        with local_cluster(workers, gpus=gpus) as cluster, _distributed().Client(cluster) as c:
            kind = "GPU" if gpus else "CPU"
            yield DaskExecutor(c, f"local cluster of {len(cluster.workers)} {kind} workers")
    elif isinstance(client, str | os.PathLike):
        with _connect(os.fspath(client), timeout) as c:
            yield DaskExecutor(c, f"cluster at {c.scheduler.address}")
    elif callable(getattr(client, "submit", None)):
        yield DaskExecutor(client, f"cluster at {client.scheduler.address}")
    else:
        raise XpnetValueError(
            "`client` must be None (an embedded cluster), 'serial', a scheduler address or a "
            f"distributed.Client. Received: {client!r}."
        )
