"""Hyper-parameter sweeps: many independent trainings on Dask, results in SQLite.

* :func:`sweep` trains a fresh network for every point of a space, here
  (``client="serial"``), on an embedded Dask ``LocalCluster`` (the default),
  on one worker per GPU (``gpus=True``) or on any Dask cluster (a scheduler
  address), and commits each result to a SQLite store as it arrives; running
  it again runs only what is missing.
* :func:`grid` and :func:`random_search` (with :class:`LogUniform`,
  :class:`Uniform`, :class:`Choice`) make spaces.
* :func:`read_runs` reads a store; :func:`rank` and :func:`table` report it.

Dask is imported only when a sweep runs on it: ``import xpnet`` (which
imports this package) imports neither dask nor distributed.

Examples
--------
>>> from xpnet.sweep import LogUniform, random_search
>>> space = random_search({"lr": LogUniform(1e-6, 1e-2)}, n=100, seed=0)
>>> len(space), sorted(space[0])
(100, ['lr'])
>>> result = sweep(space, validation=0.2, train_size=500, iters=200)  # doctest: +SKIP
>>> print(result.table(top=5))  # doctest: +SKIP
"""

from .driver import SweepResult, sweep
from .report import rank, table
from .space import Choice, LogUniform, Uniform, grid, random_search
from .store import RunRecord, read_runs

__all__ = [
    "Choice",
    "LogUniform",
    "RunRecord",
    "SweepResult",
    "Uniform",
    "grid",
    "random_search",
    "rank",
    "read_runs",
    "sweep",
    "table",
]
