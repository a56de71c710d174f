"""Compiled training: xpnet on JAX and PyTorch against hand-written loops, side by side.

The chapter's job (784-50-10, batch 100, lr 0.1, float32, MNIST), run in one
process, the contenders alternating so that drifts in the machine's load hit
all of them; medians and ratios are reported (on a shared machine, compare
the ratios, not the seconds).

1. Training only (evaluations after iteration 0 and the last), `--iters`
   iterations:
   * xpnet on JAX, compiled (the default) vs a hand-written ``lax.scan`` loop
     (reference_jax.py);
   * xpnet on PyTorch, eager (the default) and compiled (``compile=True``)
     vs the hand-written eager PyTorch loop (reference_torch.py), same thread
     count;
   * xpnet on NumPy vs the hand-written NumPy loop (reference_numpy.py).
2. ``xpnet.train`` with the command line's defaults on NumPy (an evaluation
   on all 70,000 images every 600 iterations) vs the NumPy loop with the same
   evaluations.

Compile times are reported apart: for the hand-written JAX loop and for
torch.compile (whose compiled code later runs reuse), the first run's time
minus a later run's; for xpnet on JAX, which compiles once per run, the time
of a one-iteration run compiled minus eager.

Usage: python benchmarks/bench_compile.py [--iters 10000] [--repeats 3]
       [--threads N] [--no-torch-compile] [--out FILE.json]
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
import reference_numpy as ref
from bench_train import machine, write_results

import xpnet

TRAINING_ONLY = 10**9  # eval_every: evaluations after iteration 0 and the last only


def xpnet_run(backend, data, iters, eval_every, compile="auto"):
    (x, t), test = data
    net = xpnet.TwoLayerNet(784, 50, 10, seed=0, backend=backend)
    start = time.perf_counter()
    h = xpnet.train(
        net, (x, t), test, iters=iters, batch_size=100, lr=0.1, seed=0,
        eval_every=eval_every, verbose=0, compile=compile,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    return seconds, h.train_loss, h.test_acc[-1], h.compile_seconds


def hand_run(module, params, data, iters, eval_every):
    (x, t), (xt, tt) = data
    start = time.perf_counter()
    out = module.train_loop(
        params, x, t, xt, tt, iters=iters, batch_size=100, lr=0.1, seed=0, eval_every=eval_every
    )
    seconds = time.perf_counter() - start
    test_acc = out[2] if module is ref else out[1]  # numpy's loop also returns train_acc
    return seconds, [float(v) for v in out[0]], float(test_acc[-1]), 0.0


def contenders(args, host):
    """Name -> a function running it once: (seconds, losses, final test accuracy)."""
    import jax
    import reference_jax
    import reference_torch
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    on = {b: xpnet.load_mnist(data_dir=args.data_dir, backend=b) for b in ("jax", "torch")}
    jax_host = tuple((jax.numpy.asarray(x), jax.numpy.asarray(t)) for x, t in host)
    torch_host = tuple((torch.from_numpy(x), torch.from_numpy(t)) for x, t in host)
    init = ref.init_params((784, 50, 10), seed=0)
    n, e = args.iters, TRAINING_ONLY
    found = {
        "jax scan (hand)": lambda: hand_run(
            reference_jax, {k: jax.numpy.asarray(v) for k, v in init.items()}, jax_host, n, e
        ),
        "xpnet jax (compiled)": lambda: xpnet_run("jax", on["jax"], n, e),
        "torch loop (hand)": lambda: hand_run(
            reference_torch, {k: torch.tensor(v) for k, v in init.items()}, torch_host, n, e
        ),
        "xpnet torch (eager)": lambda: xpnet_run("torch", on["torch"], n, e),
        "numpy loop (hand)": lambda: hand_run(
            ref, {k: v.copy() for k, v in init.items()}, host, n, e
        ),
        "xpnet numpy": lambda: xpnet_run("numpy", host, n, e),
    }
    if args.torch_compile:
        found["xpnet torch (compiled)"] = lambda: xpnet_run("torch", on["torch"], n, e, True)
    return found


def compile_times(args, first, xpnet_compile):
    """Seconds spent compiling, per compiled contender (see the module's docstring)."""
    times = {"xpnet jax (compiled)": statistics.median(xpnet_compile["xpnet jax (compiled)"])}
    names = ["jax scan (hand)"] + (["xpnet torch (compiled)"] if args.torch_compile else [])
    for name in names:
        times[name] = first[name] - statistics.median(args.times[name][1:])
    return times


def chapter_runs(args, host):
    """`xpnet train` defaults on NumPy (evaluations every 600 iterations) vs the NumPy loop."""
    init = ref.init_params((784, 50, 10), seed=0)
    pair = {
        "xpnet numpy, 17 evaluations": lambda: xpnet_run("numpy", host, args.iters, None),
        "numpy loop, same evaluations": lambda: hand_run(
            ref, {k: v.copy() for k, v in init.items()}, host, args.iters, 600
        ),
    }
    times = {name: [] for name in pair}
    for _ in range(args.repeats):
        for name, run in pair.items():
            times[name].append(run()[0])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: its)")
    parser.add_argument(
        "--no-torch-compile", dest="torch_compile", action="store_false",
        help="skip xpnet on PyTorch with compile=True (its first run compiles for a minute)",
    )  # fmt: skip
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    host = xpnet.load_mnist(data_dir=args.data_dir, backend="numpy")
    runs = contenders(args, host)
    import torch

    threads = torch.get_num_threads()
    results: dict = {
        "machine": {**machine(), "torch": torch.__version__, "torch_threads": threads},
        "iters": args.iters,
        "repeats": args.repeats,
    }
    import jax

    results["machine"]["jax"] = jax.__version__
    args.times = {name: [] for name in runs}
    first, curves, accs = {}, {}, {}
    xpnet_compile: dict = {name: [] for name in runs}
    for repeat in range(args.repeats + 1):  # the first round holds the compile times
        for name, run in runs.items():
            seconds, losses, acc, compiling = run()
            if repeat == 0:
                first[name], curves[name], accs[name] = seconds, losses, acc
            else:
                xpnet_compile[name].append(compiling)
            args.times[name].append(seconds)
    compile_s = compile_times(args, first, xpnet_compile)
    steady = {name: statistics.median(ts[1:]) for name, ts in args.times.items()}
    xpnet_jax_steady = steady["xpnet jax (compiled)"] - compile_s["xpnet jax (compiled)"]
    ratios = {
        "xpnet jax compiled / jax scan, training (compile excluded)": xpnet_jax_steady
        / steady["jax scan (hand)"],
        "xpnet jax compiled / jax scan, whole runs (compile included)": steady[
            "xpnet jax (compiled)"
        ]
        / (steady["jax scan (hand)"] + compile_s["jax scan (hand)"]),
        "xpnet torch eager / torch loop": steady["xpnet torch (eager)"]
        / steady["torch loop (hand)"],
        "xpnet numpy / numpy loop": steady["xpnet numpy"] / steady["numpy loop (hand)"],
        "xpnet jax compiled (whole run) / xpnet numpy": steady["xpnet jax (compiled)"]
        / steady["xpnet numpy"],
    }
    if args.torch_compile:
        ratios["xpnet torch compiled / torch loop (compile excluded)"] = (
            steady["xpnet torch (compiled)"] / steady["torch loop (hand)"]
        )
    chapter = chapter_runs(args, host)
    chapter_med = {name: statistics.median(ts) for name, ts in chapter.items()}
    ratios["xpnet train defaults (numpy, 17 evaluations) / numpy loop, same evaluations"] = (
        chapter_med["xpnet numpy, 17 evaluations"] / chapter_med["numpy loop, same evaluations"]
    )
    reference = np.asarray(curves["numpy loop (hand)"][:1000])
    results.update(
        times_s={**args.times, **chapter},
        note="times_s: first entry of each training-only contender includes compiling; "
        "medians leave it out",
        median_s={**steady, **chapter_med},
        compile_s=compile_s,
        ratios=ratios,
        spread={
            name: (max(ts[1:]) - min(ts[1:])) / statistics.median(ts[1:])
            for name, ts in args.times.items()
        },
        test_acc=accs,
        max_rel_diff_first_1000_losses_vs_numpy_loop={
            name: float(np.max(np.abs(np.asarray(c[:1000]) - reference) / reference))
            for name, c in curves.items()
        },
    )
    write_results(results, args.out)


if __name__ == "__main__":
    main()
