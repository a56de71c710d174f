"""Where a sweep's per-run overhead goes: Dask's default monitoring against xpnet's, side by side.

Two embedded 2-worker clusters, one with Dask's default monitoring (a 50 Hz
event-loop tick in every process, a 100 Hz profiler in every worker, memory
read 10 and system figures 2 times a second) and one as ``sweep()`` starts
it (:data:`xpnet.sweep.cluster.QUIET`), alternated `--pairs` times. Each
sweeps the same `--runs` tiny MNIST runs after a warm-up (data loaded,
imports done), and the CPU time per run is split into:

* ``task``: the runs themselves (``run_one``'s thread CPU time on the worker),
* ``worker_rest``: the rest of each worker process (event loop, profiler,
  monitors, task (de)serialisation),
* ``here``: this process (client, scheduler, nannies, store, progress).

``overhead`` = ``worker_rest + here``. CPU time, not wall time: the machine
is shared, and other processes disturb CPU time far less.

Usage: python benchmarks/bench_sweep_overhead.py [--runs 12] [--iters 200] [--pairs 2]
       [--out benchmarks/results/DATE-sweep-overhead.json]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench_train import machine, write_results


def cpu_seconds() -> float:
    """CPU time (user + system) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def count_task_cpu() -> None:
    """On a worker: wrap run_one so that it adds its thread's CPU time to TASK_CPU."""
    import xpnet.sweep.run as run

    if not hasattr(run, "TASK_CPU"):
        inner = run.run_one

        def run_one(*args, **kwargs):
            start = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                run.TASK_CPU += time.thread_time() - start

        run.run_one = run_one  # tasks look run_one up by name when they arrive
    run.TASK_CPU = 0.0


def task_cpu() -> float:
    import xpnet.sweep.run as run

    return run.TASK_CPU


def one(monitoring: dict, runs: int, iters: int) -> dict:
    """CPU seconds per run of a sweep on a fresh cluster started with `monitoring`."""
    import distributed

    from xpnet.sweep import cluster, sweep

    saved, cluster.QUIET = cluster.QUIET, monitoring
    try:
        local = cluster.local_cluster(2)
    finally:
        cluster.QUIET = saved
    points = [{"lr": 0.1, "seed": seed} for seed in range(runs)]
    settings = {"verbose": 0, "iters": iters, "hidden": 50, "backend": "numpy"}
    with local, distributed.Client(local) as client, tempfile.TemporaryDirectory() as tmp:
        warm = [{"lr": 0.1, "seed": 1000 + seed} for seed in range(2)]
        sweep(warm, store=Path(tmp) / "warm.db", client=client, **settings)
        client.run(count_task_cpu)
        workers, mine, start = client.run(cpu_seconds), cpu_seconds(), time.perf_counter()
        result = sweep(points, store=Path(tmp) / "s.db", client=client, **settings)
        wall = time.perf_counter() - start
        after, mine = client.run(cpu_seconds), cpu_seconds() - mine
        task = sum(client.run(task_cpu).values()) / runs
    assert result.executed == runs and not result.failed
    rest = sum(after[w] - workers[w] for w in after) / runs - task
    here = mine / runs
    return {"task": task, "worker_rest": rest, "here": here, "overhead": rest + here,
            "wall_per_run": wall / runs}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=12, help="runs per sweep")
    p.add_argument("--iters", type=int, default=200, help="iterations per run")
    p.add_argument("--pairs", type=int, default=2, help="times each contender runs")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args()
    from xpnet.sweep.cluster import QUIET

    load_before = os.getloadavg()[0]
    contenders = {"dask_default": {}, "xpnet": dict(QUIET)}
    rows: dict[str, list[dict]] = {name: [] for name in contenders}
    for _ in range(args.pairs):
        for name, monitoring in contenders.items():
            rows[name].append(one(monitoring, args.runs, args.iters))
    median = {
        name: {k: statistics.median(r[k] for r in found) for k in found[0]}
        for name, found in rows.items()
    }
    results = {
        "machine": {**machine(), "workers": 2, "threads_per_run": 1,
                    "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]}},
        "runs": args.runs, "iters": args.iters, "quiet": QUIET,
        "cpu_s_per_run": rows, "median": median,
        "overhead_ratio_xpnet_over_default":
            median["xpnet"]["overhead"] / median["dask_default"]["overhead"],
    }  # fmt: skip
    write_results(results, args.out)


if __name__ == "__main__":
    main()
