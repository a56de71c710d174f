"""Chapter 7's SimpleConvNet: xpnet against hand-written loops, and the book's full run.

Speed (the default): per iteration, batch 100, float32, Adam, side by side in
one process (medians of alternating repeats; the machine is shared, compare
ratios):

* xpnet on NumPy (the portable im2col path) vs the book's im2col algorithm in
  NumPy (``reference_convnet.numpy_step``);
* xpnet on PyTorch, eager (its conv2d and max_pool2d natives) vs a PyTorch
  loop with autograd and ``F.conv2d``;
* xpnet on JAX, compiled vs a ``jax.jit`` step of ``lax.conv_general_dilated``.

It also counts the step's floating-point operations and measures the
machine's GEMM rate with one large matrix product, to say how far each is
from the arithmetic limit.

``--full-run BACKEND``: the book's run (Adam, lr 0.001, 20 epochs of batch
100, an evaluation per epoch), its curve, time, test accuracy, the first
layer's filters before and after (docs/chapter7.md draws them), and the test
accuracy of the trained network in float16 (chapter 8's half-float network).

Usage: python benchmarks/bench_convnet.py [--iters 50] [--repeats 3] [--backends numpy,torch,jax]
       python benchmarks/bench_convnet.py --full-run jax [--epochs 20] --out FILE.json
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
import reference_convnet as ref
from bench_train import machine, write_results

import xpnet

BATCH = 100


def batches(n_train: int, iters: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_train, (iters, BATCH))


def time_xpnet(backend: str, data, iters: int, compile_: bool | str) -> float:
    """Seconds per iteration of xpnet.train, compiling excluded (evaluations of 100 samples).

    Compiled: a first run of the same shapes compiles (and is kept), the timed one does not.
    """
    run = dict(iters=iters, batch_size=BATCH, optimizer="adam", lr=0.001, seed=0,
               eval_every=iters, eval_samples=100, verbose=0, compile=compile_)  # fmt: skip
    if compile_ is True:
        xpnet.train(xpnet.SimpleConvNet(seed=0, backend=backend), data, **run)
    h = xpnet.train(xpnet.SimpleConvNet(seed=0, backend=backend), data, **run)
    return (h.seconds - h.compile_seconds) / iters


def time_numpy_loop(x, t, iters: int) -> float:
    p = ref.init_params()
    state = ref.numpy_state(p)
    rows = batches(x.shape[0], iters)
    start = time.perf_counter()
    for i in range(iters):
        ref.numpy_step(p, state, x[rows[i]], t[rows[i]])
    return (time.perf_counter() - start) / iters


def time_torch_loop(x, t, iters: int) -> float:
    import torch

    params, opt = ref.torch_setup(ref.init_params())
    xs, ts = torch.from_numpy(x), torch.from_numpy(t)
    rows = torch.from_numpy(batches(x.shape[0], iters))
    start = time.perf_counter()
    for i in range(iters):
        ref.torch_step(params, opt, xs[rows[i]], ts[rows[i]])
    return (time.perf_counter() - start) / iters


def time_jax_loop(x, t, iters: int) -> float:
    import jax.numpy as jnp

    step, state = ref.jax_setup(ref.init_params())
    xs, ts = jnp.asarray(x), jnp.asarray(t)
    rows = jnp.asarray(batches(x.shape[0], iters + 1))
    state = list(step(*state, xs[rows[0]], ts[rows[0]]))[:4]  # compile outside the clock
    state[-1].block_until_ready()
    start = time.perf_counter()
    for i in range(1, iters + 1):
        *state, loss = step(*state, xs[rows[i]], ts[rows[i]])
    loss.block_until_ready()
    return (time.perf_counter() - start) / iters


def gemm_rate(size: int = 2048) -> float:
    """GFLOP/s of one float32 matrix product on NumPy (the best of three)."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    best = min(_timed(lambda: a @ a) for _ in range(3))
    return 2 * size**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def speed(args, host) -> dict:
    (x, t), _ = host
    contenders = {}
    if "numpy" in args.backends:
        data = xpnet.load_mnist(data_dir=args.data_dir, flatten=False, backend="numpy")[0]
        contenders["xpnet numpy"] = lambda: time_xpnet("numpy", data, args.iters, False)
        contenders["numpy loop"] = lambda: time_numpy_loop(x, t, args.iters)
    if "torch" in args.backends:
        data_t = xpnet.load_mnist(data_dir=args.data_dir, flatten=False, backend="torch")[0]
        contenders["xpnet torch"] = lambda: time_xpnet("torch", data_t, args.iters, False)
        contenders["torch loop"] = lambda: time_torch_loop(x, t, args.iters)
    if "jax" in args.backends:
        data_j = xpnet.load_mnist(data_dir=args.data_dir, flatten=False, backend="jax")[0]
        contenders["xpnet jax (compiled)"] = lambda: time_xpnet("jax", data_j, args.iters, True)
        contenders["jax loop"] = lambda: time_jax_loop(x, t, args.iters)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):  # alternate, so drifts in load hit everyone
        for name, run in contenders.items():
            times[name].append(run())
    med = {name: statistics.median(ts) for name, ts in times.items()}
    pairs = [("xpnet numpy", "numpy loop"), ("xpnet torch", "torch loop"),
             ("xpnet jax (compiled)", "jax loop")]  # fmt: skip
    rate = gemm_rate()
    flops = ref.flops_per_step(BATCH)
    return {
        "seconds_per_iteration": times,
        "median_ms_per_iteration": {k: v * 1e3 for k, v in med.items()},
        "ratios": {f"{a} / {b}": med[a] / med[b] for a, b in pairs if a in med and b in med},
        "fastest": min(med, key=med.get),
        "flops_per_step": flops,
        "gemm_gflops_numpy": rate,
        "fraction_of_gemm_rate": {k: flops / v / 1e9 / rate for k, v in med.items()},
    }


