"""Numerical gradients of TwoLayerNet: xpnet's structured method against the chapter's loop.

1. One numerical gradient of a 784-50-10 network on a batch of 100 real MNIST
   images in float64: the one-at-a-time loop written the chapter's way in plain
   NumPy (reference_numpy.py) against ``net.numerical_gradient`` (structured),
   timed in the same process, and their agreement (max |diff| / max |grad|).
2. With ``--train``: ``xpnet train --grad numerical`` with the chapter's
   settings (10,000 iterations, batch 100, lr 0.1, hidden 50) and the same run
   with backprop, each in a child process: wall time, final test accuracy,
   peak memory (max RSS).

Usage: python benchmarks/bench_numgrad.py [--repeats 20] [--train] [--out FILE.json]
Needs MNIST: XPNET_DATA or --data-dir.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import reference_numpy as ref
from bench_train import machine, run_child, write_results

import xpnet


def one_gradient(args) -> dict:
    (x, t), _ = xpnet.load_mnist(data_dir=args.data_dir, backend=args.backend, dtype="float64")
    xb, tb = x[:100, ...], t[:100]
    net = xpnet.TwoLayerNet(784, 50, 10, seed=0, dtype="float64", backend=args.backend)
    fast_times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        fast = net.numerical_gradient(xb, tb)
        xpnet.to_numpy(fast["W1"])  # wait for the device
        fast_times.append(time.perf_counter() - start)
    host = {k: xpnet.to_numpy(v).copy() for k, v in net.params.items()}
    start = time.perf_counter()
    loop = ref.network_numerical_gradient(host, xpnet.to_numpy(xb), xpnet.to_numpy(tb))
    loop_time = time.perf_counter() - start
    agreement = {
        k: float(np.abs(xpnet.to_numpy(fast[k]) - loop[k]).max() / np.abs(loop[k]).max())
        for k in loop
    }
    return {
        "backend": args.backend,
        "chapter_loop_numpy_s": loop_time,
        "structured_median_s": statistics.median(fast_times),
        "speedup": loop_time / statistics.median(fast_times),
        "max_rel_difference": agreement,
    }


def train_run(grad: str, args, out: Path) -> dict:
    cmd = [sys.executable, "-m", "xpnet", "train", "--quiet", "--grad", grad, "--seed", "0",
           "--backend", args.backend, "--json", str(out)]  # fmt: skip
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    wall, peak = run_child(cmd)
    summary = json.loads(out.read_text())
    return {
        "wall_s": wall,
        "train_seconds": summary["seconds"],
        "test_acc": summary["test_acc"],
        "peak_rss_mb": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--train", action="store_true", help="also time the 10,000-iteration numerical training"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    results = {"machine": machine(), "gradient": one_gradient(args)}
    print(json.dumps(results, indent=1), flush=True)
    if args.train:
        with tempfile.TemporaryDirectory() as tmp:
            results["train_numerical"] = train_run("numerical", args, Path(tmp) / "n.json")
            results["train_backprop"] = train_run("backprop", args, Path(tmp) / "b.json")
        results["test_acc_gap_points"] = 100 * abs(
            results["train_numerical"]["test_acc"] - results["train_backprop"]["test_acc"]
        )
    write_results(results, args.out)


if __name__ == "__main__":
    main()
