"""GPU benchmarks: xpnet on CuPy / PyTorch / JAX against a hand-written PyTorch loop.

1. Backprop training, 784-50-10 at batch 100 (the chapter) and 784-4096-10 at
   batch 8192 (a size where the GPU is busy), iterations per second: every
   backend eager (``compile=False``) and, where it has a compiler, compiled
   (``compile=True``: jax.jit, torch.compile with CUDA graphs), against the
   hand-written PyTorch loop eager and replayed from a captured CUDA graph.
   Compile time is reported apart and left out of iterations per second.
2. One structured numerical gradient (784-50-10, batch 100, float64) on each
   backend, with a PyTorch autograd backprop gradient as the yardstick.
3. ``xpnet train --grad numerical`` for the chapter's 10,000 iterations (CuPy,
   else PyTorch).

Usage: python benchmarks/bench_gpu.py [--device cuda] [--quick] [--out FILE.json]
Reads MNIST from XPNET_DATA when present, else times on random data of MNIST's shape.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import reference_numpy as ref
from bench_train import write_results

import xpnet


def gpu_name() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "none"


def host_data(quick: bool):
    try:
        (x, t), (xt, tt) = xpnet.load_mnist(backend="numpy", download=False)
        source = "MNIST"
    except xpnet.datasets.MnistError:
        rng = np.random.default_rng(0)
        x, t = rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000)
        xt, tt = x[:10000], t[:10000]
        source = "random data of MNIST's shape"
    if quick:
        x, t, xt, tt = x[:6000], t[:6000], xt[:1000], tt[:1000]
    return ((x, t), (xt, tt)), source


def backends(device: str) -> list[tuple[str, str]]:
    found = []
    for name in ("cupy", "torch", "jax"):
        dev = None if name == "cupy" else device
        try:
            xpnet.backend.resolve_backend(name, dev)
            found.append((name, dev))
        except (ImportError, RuntimeError, ValueError):
            pass
    return found


def time_xpnet_train(name, dev, host, hidden, batch, iters, compile=False):
    """Seconds of a timed run (compile time left out), its test accuracy, its compile time."""
    b = xpnet.backend.resolve_backend(name, dev)
    (x, t), (xt, tt) = host
    data = (
        xpnet.asarray(x, backend=b),
        xpnet.asarray(t, dtype=xpnet.backend.index_dtype(b.xp, b.device), backend=b),
    )
    test = (
        xpnet.asarray(xt, backend=b),
        xpnet.asarray(tt, dtype=xpnet.backend.index_dtype(b.xp, b.device), backend=b),
    )
    net = xpnet.TwoLayerNet(784, hidden, 10, seed=0, backend=b)
    warm_up = xpnet.train(net, data, iters=5, batch_size=batch, seed=0, verbose=0, compile=compile)
    net = xpnet.TwoLayerNet(784, hidden, 10, seed=0, backend=b)
    start = time.perf_counter()
    h = xpnet.train(
        net,
        data,
        test,
        iters=iters,
        batch_size=batch,
        lr=0.1,
        seed=0,
        eval_every=max(iters // 4, 1),
        verbose=0,
        compile=compile,
    )
    seconds = time.perf_counter() - start  # torch.compile compiled in the warm-up; jax.jit again
    return seconds - h.compile_seconds, h.test_acc[-1], warm_up.compile_seconds


def time_torch_train(device, host, hidden, batch, iters, graphed=False):
    import reference_torch
    import torch

    (x, t), (xt, tt) = host
    x, t = torch.from_numpy(x).to(device), torch.from_numpy(np.asarray(t, np.int64)).to(device)
    xt, tt = torch.from_numpy(xt).to(device), torch.from_numpy(np.asarray(tt, np.int64)).to(device)
    init = ref.init_params((784, hidden, 10), seed=0)
    params = {k: torch.from_numpy(v).to(device) for k, v in init.items()}
    loop = reference_torch.train_loop_graphed if graphed else reference_torch.train_loop
    start = time.perf_counter()
    _, test_acc = loop(
        params,
        x,
        t,
        xt,
        tt,
        iters=iters,
        batch_size=batch,
        lr=0.1,
        seed=0,
        eval_every=max(iters // 4, 1),
    )
    return time.perf_counter() - start, test_acc[-1]


def numerical_gradients(found, host, repeats):
    (x, t), _ = host
    out = {}
    for name, dev in found:
        b = xpnet.backend.resolve_backend(name, dev)
        if not xpnet.backend.float64_available(b):
            continue
        xb = xpnet.asarray(x[:100].astype(np.float64), backend=b)
        tb = xpnet.asarray(t[:100], dtype=xpnet.backend.index_dtype(b.xp, b.device), backend=b)
        net = xpnet.TwoLayerNet(784, 50, 10, seed=0, dtype="float64", backend=b)
        net.numerical_gradient(xb, tb)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            g = net.numerical_gradient(xb, tb)
            xpnet.to_numpy(g["W1"][:1, :1])
            times.append(time.perf_counter() - start)
        bp = net.gradient(xb, tb)
        diff = max(
            float(
                np.abs(xpnet.to_numpy(g[k]) - xpnet.to_numpy(bp[k])).max()
                / np.abs(xpnet.to_numpy(bp[k])).max()
            )
            for k in g
        )
        out[name] = {
            "structured_median_s": statistics.median(times),
            "max_rel_diff_vs_backprop": diff,
        }
    return out


def cupy_capture_probe() -> str:
    """Whether the installed CuPy captures a matrix product into a CUDA graph.

    xpnet has no compiler for CuPy because CuPy refuses cuBLAS calls during
    stream capture; this records whether that is still so.
    """
    try:
        import cupy
    except ImportError:
        return "cupy not installed"
    a = cupy.ones((8, 8), dtype=cupy.float32)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        try:
            a @ a
        except NotImplementedError as exc:
            outcome = f"refused: {exc}"
        else:
            outcome = "captured"
        finally:
            stream.end_capture()
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke test of this script"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    host, source = host_data(args.quick)
    found = backends(args.device)
    results = {
        "machine": {"date": date.today().isoformat(), "gpu": gpu_name(), "device": args.device},
        "data": source,
    }
    small_iters, big_iters = (50, 4) if args.quick else (2000, 200)
    big_hidden, big_batch = (256, 512) if args.quick else (4096, 8192)
    rows = {}
    for label, hidden, batch, iters in (
        ("784-50-10 batch 100", 50, 100, small_iters),
        (f"784-{big_hidden}-10 batch {big_batch}", big_hidden, big_batch, big_iters),
    ):
        row = {}
        for name, dev in found:
            has_compiler = xpnet.backend.resolve_backend(name, dev).library.compiler is not None
            for mode in (False, True) if has_compiler else (False,):
                n = iters if mode or name != "jax" else max(iters // 10, 4)  # eager JAX: slow
                seconds, acc, comp = time_xpnet_train(name, dev, host, hidden, batch, n, mode)
                row[f"xpnet {name} {'compiled' if mode else 'eager'}"] = {
                    "iters_per_s": n / seconds,
                    "test_acc": acc,
                    "compile_s": comp,
                }
        if any(name == "torch" for name, _ in found):
            for graphed in (False, True) if args.device.startswith("cuda") else (False,):
                seconds, acc = time_torch_train(args.device, host, hidden, batch, iters, graphed)
                row[f"torch loop{' (CUDA graph)' if graphed else ''}"] = {
                    "iters_per_s": iters / seconds,
                    "test_acc": acc,
                }
        rows[label] = row
        print(label, json.dumps(row), flush=True)
    results["train"] = rows
    results["cupy_graph_capture_of_matmul"] = cupy_capture_probe()
    results["numerical_gradient"] = numerical_gradients(found, host, 3 if args.quick else 20)
    print(json.dumps(results["numerical_gradient"]), flush=True)
    train_backend = next((name for name, _ in found if name == "cupy"), "torch")
    if found and not args.quick:
        cmd = [
            sys.executable,
            "-m",
            "xpnet",
            "train",
            "--quiet",
            "--grad",
            "numerical",
            "--backend",
            train_backend,
        ]
        if train_backend == "torch":
            cmd += ["--device", args.device]
        start = time.perf_counter()
        completed = subprocess.run(cmd, check=False)
        results["train_numerical_10000"] = {
            "backend": train_backend,
            "wall_s": time.perf_counter() - start,
            "returncode": completed.returncode,
        }
    write_results(results, args.out)


if __name__ == "__main__":
    main()
