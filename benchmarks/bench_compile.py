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
minus a later run's; for xpnet on JAX (a run reuses the step an earlier run compiled), the time
of a one-iteration run compiled minus eager.

Usage: python benchmarks/bench_compile.py [--iters 10000] [--repeats 3]
       [--threads N] [--no-torch-compile] [--out FILE.json]
Needs MNIST: XPNET_DATA or --data-dir.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import reference_numpy as ref
from bench_train import machine, write_results

import xpnet

TRAINING_ONLY = 10**9  # eval_every: evaluations after iteration 0 and the last only


@dataclass
class Run:
    """One timed run: wall-clock and CPU seconds, its losses, final test accuracy, compiling."""

    wall: float
    cpu: float
    losses: list
    test_acc: float
    compile_s: float


def xpnet_run(backend, data, iters, eval_every, compile="auto"):
    (x, t), test = data
    net = xpnet.TwoLayerNet(784, 50, 10, seed=0, backend=backend)
    wall, cpu = time.perf_counter(), time.process_time()
    h = xpnet.train(
        net, (x, t), test, iters=iters, batch_size=100, lr=0.1, seed=0,
        eval_every=eval_every, verbose=0, compile=compile,
    )  # fmt: skip
    return Run(
        time.perf_counter() - wall, time.process_time() - cpu, h.train_loss, h.test_acc[-1],
        h.compile_seconds,
    )  # fmt: skip


def hand_run(module, params, data, iters, eval_every):
    (x, t), (xt, tt) = data
    wall, cpu = time.perf_counter(), time.process_time()
    out = module.train_loop(
        params, x, t, xt, tt, iters=iters, batch_size=100, lr=0.1, seed=0, eval_every=eval_every
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    test_acc = out[2] if module is ref else out[1]  # numpy's loop also returns train_acc
    return Run(wall, cpu, [float(v) for v in out[0]], float(test_acc[-1]), 0.0)


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


def rounds(runs, repeats):
    """Run every contender `repeats + 1` times, alternating; round 0 includes compiling."""
    out = {name: [] for name in runs}
    for _ in range(repeats + 1):
        for name, run in runs.items():
            out[name].append(run())
            print(f"{name}: {out[name][-1].wall:.2f} s", file=sys.stderr, flush=True)
    return out


def summary(values):
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "all": values,
    }


def paired_ratios(measured, pairs, clock):
    """For each (label, numerator, denominator) the ratio in each round after the first.

    Contenders run side by side, so each round's ratio compares runs made under
    the same load; their spread says how noisy the machine was.
    """
    out = {}
    for label, num, den in pairs:
        values = [num(r, clock) / den(r, clock) for r in range(1, len(measured["xpnet numpy"]))]
        out[label] = summary(values)
    return out


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

    import jax
    import torch

    host = xpnet.load_mnist(data_dir=args.data_dir, backend="numpy")
    runs = contenders(args, host)
    jax.jit(lambda a: a + 1)(1.0).block_until_ready()  # JAX's start-up is not compile time
    threads = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    results: dict = {
        "machine": {
            **machine(), "torch": torch.__version__, "jax": jax.__version__,
            "torch_threads": torch.get_num_threads(), **threads,
            "load_average_at_start": os.getloadavg(),
        },
        "iters": args.iters,
        "repeats": args.repeats,
    }  # fmt: skip
    m = rounds(runs, args.repeats)
    first = {name: rs[0] for name, rs in m.items()}
    compile_s = {
        "xpnet jax (compiled), per run": statistics.median(
            r.compile_s for r in m["xpnet jax (compiled)"]
        ),
        "jax scan (hand), once per process": first["jax scan (hand)"].wall
        - statistics.median(r.wall for r in m["jax scan (hand)"][1:]),
    }
    if args.torch_compile:
        compile_s["xpnet torch (compiled), once per process"] = first[
            "xpnet torch (compiled)"
        ].wall - statistics.median(r.wall for r in m["xpnet torch (compiled)"][1:])

    def t(name):
        return lambda r, clock: getattr(m[name][r], clock)

    def jax_training(r, clock):  # xpnet on JAX without its compile time
        run = m["xpnet jax (compiled)"][r]
        return getattr(run, clock) - run.compile_s

    def hand_jax_whole(r, clock):
        return (
            getattr(m["jax scan (hand)"][r], clock) + compile_s["jax scan (hand), once per process"]
        )

    pairs = [
        ("xpnet jax compiled / jax scan (compile excluded)", jax_training, t("jax scan (hand)")),
        (
            "xpnet jax compiled / jax scan (compile included)",
            t("xpnet jax (compiled)"),
            hand_jax_whole,
        ),
        ("xpnet torch eager / torch loop", t("xpnet torch (eager)"), t("torch loop (hand)")),
        ("xpnet numpy / numpy loop", t("xpnet numpy"), t("numpy loop (hand)")),
        (
            "xpnet jax compiled (compile included) / xpnet numpy",
            t("xpnet jax (compiled)"),
            t("xpnet numpy"),
        ),
    ]
    if args.torch_compile:
        pairs.append(
            ("xpnet torch compiled / torch loop (compile excluded)",
             t("xpnet torch (compiled)"), t("torch loop (hand)"))
        )  # fmt: skip
    # CPU time only where one thread does the work (JAX's runtime has threads of its own).
    eager = [pair for pair in pairs if "jax" not in pair[0]]
    ratios = {"wall": paired_ratios(m, pairs, "wall"), "cpu": paired_ratios(m, eager, "cpu")}
    chapter = rounds(chapter_runs(args, host), args.repeats - 1)
    label = "xpnet train defaults (numpy, evaluations every 600) / numpy loop, same evaluations"
    for clock in ("wall", "cpu"):
        values = [
            getattr(a, clock) / getattr(b, clock) for a, b in zip(*chapter.values(), strict=True)
        ]
        ratios[clock][label] = summary(values)
    reference = np.asarray(first["numpy loop (hand)"].losses[:1000])
    results.update(
        seconds={
            name: {"wall": [r.wall for r in rs], "cpu": [r.cpu for r in rs]}
            for name, rs in {**m, **chapter}.items()
        },
        note="seconds: each training-only contender's first run includes compiling; the "
        "ratios use the later runs, each paired with the run beside it",
        compile_s=compile_s,
        ratios=ratios,
        test_acc={name: rs[0].test_acc for name, rs in {**m, **chapter}.items()},
        max_rel_diff_first_1000_losses_vs_numpy_loop={
            name: float(np.max(np.abs(np.asarray(rs[0].losses[:1000]) - reference) / reference))
            for name, rs in m.items()
        },
    )
    write_results(results, args.out)


def chapter_runs(args, host):
    """`xpnet train` defaults on NumPy (evaluations every 600 iterations) vs the NumPy loop."""
    init = ref.init_params((784, 50, 10), seed=0)
    return {
        "xpnet numpy, defaults": lambda: xpnet_run("numpy", host, args.iters, None),
        "numpy loop, same evaluations": lambda: hand_run(
            ref, {k: v.copy() for k, v in init.items()}, host, args.iters, 600
        ),
    }


if __name__ == "__main__":
    main()
