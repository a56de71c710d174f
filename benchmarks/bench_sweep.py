"""Sweep throughput: a 2-worker Dask LocalCluster against serial runs, side by side.

Every run is single-threaded in both contenders (this script limits BLAS and
OpenMP to one thread before NumPy loads; workers get the same environment),
so the comparison is of scheduling, not of threads. Reported:

1. `--runs` runs of `--iters` iterations on MNIST (784-50-10, batch 100):
   wall time serially (client="serial") and on the cluster (started once,
   its start-up reported apart), the ratio cluster / serial, and the
   per-run overhead of each: the worker time not spent inside train()
   (scheduling, data, store), ``(wall * workers - sum of train seconds) / runs``.
   On a busy machine wall times say little, so the same comparison is also made
   from CPU time (``from_cpu_time``): the cluster's extra CPU seconds per run
   (scheduler, workers' imports and data, store), and an estimate of the ratio
   on an idle machine (the busiest worker's CPU time over the serial CPU time).
2. Seconds per run for 8, 16 and 64 tiny runs (`--tiny-iters` iterations) on
   the same cluster: flat if the cost per run does not grow with the sweep.
3. Instead, with ``--gpus`` (dask-cuda installed, a CUDA backend such as
   ``--backend cupy``): runs per minute on one worker per GPU against the CPU
   workers (on NumPy), the same sweep.

Contenders alternate (`--repeats`), and the medians are reported; the machine
is shared and noisy, so compare ratios. Needs MNIST (XPNET_DATA or --data-dir).

Usage: python benchmarks/bench_sweep.py [--runs 8] [--iters 2000] [--workers 2]
       [--repeats 1] [--out benchmarks/results/DATE-sweep-cpu.json]
       python benchmarks/bench_sweep.py --gpus --backend cupy   (scripts/gpu_check.sh)
"""

from __future__ import annotations

import os

# Before NumPy loads: this process's serial runs get one thread, as workers do.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench_train import machine, write_results  # noqa: E402

