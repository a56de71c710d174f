"""GPU benchmarks: the chapter's job on every path, each against its own hand-written loop.

The job: 784-50-10, sigmoid, batch 100, lr 0.1, float32, MNIST (random data
of its shape without it), `--iters` iterations (2,000) of training only:
evaluations after the first and the last iteration, as ``xpnet.train`` with a
huge ``eval_every``. Each xpnet path runs beside a loop written by hand in
its library, on the same device, in this process:

| path | hand-written loop |
| --- | --- |
| JAX compiled (jax.jit, the default) | ``lax.scan`` over the iterations (reference_jax.py) |
| PyTorch eager | the eager PyTorch loop (reference_torch.py) |
| CuPy eager | the CuPy loop (reference_cupy.py) |
| JAX eager (``compile=False``; `--jax-eager-iters`) | - |
| PyTorch compiled (torch.compile, CUDA graphs) | a CUDA graph of 250 steps (reference_torch.py) |

then chapters 7 and 8's networks, ``SimpleConvNet`` and ``DeepConvNet`` (Adam, lr
0.001, batch 100, `--convnet-iters` iterations) through ``xpnet.train`` on JAX
compiled, PyTorch eager and compiled, and CuPy: iterations per second and the
test accuracy after the short run (1,000 test images), beside this project's CPU
figures (the newest ``benchmarks/results/*-convnet-cpu.json``);
plus a large float32 matrix product (the machine's rate) at full float32 and
with TF32, whether CuPy can capture a matrix product into a CUDA graph, and
the time each path spends compiling (apart). Seconds per step leave compile
time out: xpnet's ``History.compile_seconds``, and the hand loops' first run.

The results are written to `--out` after every path, so a run cut short
keeps what it measured. Without a GPU it says so in one line and exits 0;
``--cpu`` runs the paths on the CPU instead (no CuPy, no CUDA graphs), to
test this script.

Usage: python benchmarks/bench_gpu.py [--iters 2000] [--convnet-iters 200] [--cpu]
       [--out FILE.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import reference_numpy as ref

import xpnet

TRAINING_ONLY = 10**9  # eval_every: evaluations after iteration 0 and the last only
HIDDEN, BATCH, LR = 50, 100, 0.1


def gpu_name() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, check=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else None


def host_data():
    try:
        (x, t), (xt, tt) = xpnet.load_mnist(backend="numpy", download=False)
        return ((x, t), (xt, tt)), "MNIST"
    except xpnet.datasets.MnistError:
        rng = np.random.default_rng(0)
        x, t = rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000)
        return ((x, t), (x[:10000], t[:10000])), "random data of MNIST's shape"


def on_backend(host, name, device):
    b = xpnet.backend.resolve_backend(name, device)
    labels = xpnet.backend.index_dtype(b.xp, b.device)
    return b, tuple(
        (xpnet.asarray(x, backend=b), xpnet.asarray(t, dtype=labels, backend=b)) for x, t in host
    )


def xpnet_path(host, name, device, iters, compile):
    """xpnet.train on one backend: seconds per step with compiling left out."""
    b, (train, test) = on_backend(host, name, device)
    # A warm-up run: first calls (and torch.compile, which keeps its code for later
    # runs of these shapes) are not the steady state that the timed run measures.
    net = xpnet.TwoLayerNet(784, HIDDEN, 10, seed=0, backend=b)
    xpnet.train(net, train, test, iters=3, batch_size=BATCH, seed=0, verbose=0, compile=compile)
    net = xpnet.TwoLayerNet(784, HIDDEN, 10, seed=0, backend=b)
    start = time.perf_counter()
    h = xpnet.train(
        net, train, test, iters=iters, batch_size=BATCH, lr=LR, seed=0,
        eval_every=TRAINING_ONLY, verbose=0, compile=compile,
    )  # fmt: skip
    wall = time.perf_counter() - start
    return {
        "us_per_step": (wall - h.compile_seconds) / iters * 1e6, "wall_s": wall,
        "compile_s": h.compile_seconds, "test_acc": h.test_acc[-1],
        "loss_last": h.train_loss[-1], "device": str(b.device),
    }  # fmt: skip


def convnet_path(host, name, device, model, iters, compile):
    """Chapter 7's or 8's network through xpnet.train: iterations per second, the accuracy."""
    images = tuple((x.reshape(-1, 1, 28, 28), t) for x, t in host)
    b, (train, test) = on_backend(images, name, device)
    run = dict(batch_size=BATCH, optimizer="adam", lr=0.001, seed=0, eval_every=TRAINING_ONLY,
               eval_samples=1000, verbose=0, compile=compile)  # fmt: skip
    xpnet.train(getattr(xpnet, model)(seed=0, backend=b), train, test, iters=2, **run)  # warm-up
    net = getattr(xpnet, model)(seed=0, backend=b)
    start = time.perf_counter()
    h = xpnet.train(net, train, test, iters=iters, **run)
    steady = time.perf_counter() - start - h.compile_seconds
    return {
        "iters_per_s": iters / steady, "us_per_step": steady / iters * 1e6,
        "compile_s": h.compile_seconds, "test_acc_1000": h.test_acc[-1],
        "loss_last": h.train_loss[-1], "device": str(b.device),
    }  # fmt: skip


def cpu_convnet_figures() -> dict:
    """This project's CPU figures for SimpleConvNet (ms per iteration), to set beside the GPU's."""
    found = sorted((Path(__file__).parent / "results").glob("*-convnet-cpu.json"))
    if not found:
        return {}
    recorded = json.loads(found[-1].read_text())
    return {
        "file": found[-1].name,
        "machine": recorded.get("machine", {}),
        "SimpleConvNet_ms_per_iteration": recorded.get("median_ms_per_iteration", {}),
    }


def hand_path(host, name, device, iters, loop):
    """A hand-written loop, run twice: the second run is timed (the first compiles, warms up)."""
    b, ((x, t), (xt, tt)) = on_backend(host, name, device)
    xp = b.xp
    runs = []
    for _ in range(2):  # fresh weights each run: torch.asarray shares NumPy's memory
        init = ref.init_params((784, HIDDEN, 10), seed=0)
        params = {k: xpnet.asarray(v, backend=b) for k, v in init.items()}
        start = time.perf_counter()
        losses, test_acc = loop(params, x, t, xt, tt)[:2]
        last = float(xpnet.to_numpy(xp.asarray(losses[-1])))  # waits for the device
        runs.append((time.perf_counter() - start, test_acc[-1], last))
    (first, _, _), (wall, acc, last) = runs
    return {
        "us_per_step": wall / iters * 1e6, "wall_s": wall, "first_run_s": first,
        "test_acc": float(acc), "loss_last": last,
    }  # fmt: skip


def gemm(name, device, n, levels=("highest", "high"), repeats=10):
    """TFLOP/s of an n x n x n float32 matrix product, at each matmul precision."""
    b = xpnet.backend.resolve_backend(name, device)
    rng = np.random.default_rng(0)
    a = xpnet.asarray(rng.standard_normal((n, n), dtype=np.float32), backend=b)
    out = {"n": n}
    for level in levels:
        with xpnet.backend.matmul_precision(b, level):
            for _ in range(3):
                c = a @ a
            xpnet.to_numpy(c[:1, :1])
            start = time.perf_counter()
            for _ in range(repeats):
                c = a @ a
            xpnet.to_numpy(c[:1, :1])
            seconds = (time.perf_counter() - start) / repeats
        out[level] = {"tflops": 2 * n**3 / seconds / 1e12, "ms": seconds * 1e3}
    return out


def cupy_capture_probe() -> str:
    """Whether the installed CuPy captures a matrix product into a CUDA graph (docs/compile.md)."""
    import cupy

    a = cupy.ones((8, 8), dtype=cupy.float32)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        try:
            a @ a
        except Exception as exc:  # what CuPy says is the finding
            outcome = f"refused: {type(exc).__name__}: {exc}"
        else:
            outcome = "captured"
        finally:
            stream.end_capture()
    return outcome


def hand(module: str, function: str = "train_loop"):
    """A hand-written loop, imported when its path runs: a broken library fails that path only."""
    return getattr(__import__(module), function)


def paths(args, host, device):
    """(name, function) in order of value: what the first GPU run must bring back first."""
    n = args.iters
    kw = dict(iters=n, batch_size=BATCH, lr=LR, seed=0, eval_every=TRAINING_ONLY)
    found = [
        ("gemm", lambda: gemm("torch", device, 1024 if args.cpu else 8192)),
        ("xpnet jax compiled", lambda: xpnet_path(host, "jax", device, n, True)),
        ("hand jax lax.scan", lambda: hand_path(
            host, "jax", device, n, lambda *a: hand("reference_jax")(*a, **kw))),
        ("xpnet torch eager", lambda: xpnet_path(host, "torch", device, n, False)),
        ("hand torch eager", lambda: hand_path(
            host, "torch", device, n, lambda *a: hand("reference_torch")(*a, **kw))),
    ]  # fmt: skip
    if not args.cpu:
        found += [
            ("xpnet cupy eager", lambda: xpnet_path(host, "cupy", None, n, False)),
            ("hand cupy eager", lambda: hand_path(
                host, "cupy", None, n, lambda *a: hand("reference_cupy")(*a, **kw))),
            ("cupy graph capture of a matmul", cupy_capture_probe),
        ]  # fmt: skip
    eager = args.jax_eager_iters
    found += [
        ("xpnet jax eager", lambda: xpnet_path(host, "jax", device, eager, False)),
        ("xpnet torch compiled", lambda: xpnet_path(host, "torch", device, n, True)),
    ]
    c = args.convnet_iters
    for model in ("SimpleConvNet", "DeepConvNet"):
        found += [
            (f"xpnet {model} jax compiled", lambda m=model: convnet_path(
                host, "jax", device, m, c, True)),
            (f"xpnet {model} torch eager", lambda m=model: convnet_path(
                host, "torch", device, m, c, False)),
        ]  # fmt: skip
        if not args.cpu:  # torch.compile of a convolutional step takes minutes on a CPU
            found += [
                (f"xpnet {model} torch compiled", lambda m=model: convnet_path(
                    host, "torch", device, m, c, True)),
                (f"xpnet {model} cupy eager", lambda m=model: convnet_path(
                    host, "cupy", None, m, c, False)),
            ]  # fmt: skip
    if not args.cpu:
        graphed = dict(iters=n, batch_size=BATCH, lr=LR, seed=0)
        chunk_graph = "train_loop_chunk_graph"
        found.append(("hand torch CUDA graph of 250 steps", lambda: hand_path(
            host, "torch", device, n,
            lambda *a: hand("reference_torch", chunk_graph)(*a, **graphed))))  # fmt: skip
    return found


def ratios(results):
    pairs = {
        "jax compiled / lax.scan": ("xpnet jax compiled", "hand jax lax.scan"),
        "torch eager / hand": ("xpnet torch eager", "hand torch eager"),
        "cupy eager / hand": ("xpnet cupy eager", "hand cupy eager"),
        "torch compiled / CUDA graph of 250 steps": (
            "xpnet torch compiled", "hand torch CUDA graph of 250 steps"),
    }  # fmt: skip
    out = {}
    for label, (a, b) in pairs.items():
        if "us_per_step" in results.get(a, {}) and "us_per_step" in results.get(b, {}):
            out[label] = results[a]["us_per_step"] / results[b]["us_per_step"]
    return out


def write(results, out):
    results["ratios"] = ratios(results["paths"])
    if out:
        Path(out).write_text(json.dumps(results, indent=1) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=None, help="per path (2000; 200 with --cpu)")
    parser.add_argument("--jax-eager-iters", type=int, default=100)
    parser.add_argument(
        "--convnet-iters", type=int, default=None, help="per convolutional path (200; 3 with --cpu)"
    )
    parser.add_argument("--cpu", action="store_true", help="run the paths on the CPU (a test)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    gpu = gpu_name()
    if gpu is None and not args.cpu:
        print("bench_gpu: skipped: no NVIDIA GPU (nvidia-smi finds none); --cpu runs the paths "
              "on the CPU")  # fmt: skip
        return 0
    args.iters = args.iters or (200 if args.cpu else 2000)
    args.convnet_iters = args.convnet_iters or (3 if args.cpu else 200)
    if args.iters % 250 and not args.cpu:
        parser.error("--iters must be a multiple of 250 (the hand CUDA graph's chunk)")
    device = "cpu" if args.cpu else "cuda"
    host, source = host_data()
    if args.cpu:  # a test of this script: evaluations on 6,000 and 1,000 images
        (x, t), (xt, tt) = host
        host, source = ((x[:6000], t[:6000]), (xt[:1000], tt[:1000])), source + " (a tenth)"
        with contextlib.suppress(ImportError):  # on a busy machine, more threads wait for cores
            __import__("torch").set_num_threads(1)
    results = {
        "machine": {
            "date": datetime.now().strftime("%Y-%m-%d %H:%M"), "gpu": gpu,
            "device": device, "host": platform.node(), "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "job": f"784-{HIDDEN}-10, sigmoid, batch {BATCH}, lr {LR}, float32, training only",
        "data": source, "iters": args.iters, "jax_eager_iters": args.jax_eager_iters,
        "convnet_iters": args.convnet_iters, "cpu_convnet": cpu_convnet_figures(),
        "paths": {},
    }  # fmt: skip
    for module in ("numpy", "torch", "jax", "cupy"):
        with contextlib.suppress(ImportError):
            results["machine"][module] = __import__(module).__version__
    status = 0
    for name, run in paths(args, host, device):
        start = time.perf_counter()
        try:
            found = run()
            results["paths"][name] = found if isinstance(found, dict) else {"outcome": found}
        except KeyboardInterrupt:  # the time limit: keep what was measured
            results["paths"][name] = {"error": "interrupted (time limit)"}
            write(results, args.out)
            print(f"bench_gpu: {name}: interrupted", flush=True)
            return 130
        except Exception as exc:  # one broken path must not hide the rest
            results["paths"][name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            status = 1
        results["paths"][name]["path_s"] = time.perf_counter() - start
        write(results, args.out)
        print(f"bench_gpu: {name}: {json.dumps(results['paths'][name])}", flush=True)
    print(f"bench_gpu: ratios {json.dumps(results['ratios'])}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
