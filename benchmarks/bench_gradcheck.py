"""Gradient checks of TwoLayerNet: xpnet's check_grads against torch.autograd.gradcheck.

The network is the chapter's TwoLayerNet(784, 50, 10) (39,760 parameters;
``--hidden 100`` gives 79,510), sigmoid, on a batch of 100 MNIST images (random
pixels when MNIST is absent), all in one process:

1. fast mode: ``net``'s check with ``mode="fast"`` (4 random directions) in
   float32 and float64 on NumPy, against ``torch.autograd.gradcheck(...,
   fast_mode=True)`` on the same loss written in torch (float64, as torch's
   gradcheck requires). Reported: median wall time, and the time spent in
   evaluations of the loss. A float32 attempt of torch's fast check runs in a
   child process with a time limit: it fails (its step of 1e-6 is below
   float32's resolution) and then recomputes the full Jacobians in slow mode
   for its error message.
2. full mode: ``mode="full"`` (TwoLayerNet's structured numerical gradient),
   against torch's full gradcheck and the chapter's one-at-a-time loop
   (reference_numpy.py), each timed once (they take tens of seconds).

Usage: python benchmarks/bench_gradcheck.py [--repeats 20] [--hidden 50] [--skip-slow]
       [--torch-float32-timeout 60] [--out benchmarks/results/DATE-gradcheck-cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import reference_numpy as ref
from bench_train import machine, write_results

import xpnet
from xpnet.checking import check_network_gradient
from xpnet.layers import Affine, Sigmoid, SoftmaxWithLoss


def batch(args) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        (x, t), _ = xpnet.load_mnist(data_dir=args.data_dir, backend="numpy", dtype="float64")
        return x[:100], t[:100], "MNIST, first 100 training images"
    except xpnet.errors.DataError:
        rng = np.random.default_rng(0)
        return rng.random((100, 784)), rng.integers(0, 10, 100), "random pixels (no MNIST)"


class Timed:
    """A loss function that counts its calls and the time spent in them."""

    def __init__(self, fn) -> None:
        self.fn, self.calls, self.seconds = fn, 0, 0.0

    def __call__(self, *args):
        start = time.perf_counter()
        out = self.fn(*args)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out


def xpnet_loss(x, t):
    """The network's loss at other parameters: the forward pass only, through xpnet's layers."""

    def loss(p):
        a = Affine(p["W2"], p["b2"]).forward(Sigmoid().forward(Affine(p["W1"], p["b1"]).forward(x)))
        return SoftmaxWithLoss().forward(a, t)

    return loss


def time_xpnet(net, x, t, mode: str, repeats: int) -> dict:
    walls, in_f, report = [], [], None
    for i in range(repeats):
        loss = Timed(xpnet_loss(x, t))
        start = time.perf_counter()
        report = check_network_gradient(net, x, t, mode=mode, loss=loss, seed=i)
        walls.append(time.perf_counter() - start)
        in_f.append(loss.seconds)
    return {
        "median_ms": 1e3 * statistics.median(walls),
        "f_evaluations_median_ms": 1e3 * statistics.median(in_f),
        "f_evaluations": report.evaluations,
        "engine": report.engine,
        "passed": report.passed,
        "max_rel_error": {k: a.max_rel_error for k, a in report.arrays.items()},
    }


def torch_loss(x, t):
    import torch

    def loss(W1, b1, W2, b2):
        z = torch.sigmoid(x @ W1 + b1)
        y = torch.softmax(z @ W2 + b2, dim=1)
        return -torch.log(y[torch.arange(x.shape[0]), t] + 1e-7).sum() / x.shape[0]

    return loss


def time_torch(params: dict, x, t, dtype: str, fast: bool, repeats: int) -> dict:
    import torch

    tdtype = getattr(torch, dtype)
    inputs = tuple(torch.tensor(params[k], dtype=tdtype, requires_grad=True) for k in params)
    xt, tt = torch.tensor(x, dtype=tdtype), torch.tensor(t)
    walls, in_f, outcome = [], [], "passed"
    for _ in range(repeats):
        loss = Timed(torch_loss(xt, tt))
        start = time.perf_counter()
        try:
            torch.autograd.gradcheck(loss, inputs, fast_mode=fast)
        except Exception as exc:  # recorded: GradcheckError in float32, for instance
            outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        walls.append(time.perf_counter() - start)
        in_f.append(loss.seconds)
    return {
        "median_ms": 1e3 * statistics.median(walls),
        "f_evaluations_median_ms": 1e3 * statistics.median(in_f),
        "f_evaluations": loss.calls,
        "outcome": outcome,
    }


def torch_float32_child(args) -> dict:
    """torch's fast check in float32, in a child process stopped after the time limit."""
    cmd = [
        sys.executable,
        "-W",
        "ignore",
        __file__,
        "--torch-float32-child",
        "--hidden",
        str(args.hidden),
    ]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    start = time.perf_counter()
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.torch_float32_timeout, check=True
        )
    except subprocess.TimeoutExpired:
        return {"outcome": f"still running after {args.torch_float32_timeout} s, stopped"}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {**result, "child_wall_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=50)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--skip-slow", action="store_true", help="skip the full-mode baselines")
    parser.add_argument("--torch-float32-timeout", type=float, default=60.0)
    parser.add_argument("--torch-float32-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import torch

    x64, t, data = batch(args)
    if args.torch_float32_child:
        net = xpnet.TwoLayerNet(784, args.hidden, 10, seed=0, dtype="float64", backend="numpy")
        host = {k: np.asarray(v) for k, v in net.params.items()}
        print(json.dumps(time_torch(host, x64, t, "float32", True, 1)))
        return
    results = {
        "machine": {
            **machine(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "load_average_at_start": os.getloadavg(),
            "note": "shared machine: other engineers' jobs were running; timings are noisy",
        },
        "network": f"TwoLayerNet(784, {args.hidden}, 10), sigmoid, batch of 100: {data}",
    }
    nets = {}
    for dtype in ("float32", "float64"):
        nets[dtype] = xpnet.TwoLayerNet(784, args.hidden, 10, seed=0, dtype=dtype, backend="numpy")
    results["parameters"] = sum(p.size for p in nets["float64"].params.values())
    host = {k: np.asarray(v) for k, v in nets["float64"].params.items()}
    fast = {}
    for dtype, net in nets.items():
        fast[f"xpnet_{dtype}"] = time_xpnet(net, x64.astype(dtype), t, "fast", args.repeats)
    fast["torch_fast_float64"] = time_torch(host, x64, t, "float64", True, args.repeats)
    fast["torch_fast_float32"] = torch_float32_child(args)
    torch_ms = fast["torch_fast_float64"]["median_ms"]
    fast["ratio_torch_float64_over_xpnet_float32"] = torch_ms / fast["xpnet_float32"]["median_ms"]
    fast["ratio_torch_float64_over_xpnet_float64"] = torch_ms / fast["xpnet_float64"]["median_ms"]
    results["fast"] = fast
    full = {f"xpnet_{d}": time_xpnet(n, x64.astype(d), t, "full", 3) for d, n in nets.items()}
    if not args.skip_slow:
        full["torch_full_float64"] = time_torch(host, x64, t, "float64", False, 1)
        start = time.perf_counter()
        ref.network_numerical_gradient({k: v.copy() for k, v in host.items()}, x64, t)
        full["chapter_loop_float64_ms"] = 1e3 * (time.perf_counter() - start)
        for key in ("torch_full_float64",):
            full[f"ratio_{key}_over_xpnet_float64"] = (
                full[key]["median_ms"] / full["xpnet_float64"]["median_ms"]
            )
        full["ratio_chapter_loop_over_xpnet_float64"] = (
            full["chapter_loop_float64_ms"] / full["xpnet_float64"]["median_ms"]
        )
    results["full"] = full
    results["machine"]["load_average_at_end"] = os.getloadavg()
    write_results(results, args.out)


if __name__ == "__main__":
    main()
