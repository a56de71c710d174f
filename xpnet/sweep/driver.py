"""sweep(): run every point of a space once, on a cluster or here, into a SQLite store."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._validation import non_negative_int, one_of
from ..backend import get_backend
from ..errors import XpnetTypeError, XpnetValueError
from ..training.lock import checkpoint_lock
from .cluster import SerialExecutor, check_options, executor
from .report import axes, format_value, rank, table
from .run import MnistSource, array_source, clear_cache
from .settings import resolve, run_key
from .space import as_points
from .store import RunRecord, Store

__all__ = ["PREPARING_FROM", "Run", "SweepResult", "sweep"]

#: Spaces of at least this many points show progress while their runs are prepared.
PREPARING_FROM = 10_000


@dataclass(frozen=True)
class Run:
    """One run to do: its key and its complete settings."""

    key: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep` returns: this sweep's runs as stored, and how many ran now."""

    #: One record per distinct run of the space, in the space's order.
    runs: list[RunRecord]
    #: Runs trained by this call (the others were already in the store).
    executed: int
    #: The store's path.
    store: str

    @property
    def failed(self) -> list[RunRecord]:
        return [r for r in self.runs if r.status == "failed"]

    def best(self, k: int = 1) -> list[RunRecord]:
        """The `k` best finished runs (by validation, else test, else training accuracy)."""
        return rank(self.runs)[:k]

    def table(self, top: int | None = 10) -> str:
        """The best `top` runs as a text table."""
        return table(self.runs, top)


def _source(train_data: Any, test_data: Any, validation: Any, data_dir: Any) -> Any:
    if train_data is None:
        if test_data is not None or not (validation is None or _is_fraction(validation)):
            raise XpnetValueError(
                "`test_data` and validation arrays need `train_data`; without it runs use MNIST."
            )
        return MnistSource(None if data_dir is None else os.fspath(data_dir))
    if data_dir is not None:
        raise XpnetValueError("`data_dir` is where MNIST is read from: not with `train_data`.")
    arrays = None if _is_fraction(validation) else validation
    return array_source(train_data, test_data, arrays)


def _is_fraction(value: Any) -> bool:
    if value is None or isinstance(value, tuple | list):
        return False
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise XpnetTypeError(
            f"`validation` must be a fraction of the training data or an (x, t) pair. "
            f"Received: {type(value).__name__}."
        )
    if not 0 < value < 1:
        raise XpnetValueError(f"`validation` must be a fraction in (0, 1). Received: {value}.")
    return True


def _runs(
    points: list[dict[str, Any]], fixed: dict[str, Any], data: str, gpus: bool, verbose: int = 0
) -> list[Run]:
    """The distinct runs of `points`, in order (duplicates run once); progress when many."""
    from tqdm.auto import tqdm

    backend = fixed.get("backend") or get_backend().name
    defaults = {"device": "cuda"} if gpus else {}
    runs: dict[str, Run] = {}
    many = len(points) >= PREPARING_FROM
    if verbose == 2 and many:
        print(f"sweep: preparing {len(points)} runs", flush=True)
    with tqdm(points, unit="run", desc="preparing", disable=verbose != 1 or not many) as bar:
        for point in bar:
            settings = resolve(point, fixed, data=data, backend=backend, defaults=defaults)
            key = run_key(settings)
            runs.setdefault(key, Run(key, settings))
    return list(runs.values())


def _execute(
    db: Store, todo: list[Run], runs: list[Run], source: Any, client: Any, retries: int,
    verbose: int, options: dict[str, Any],
) -> int:  # fmt: skip
    """Run `todo` where `client` says, recording each result as it arrives; how many ran."""
    if not todo:
        return 0
    executed = 0
    with (
        executor(client, notify=_notifier(verbose), **options) as ex,
        _Progress(verbose, runs, len(todo), ex.name) as progress,
    ):
        for run, result in ex.results(todo, source, retries):
            db.record(run.key, result)
            executed += 1
            progress.update(run, result)
    if isinstance(ex, SerialExecutor):
        clear_cache()  # the data this process prepared
    return executed


def _notifier(verbose: int) -> Any:
    """What a cluster says while it waits (no workers yet): a line on stderr unless silent."""

    def notify(text: str) -> None:
        if verbose:
            print(f"sweep: {text}", file=sys.stderr, flush=True)

    return notify


