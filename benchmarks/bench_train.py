"""Backprop training speed: xpnet against hand-written loops, side by side.

Runs in one process, alternating the contenders, and reports medians and
ratios (this machine is shared and noisy: ratios are what to compare):

1. xpnet.train on NumPy vs the hand-written NumPy loop (reference_numpy.py),
   same maths, same batches, same evaluations;
2. xpnet.train on PyTorch (CPU) vs a hand-written PyTorch loop, and the NumPy
   loop vs the PyTorch loop, at the same thread count;
3. peak memory (max RSS) of the `xpnet train` command in a child process.

Usage: python benchmarks/bench_train.py [--iters 2000] [--repeats 3] [--out FILE.json]
Needs MNIST: XPNET_DATA or --data-dir.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import reference_numpy as ref

import xpnet


def machine() -> dict:
    cpu = "unknown"
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": date.today().isoformat(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        # This machine is shared: the load when the benchmark started says how quiet it was.
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def time_xpnet(backend: str, data, args) -> float:
    (x, t), (xt, tt) = data
    net = xpnet.TwoLayerNet(784, 50, 10, seed=0, backend=backend)
    start = time.perf_counter()
    xpnet.train(
        net,
        (x, t),
        (xt, tt),
        iters=args.iters,
        batch_size=100,
        lr=0.1,
        seed=0,
        eval_every=600,
        verbose=0,
    )
    return time.perf_counter() - start


def time_numpy_loop(data, args) -> float:
    (x, t), (xt, tt) = data
    params = ref.init_params((784, 50, 10), seed=0)
    start = time.perf_counter()
    ref.train_loop(
        params, x, t, xt, tt, iters=args.iters, batch_size=100, lr=0.1, seed=0, eval_every=600
    )
    return time.perf_counter() - start


def time_torch_loop(data, args) -> float:
    import reference_torch
    import torch

    (x, t), (xt, tt) = data
    params = {k: torch.from_numpy(v) for k, v in ref.init_params((784, 50, 10), seed=0).items()}
    start = time.perf_counter()
    reference_torch.train_loop(
        params, x, t, xt, tt, iters=args.iters, batch_size=100, lr=0.1, seed=0, eval_every=600
    )
    return time.perf_counter() - start


def run_child(cmd: list[str]) -> tuple[float, float]:
    """Run `cmd`; return its wall time (s) and its own peak memory (max RSS, MB)."""
    wrapper = [sys.executable, str(Path(__file__).parent / "peak_rss.py"), *cmd]
    out = subprocess.run(wrapper, check=True, capture_output=True, text=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    return report["wall_s"], report["peak_rss_mb"]


def peak_rss_of_cli(args) -> float:
    """Max RSS in MB of `xpnet train` with the chapter's settings (a child process)."""
    cmd = [sys.executable, "-m", "xpnet", "train", "--quiet", "--iters", str(args.iters)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    return run_child(cmd)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    host = xpnet.load_mnist(data_dir=args.data_dir, backend="numpy")
    results: dict = {
        "machine": machine(),
        "iters": args.iters,
        "repeats": args.repeats,
        "times_s": {},
    }
    contenders = {
        "xpnet numpy": lambda: time_xpnet("numpy", host, args),
        "numpy loop": lambda: time_numpy_loop(host, args),
    }
    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        results["machine"]["torch"] = torch.__version__
        results["machine"]["torch_threads"] = torch.get_num_threads()
        on_torch = xpnet.load_mnist(data_dir=args.data_dir, backend="torch", device="cpu")
        host_torch = tuple((torch.from_numpy(x), torch.from_numpy(t)) for x, t in host)
        contenders["xpnet torch"] = lambda: time_xpnet("torch", on_torch, args)
        contenders["torch loop"] = lambda: time_torch_loop(host_torch, args)
    except ImportError:
        pass
    for name in contenders:
        results["times_s"][name] = []
    for _ in range(args.repeats):  # alternate, so drifts in machine load hit everyone
        for name, run in contenders.items():
            results["times_s"][name].append(run())
    med = {name: statistics.median(ts) for name, ts in results["times_s"].items()}
    results["median_s"] = med
    ratios = {"xpnet numpy / numpy loop": med["xpnet numpy"] / med["numpy loop"]}
    if "torch loop" in med:
        ratios["xpnet torch / torch loop"] = med["xpnet torch"] / med["torch loop"]
        ratios["numpy loop / torch loop"] = med["numpy loop"] / med["torch loop"]
        ratios["xpnet numpy / torch loop"] = med["xpnet numpy"] / med["torch loop"]
    results["ratios"] = ratios
    results["cli_peak_rss_mb_10000_iters"] = peak_rss_of_cli(
        argparse.Namespace(iters=10000, data_dir=args.data_dir)
    )
    write_results(results, args.out)


def write_results(results: dict, out: str | None) -> None:
    """Print `results` as JSON, and write them to `out` when given."""
    text = json.dumps(results, indent=1)
    print(text)
    if out:
        Path(out).write_text(text + "\n")


if __name__ == "__main__":
    main()