def full_run(args) -> dict:
    """The book's SimpleConvNet run; its curve, accuracy, time and first-layer filters."""
    train_data, test_data = xpnet.load_mnist(
        data_dir=args.data_dir, flatten=False, backend=args.full_run
    )
    net = xpnet.SimpleConvNet(seed=0, backend=args.full_run)
    before = xpnet.to_numpy(net.params["W1"]).tolist()
    iters = args.epochs * train_data[0].shape[0] // BATCH
    h = xpnet.train(
        net, train_data, test_data, iters=iters, batch_size=BATCH, optimizer="adam",
        lr=0.001, seed=0, verbose=2,
    )  # fmt: skip
    x_test, t_test = test_data
    half = net.astype("float16")  # chapter 8's half-float inference, on the trained weights
    return {
        "backend": args.full_run,
        "float16_test_acc": half.accuracy(x_test, t_test),
        "float32_test_acc": net.accuracy(x_test, t_test),
        "epochs": args.epochs,
        "iters": iters,
        "seconds": h.seconds,
        "compile_seconds": h.compile_seconds,
        "test_acc": h.test_acc[-1],
        "train_acc": h.train_acc[-1],
        "history": h.to_dict(),
        "filters_before": before,
        "filters_after": xpnet.to_numpy(net.params["W1"]).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="numpy,torch,jax")
    parser.add_argument("--full-run", default=None, metavar="BACKEND")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    args.backends = args.backends.split(",")
    results: dict = {"machine": machine(), "network": "SimpleConvNet (book defaults)",
                     "optimizer": "Adam(lr=0.001)", "batch_size": BATCH}  # fmt: skip
    if args.full_run:
        results["full_run"] = full_run(args)
    else:
        host = xpnet.load_mnist(data_dir=args.data_dir, flatten=False, backend="numpy")
        results.update(iters=args.iters, repeats=args.repeats, **speed(args, host))
    write_results(results, args.out)


if __name__ == "__main__":
    main()