def sweep(
    space: Any,
    *,
    train_data: Any = None,
    test_data: Any = None,
    validation: Any = None,
    store: str | os.PathLike[str] = "sweep.db",
    client: Any = None,
    retries: int = 2,
    retry_failed: bool = False,
    workers: int | None = None,
    gpus: bool = False,
    timeout: float = 30.0,
    data_dir: str | os.PathLike[str] | None = None,
    verbose: int = 1,
    steal: bool = False,
    **fixed: Any,
) -> SweepResult:
    """Train a fresh network for every point of `space`; results go to a SQLite store.

    Parameters
    ----------
    space : dict or list of dicts
        A grid (``{"lr": [0.01, 0.1], "hidden": [50, 100], "seed": range(5)}``)
        or points such as :func:`~xpnet.sweep.random_search` returns.
    train_data, test_data : (x, t) pairs, optional
        The data of every run (sent once to each worker); MNIST if None, read
        by each worker from `data_dir` (or its ``XPNET_DATA``).
    validation : float or (x, t) pair, optional
        A fraction of the training data held out (the same samples for every
        run), or explicit arrays. Runs are then ranked by validation accuracy.
    store : path
        The SQLite store. Runs already done there are not run again; runs
        that failed are run again with ``retry_failed=True``. The sweep holds
        its lock and claims its runs before any starts, so two sweeps never
        train one run twice; every row is checked before any work.
    client : None, "serial", address or distributed.Client
        None: an embedded LocalCluster, one single-threaded worker per core
        (`workers` of them), or one per GPU with ``gpus=True``; "serial":
        here, one run after another; an address or scheduler file: an
        existing cluster.
    retries : int
        Times Dask runs a task again after a worker died or it raised
        unexpectedly. A run that diverges or has a bad setting is recorded
        as failed at once.
    timeout : float
        Seconds to wait for a scheduler at an address, and for an existing
        cluster's first worker (a cluster without workers is said at once).
    verbose : int
        0 silent, 1 a progress bar over runs, 2 one line per finished run.
    steal : bool
        Take over runs another sweep marked running even when it cannot be
        told dead (it ran on another host, or is a process of an older xpnet
        whose number is in use again). A sweep whose client died on this host
        is taken over without it; a live one holds the store's lock.
    **fixed
        Settings shared by every run: any keyword of the network (``hidden``
        for ``hidden_size``, ``activation``, ``weight_init_std``…) or of
        :func:`xpnet.train` (``iters``, ``batch_size``, ``lr``…), and
        ``backend``, ``device``, ``dtype``, ``net`` (a class of
        :mod:`xpnet.nets`), ``train_size`` (the first N training samples).

    Returns
    -------
    SweepResult
        The runs as stored, ``best(k)``, ``table()``.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((200, 4)).astype(np.float32)
    >>> t = (x[:, 0] > 0.5).astype(np.int64)
    >>> result = sweep({"lr": [0.1, 1.0]}, train_data=(x, t), client="serial", verbose=0,
    ...                store=os.path.join(tempfile.mkdtemp(), "s.db"),
    ...                hidden=8, weight_init_std=1.0, iters=300, batch_size=20, backend="numpy")
    >>> [r.settings["lr"] for r in result.best(2)], result.executed
    ([1.0, 0.1], 2)
    """
    points = as_points(space)
    workers, timeout = check_options(client, workers, gpus, timeout)
    options = {"workers": workers, "gpus": gpus, "timeout": timeout}
    if not isinstance(steal, bool):
        raise XpnetTypeError(f"`steal` must be True or False. Received: {steal!r}.")
    retries = non_negative_int(retries, "retries")
    one_of(verbose, "verbose", (0, 1, 2))
    source = _source(train_data, test_data, validation, data_dir)
    if isinstance(validation, int | float) and not isinstance(validation, bool):
        fixed = {**fixed, "validation": float(validation)}
    runs = _runs(points, fixed, source.fingerprint, gpus, verbose)
    with Store(store) as db, checkpoint_lock(db.path, what="sweep store", job="sweep"):
        db.records()  # every row checked before any work: a damaged store is refused now
        claimed = set(db.claim([(r.key, r.settings) for r in runs], retry_failed=retry_failed,
                               steal=steal))  # fmt: skip
        try:
            todo = [r for r in runs if r.key in claimed]
            executed = _execute(db, todo, runs, source, client, retries, verbose, options)
        finally:
            db.release()  # runs claimed and not finished go back as they were
        records = db.records(r.key for r in runs)
    return SweepResult(records, executed, os.fspath(store))


class _Progress:
    """A bar over runs (verbose=1) or one line per finished run (verbose=2)."""

    def __init__(self, verbose: int, runs: list[Run], total: int, where: str) -> None:
        from tqdm.auto import tqdm

        self.verbose, self.total, self.done = verbose, total, 0
        self.names = axes([RunRecord(r.key, r.settings, "running") for r in runs])
        self.bar = tqdm(total=total, unit="run", disable=verbose != 1, desc="sweep")
        if verbose == 2:
            print(f"sweep: {total} of {len(runs)} runs to do, on {where}", flush=True)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    def update(self, run: Run, result: Mapping[str, Any]) -> None:
        self.done += 1
        self.bar.update(1)
        if self.verbose != 2:
            return
        what = " ".join(f"{n}={format_value(run.settings.get(n))}" for n in self.names)
        if result["status"] == "done":
            accs = {k: result.get(f"final_{k}") for k in ("val_acc", "test_acc", "train_acc")}
            shown = ", ".join(f"{k} {v:.4f}" for k, v in accs.items() if v is not None)
            tail = f"{shown} in {result['seconds']:.1f} s"
        else:
            tail = f"failed: {str(result['error']).splitlines()[0]}"
        print(f"[{self.done}/{self.total}] {what}: {tail}", flush=True)