import xpnet  # noqa: E402
from xpnet.sweep import grid, sweep  # noqa: E402
from xpnet.sweep.cluster import local_cluster  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=8, help="runs of the main comparison")
    p.add_argument("--iters", type=int, default=2000, help="iterations per run")
    p.add_argument("--workers", type=int, default=2, help="worker processes of the cluster")
    p.add_argument("--repeats", type=int, default=1, help="times each contender runs")
    p.add_argument("--scaling", default="8,16,64", help="sweep sizes for the cost per run")
    p.add_argument("--tiny-iters", type=int, default=200, help="iterations of the tiny runs")
    p.add_argument("--backend", default="numpy", help="backend of every run")
    p.add_argument("--gpus", action="store_true", help="also: one worker per GPU (dask-cuda)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: XPNET_DATA)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    return p.parse_args()


def space(runs: int) -> list[dict]:
    """`runs` distinct runs: learning rates by seeds."""
    lrs = [0.05, 0.1, 0.2, 0.5, 1.0, 1.5, 2.0, 3.0]
    points = grid({"seed": range((runs + len(lrs) - 1) // len(lrs)), "lr": lrs})
    return points[:runs]


def cpu_seconds() -> float:
    """CPU time (user + system) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_sweep(points: list[dict], client, args, iters: int) -> dict:
    """Wall time of one sweep into a fresh store, what its runs spent inside train(), and the
    CPU time it cost: this process (client, scheduler, nannies) and each worker process."""
    workers = {} if client == "serial" else client.run(cpu_seconds)
    mine = cpu_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = sweep(
            points, store=Path(tmp) / "s.db", client=client, verbose=0, data_dir=args.data_dir,
            iters=iters, hidden=50, backend=args.backend,
        )  # fmt: skip
        wall = time.perf_counter() - start
    mine = cpu_seconds() - mine
    after = {} if client == "serial" else client.run(cpu_seconds)
    failed = [r.error for r in result.runs if r.status != "done"]
    if failed:
        raise SystemExit(f"bench_sweep: runs failed: {failed[0]}")
    return {
        "wall": wall,
        "train": sum(r.seconds for r in result.runs),
        "runs": len(result.runs),
        "cpu_here": mine,
        "cpu_workers": [after[w] - workers[w] for w in after if w in workers],
    }


def overhead(t: dict, workers: int) -> float:
    """Seconds per run of worker time not spent inside train()."""
    return (t["wall"] * workers - t["train"]) / t["runs"]


def cpu_figures(serial: dict, cluster: dict) -> dict:
    """Figures from CPU time, which other processes on a busy machine disturb far less than
    wall time: on an idle machine the cluster's wall time is about its busiest worker's CPU
    time (plus what this process does meanwhile), the serial one's about its CPU time."""
    busiest = max(cluster["cpu_workers"])
    total = sum(cluster["cpu_workers"]) + cluster["cpu_here"]
    return {
        "serial_cpu_s": serial["cpu_here"],
        "cluster_cpu_s": {"here": cluster["cpu_here"], "workers": cluster["cpu_workers"]},
        "estimated_idle_ratio": (busiest + cluster["cpu_here"] / 2) / serial["cpu_here"],
        "extra_cpu_per_run_s": (total - serial["cpu_here"]) / serial["runs"],
    }


def start_cluster(workers: int | None, gpus: bool = False):
    """What sweep(client=None) starts: one single-threaded worker per core, or per GPU."""
    import distributed

    start = time.perf_counter()
    cluster = local_cluster(workers, gpus=gpus)
    client = distributed.Client(cluster)
    return cluster, client, time.perf_counter() - start


def compare(args, client, workers: int) -> dict:
    points = space(args.runs)
    serial, cluster = [], []
    for _ in range(args.repeats):
        serial.append(timed_sweep(points, "serial", args, args.iters))
        cluster.append(timed_sweep(points, client, args, args.iters))
    s = statistics.median(t["wall"] for t in serial)
    c = statistics.median(t["wall"] for t in cluster)
    return {
        "runs": args.runs,
        "iters": args.iters,
        "serial_s": [t["wall"] for t in serial],
        "cluster_s": [t["wall"] for t in cluster],
        "ratio_cluster_over_serial": c / s,
        "overhead_per_run_s": {
            "serial": statistics.median(overhead(t, 1) for t in serial),
            "cluster": statistics.median(overhead(t, workers) for t in cluster),
        },
        "train_s_per_run": {
            "serial": statistics.median(t["train"] / t["runs"] for t in serial),
            "cluster": statistics.median(t["train"] / t["runs"] for t in cluster),
        },
        "from_cpu_time": [cpu_figures(a, b) for a, b in zip(serial, cluster, strict=True)],
    }


def scaling(args, client) -> dict:
    sizes = [int(n) for n in args.scaling.split(",")]
    per_run = {n: timed_sweep(space_of(n), client, args, args.tiny_iters) for n in sizes}
    first = per_run[sizes[0]]["wall"] / sizes[0]
    return {
        "tiny_iters": args.tiny_iters,
        "seconds_per_run": {n: t["wall"] / n for n, t in per_run.items()},
        "relative_to_first": {n: t["wall"] / n / first for n, t in per_run.items()},
    }


def space_of(n: int) -> list[dict]:
    return [{"lr": 0.1, "seed": seed} for seed in range(n)]


def gpus(args, cpu_client) -> dict:
    """Runs per minute: one worker per GPU against the CPU workers, the same sweep."""
    cluster, client, startup = start_cluster(None, gpus=True)
    try:
        points = space(args.runs)
        on_gpus = timed_sweep(points, client, args, args.iters)
        on_cpus = timed_sweep(points, cpu_client, argparse.Namespace(**{**vars(args),
                              "backend": "numpy"}), args.iters)  # fmt: skip
    finally:
        client.close()
        cluster.close()
    return {
        "gpu_workers": len(cluster.workers),
        "startup_s": startup,
        "runs_per_minute": {
            "gpus": 60 * on_gpus["runs"] / on_gpus["wall"],
            "cpus": 60 * on_cpus["runs"] / on_cpus["wall"],
        },
    }


def busy_warning(load: dict, cores: int) -> str | None:
    """A warning for the record when other processes competed for the cores."""
    busiest = max(load.values())
    if busiest < cores:
        return None
    return (
        f"1-minute load average up to {busiest:.1f} on {cores} cores: other processes competed "
        "for the cores, so wall times (the cluster's most) are disturbed; from_cpu_time is less "
        "so. Re-run on an idle machine: python benchmarks/bench_sweep.py --out FILE"
    )


def main() -> None:
    args = parse_args()
    load_before = os.getloadavg()  # the machine is shared: how busy it was, for the record
    xpnet.load_mnist(data_dir=args.data_dir, backend="numpy")  # fail early; warm the cache
    cluster, client, startup = start_cluster(args.workers)
    try:
        results = {
            "machine": {**machine(), "threads_per_run": 1, "workers": args.workers},
            "cluster_startup_s": startup,
        }
        if args.gpus:  # GPU workers on args.backend against these CPU workers on NumPy
            results["gpus"] = gpus(args, client)
        else:
            results["compare"] = compare(args, client, args.workers)
            results["scaling"] = scaling(args, client)
    finally:
        client.close()
        cluster.close()
    results["machine"]["platform"] = platform.platform()
    load = {"before": load_before[0], "after": os.getloadavg()[0]}
    results["machine"]["load_average_1min"] = load
    results["warning"] = busy_warning(load, os.cpu_count() or 1)
    write_results(results, args.out)


if __name__ == "__main__":
    main()
