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
  ``gpus=True``, ``dask_cuda.LocalCUDACluster``: one worker per GPU. See
  :mod:`.local`: its size is bounded by the machine's cores and memory.
* a scheduler address (``"tcp://host:8786"``) or a scheduler file
  (``scheduler.json``): an existing cluster, left running.
* a ``distributed.Client``: used as it is, left open.

An existing cluster is waited for until it has a worker (:mod:`.remote`).

dask, distributed and dask-cuda are imported here, lazily, and only when
asked for: ``import xpnet`` imports none of them.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from .._validation import positive_float, positive_int
from ..backend import resolve_backend
from ..errors import ClusterError, XpnetError, XpnetValueError
from .local import (
    MALLOC,
    PER_CORE,
    QUIET,
    THREAD_LIMITS,
    WORKER_BYTES,
    cores,
    local_cluster,
    most_workers,
    worker_environment,
)
from .remote import connect, distributed_module, quiet_dask, wait_for_workers
from .run import ArraySource, failed, run_one

__all__ = [  # the embedded cluster's names (.local) too, where they have always been
    "MALLOC",
    "PER_CORE",
    "QUIET",
    "THREAD_LIMITS",
    "WORKER_BYTES",
    "DaskExecutor",
    "SerialExecutor",
    "check_options",
    "cores",
    "executor",
    "local_cluster",
    "most_workers",
    "one_thread",
    "worker_environment",
]


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
        distributed = distributed_module()
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


def check_options(client: Any, workers: Any, gpus: bool, timeout: Any) -> tuple[int | None, float]:
    """`workers` and `timeout` checked; an error for `workers` or `gpus` with a `client`.

    An embedded cluster is bounded by this machine: at most :data:`PER_CORE`
    workers per core, and as many as its available memory holds at
    :data:`WORKER_BYTES` each; more is refused in one line, before any starts.
    """
    workers = None if workers is None else positive_int(workers, "workers")
    timeout = positive_float(timeout, "timeout")
    if client is not None and (workers is not None or gpus):
        raise XpnetValueError(
            "`workers` and `gpus` size the embedded cluster: give them only with client=None. "
            f"Received: client={client!r}."
        )
    if workers is not None and not gpus:
        bound, why = most_workers()
        if workers > bound:
            raise XpnetValueError(
                f"`workers`={workers} is more than this machine can run: {why}. Give at most "
                f"--workers {bound} (workers={bound}), or use a cluster (--scheduler)."
            )
    return workers, timeout


@contextlib.contextmanager
def executor(
    client: Any = None,
    *,
    workers: int | None = None,
    gpus: bool = False,
    timeout: float = 30.0,
    notify: Callable[[str], None] = lambda text: None,
) -> Iterator[SerialExecutor | DaskExecutor]:
    """The executor for `client` (see the module's docstring); closes what it started.

    An existing cluster without workers is reported through `notify` at once,
    and waited for up to `timeout` seconds. Dask's own log records are off
    meanwhile unless ``XPNET_DEBUG=1`` (see :mod:`.remote`).
    """
    workers, timeout = check_options(client, workers, gpus, timeout)
    if isinstance(client, str) and client == "serial":
        yield SerialExecutor()
        return
    with quiet_dask():
        if client is None:
            if workers is None and not gpus:
                workers = min(cores(), most_workers()[0])
            with (
                local_cluster(workers, gpus=gpus) as cluster,
                distributed_module().Client(cluster) as c,
            ):
                kind = "GPU" if gpus else "CPU"
                yield DaskExecutor(c, f"local cluster of {len(cluster.workers)} {kind} workers")
        elif isinstance(client, str | os.PathLike):
            with connect(os.fspath(client), timeout) as c:
                wait_for_workers(c, timeout, notify)
                yield DaskExecutor(c, f"cluster at {c.scheduler.address}")
        elif callable(getattr(client, "submit", None)):
            wait_for_workers(client, timeout, notify)
            yield DaskExecutor(client, f"cluster at {client.scheduler.address}")
        else:
            raise XpnetValueError(
                "`client` must be None (an embedded cluster), 'serial', a scheduler address or a "
                f"distributed.Client. Received: {client!r}."
            )
