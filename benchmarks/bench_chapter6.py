"""Chapter 6's deep network: xpnet against hand-written loops, side by side.

MultiLayerNet 784-100-100-100-100-10 (ReLU, He initialisation), Adam
(lr 0.001), batch 100, 2,000 iterations, evaluations after the first and
the last iteration, on MNIST:

1. ``xpnet.train`` on NumPy vs a hand-written NumPy loop doing the same maths
   (``reference_chapter6.train_numpy``; target: within 1.1x);
2. ``xpnet.train`` on PyTorch (CPU) vs the same loop written in PyTorch.

Contenders alternate in one process and the report gives medians and ratios
(the machine is shared and noisy: the ratios are what to compare). The loss
curves of xpnet and each hand loop are compared too, to show it is the same
computation.

Usage: python benchmarks/bench_chapter6.py [--iters 2000] [--repeats 3] [--out FILE.json]
Needs MNIST: XPNET_DATA or --data-dir.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import reference_chapter6 as ref
from bench_train import machine, write_results

import xpnet

SIZES = [784, 100, 100, 100, 100, 10]
#: Each xpnet run and the hand loop it is timed against.
PAIRS = [("xpnet numpy", "numpy loop"), ("xpnet torch", "torch loop")]


def time_xpnet(backend: str, data, args) -> tuple[float, float, np.ndarray]:
    """Wall-clock and CPU seconds of xpnet.train, and its losses."""
    (x, t), test = data
    net = xpnet.MultiLayerNet(784, SIZES[1:-1], 10, "relu", "he", seed=0, backend=backend)
    wall, cpu = time.perf_counter(), time.process_time()
    h = xpnet.train(
        net, (x, t), test, iters=args.iters, batch_size=100, optimizer="adam", lr=0.001,
        seed=0, eval_every=args.iters, verbose=0,
    )  # fmt: skip
    return time.perf_counter() - wall, time.process_time() - cpu, np.asarray(h.train_loss)


def initial_params() -> dict[str, np.ndarray]:
    """The parameters xpnet's network starts from (seed 0), for the hand loops to start from.

    Drawing them in the loop "as xpnet draws them" went stale when xpnet's
    generator changed, and the loss curves then differed: the same start
    makes the curves a check that both compute the same run.
    """
    net = xpnet.MultiLayerNet(784, SIZES[1:-1], 10, "relu", "he", seed=0, backend="numpy")
    return {name: np.array(value) for name, value in net.params.items()}


def time_loop(train, data, params, args) -> tuple[float, float, np.ndarray]:
    (x, t), (xt, tt) = data
    wall, cpu = time.perf_counter(), time.process_time()
    losses, _ = train(params, x, t, xt, tt, iters=args.iters, batch_size=100, lr=0.001, seed=0)
    return time.perf_counter() - wall, time.process_time() - cpu, losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    host = xpnet.load_mnist(data_dir=args.data_dir, backend="numpy")
    results: dict = {
        "machine": machine(),
        "network": SIZES,
        "optimizer": "Adam(lr=0.001)",
        "iters": args.iters,
        "repeats": args.repeats,
        "times_s": {},
    }
    contenders = {
        "xpnet numpy": lambda: time_xpnet("numpy", host, args),
        "numpy loop": lambda: time_loop(ref.train_numpy, host, initial_params(), args),
    }
    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        results["machine"]["torch"] = torch.__version__
        results["machine"]["torch_threads"] = torch.get_num_threads()
        on_torch = xpnet.load_mnist(data_dir=args.data_dir, backend="torch", device="cpu")
        host_torch = tuple((torch.from_numpy(x), torch.from_numpy(t)) for x, t in host)

        def torch_params():
            return {k: torch.from_numpy(v) for k, v in initial_params().items()}

        contenders["xpnet torch"] = lambda: time_xpnet("torch", on_torch, args)
        contenders["torch loop"] = lambda: time_loop(
            ref.train_torch, host_torch, torch_params(), args
        )
    except ImportError:
        pass
    losses = {}
    results["cpu_s"] = {}
    for name in contenders:
        results["times_s"][name], results["cpu_s"][name] = [], []
    for _ in range(args.repeats):  # alternate, so drifts in machine load hit everyone
        for name, run in contenders.items():
            seconds, cpu, losses[name] = run()
            results["times_s"][name].append(seconds)
            results["cpu_s"][name].append(cpu)
    med = {name: statistics.median(ts) for name, ts in results["times_s"].items()}
    cpu_med = {name: statistics.median(ts) for name, ts in results["cpu_s"].items()}
    results["median_s"], results["median_cpu_s"] = med, cpu_med
    pairs = [(a, b) for a, b in PAIRS if a in med]  # PyTorch's where it is installed
    # CPU time (one thread each) is what a loaded machine disturbs least.
    results["cpu_ratios"] = {f"{a} / {b}": cpu_med[a] / cpu_med[b] for a, b in pairs}
    ratios = {f"{a} / {b}": med[a] / med[b] for a, b in pairs}
    if "torch loop" in med:
        ratios["numpy loop / torch loop"] = med["numpy loop"] / med["torch loop"]
    results["ratios"] = ratios
    # float32 rounding differences grow through training (ReLU, Adam): the first ten
    # losses show that both compute the same run, the whole curves how far rounding takes it
    results["loss_curves_max_relative_difference"] = {
        f"{a} vs {b}": _max_rel(losses[a], losses[b]) for a, b in pairs
    }
    results["first_10_losses_max_relative_difference"] = {
        f"{a} vs {b}": _max_rel(losses[a][:10], losses[b][:10]) for a, b in pairs
    }
    write_results(results, args.out)


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


if __name__ == "__main__":
    main()
