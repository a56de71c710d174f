"""JAX's compiled chunk: masked ``lax.scan`` windows of static length against the traced loop.

xpnet on JAX runs each chunk of up to 256 iterations on the device. Until
2026-12 that was one call of ``lax.fori_loop(start, stop)`` with traced
bounds, an XLA while-loop of unknown trip count (on a GPU its predicate is
read back to the host at every iteration). Now it is ``lax.scan`` of a static
length over a window of the chunk's rows, the rows outside ``start ..
stop-1`` masked: XLA knows the trip count, but a window cut by an evaluation
also computes the rows it drops. Contenders, side by side in one process, on
the chapter's job (784-50-10, batch 100, lr 0.1, float32, MNIST):

* xpnet, windows of 32 rows (the registry's ``_jit_loop``, now);
* xpnet, one window of the whole chunk (256 rows, one call per chunk);
* xpnet, the traced ``fori_loop`` (before; defined here);
* the hand-written ``lax.scan`` loop (reference_jax.py),

each for two schedules:

* training only: evaluations after iteration 0 and the last (41 pieces of
  chunks for 10,000 iterations);
* the command line's defaults: an evaluation on all 70,000 images every 600
  iterations (57 pieces; whole-chunk windows then compute 46% more rows
  than the run needs, windows of 32 some 9%).

The contenders alternate, so that drifts in the machine's load hit all of
them; each round's ratios compare runs made side by side. The other loops
are put in place of the registry's for their runs.

Usage: python benchmarks/bench_jax_loop.py [--iters 10000] [--repeats 3] [--out FILE.json]
Needs MNIST: XPNET_DATA or --data-dir.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import reference_numpy as ref
from bench_train import machine, write_results

import xpnet
from xpnet.backend import _jax
from xpnet.training import loop

TRAINING_ONLY = 10**9  # eval_every: evaluations after iteration 0 and the last only


def whole_chunk(body, device):
    """One masked scan over all 256 rows of a chunk: one call per chunk."""
    return _jax._jit_loop(body, device, window=256)


def fori_loop(body, device):
    """xpnet's compiled chunk before 2026-12: ``lax.fori_loop`` with traced bounds."""
    import jax

    def run(params, opt_state, x, t, batches, start, stop):
        losses = jax.numpy.zeros(batches.shape[0], dtype=x.dtype)

        def one(i, carry):
            params, opt_state, losses = carry
            params, opt_state, loss = body(params, opt_state, x, t, batches[i])
            return params, opt_state, losses.at[i].set(loss)

        return jax.lax.fori_loop(start, stop, one, (params, opt_state, losses))

    return jax.jit(run)


@contextlib.contextmanager
def compiled_with(chunk_loop):
    """Runs of xpnet.train inside use `chunk_loop` as JAX's compiled chunk."""
    compiler = xpnet.backend.resolve_backend("jax").library.compiler
    replaced = dataclasses.replace(compiler, loop=chunk_loop)
    original = loop.choose_compiler
    loop.choose_compiler = lambda *args, **kwargs: replaced
    try:
        yield
    finally:
        loop.choose_compiler = original


def xpnet_run(data, iters, eval_every, chunk_loop=None):
    (x, t), test = data
    net = xpnet.TwoLayerNet(784, 50, 10, seed=0, backend="jax")
    with compiled_with(chunk_loop) if chunk_loop else contextlib.nullcontext():
        start = time.perf_counter()
        h = xpnet.train(
            net, (x, t), test, iters=iters, batch_size=100, lr=0.1, seed=0,
            eval_every=eval_every, verbose=0, compile=True,
        )  # fmt: skip
        wall = time.perf_counter() - start
    return {
        "wall": wall, "compile_s": h.compile_seconds, "train_s": wall - h.compile_seconds,
        "losses": h.train_loss, "test_acc": h.test_acc[-1],
    }  # fmt: skip


def hand_run(data, iters, eval_every):
    import jax
    import reference_jax

    (x, t), (xt, tt) = data
    params = {k: jax.numpy.asarray(v) for k, v in ref.init_params((784, 50, 10), seed=0).items()}
    start = time.perf_counter()
    losses, test_acc, _ = reference_jax.train_loop(
        params, x, t, xt, tt, iters=iters, batch_size=100, lr=0.1, seed=0, eval_every=eval_every
    )
    wall = time.perf_counter() - start
    return {"wall": wall, "train_s": wall, "losses": losses, "test_acc": test_acc[-1]}


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def ratio(runs, others):
    """Each round's ratio of training seconds, runs made side by side."""
    return summary([a["train_s"] / b["train_s"] for a, b in zip(runs, others, strict=True)])


def rel_diff(losses, reference):
    reference = np.asarray(reference, dtype=np.float64)
    return float(np.max(np.abs(np.asarray(losses, dtype=np.float64) - reference) / reference))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds after a first one")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import jax

    data = xpnet.load_mnist(data_dir=args.data_dir, backend="jax")
    jax.jit(lambda a: a + 1)(1.0).block_until_ready()  # JAX's start-up is not compile time
    contenders = {
        "xpnet scan windows of 32 (now)": lambda e: xpnet_run(data, args.iters, e),
        "xpnet scan of the whole chunk": lambda e: xpnet_run(data, args.iters, e, whole_chunk),
        "xpnet fori_loop (before)": lambda e: xpnet_run(data, args.iters, e, fori_loop),
        "jax scan (hand)": lambda e: hand_run(data, args.iters, e),
    }
    schedules = {"training only": TRAINING_ONLY, "defaults (evaluations every 600)": None}
    runs = {s: {name: [] for name in contenders} for s in schedules}
    for _ in range(args.repeats + 1):  # round 0 compiles the hand loop: left out below
        for schedule, every in schedules.items():
            for name, run in contenders.items():
                runs[schedule][name].append(run(every if every else 600))
                print(f"{schedule}, {name}: {runs[schedule][name][-1]['wall']:.2f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
    results = {
        "machine": {**machine(), "jax": jax.__version__, "device": str(jax.devices()[0])},
        "job": "784-50-10, batch 100, lr 0.1, float32, MNIST",
        "iters": args.iters,
        "repeats": args.repeats,
        "note": "train_s: wall seconds less xpnet's compile_seconds (the hand loop compiled "
        "in round 0, left out); ratios pair the runs of one round",
    }
    for schedule, by_name in runs.items():
        timed = {name: rs[1:] for name, rs in by_name.items()}
        now, whole, before, hand = (timed[n] for n in contenders)
        first = {name: rs[0] for name, rs in by_name.items()}
        results[schedule] = {
            "train_s": {name: summary([r["train_s"] for r in rs]) for name, rs in timed.items()},
            "compile_s": {
                name: summary([r["compile_s"] for r in rs])
                for name, rs in timed.items()
                if "compile_s" in rs[0]
            },
            "ratios": {
                "windows of 32 / fori_loop": ratio(now, before),
                "whole chunk / fori_loop": ratio(whole, before),
                "windows of 32 / hand scan": ratio(now, hand),
                "whole chunk / hand scan": ratio(whole, hand),
                "fori_loop / hand scan": ratio(before, hand),
            },
            "test_acc": {name: r["test_acc"] for name, r in first.items()},
            "max_rel_diff_losses_vs_fori_loop": {
                name: rel_diff(r["losses"], first["xpnet fori_loop (before)"]["losses"])
                for name, r in first.items()
            },
        }
    write_results(results, args.out)


if __name__ == "__main__":
    main()
