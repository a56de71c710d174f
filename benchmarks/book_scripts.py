"""Which of the book's own scripts run on which backend, measured: the docs' table comes from here.

Runs every script of chapters 3 to 8 of the book's repository that uses its
``common`` or ``dataset`` packages (and chapter 6's plain-NumPy one) through
``python -m xpnet.book run SCRIPT --backend B`` in a subprocess, with the
figures saved instead of shown. A script that finishes is "ok"; one still
running after ``--limit`` seconds without an error is "runs" (it was stopped
there: the book's longer runs take minutes to hours); one that fails is
"fails", with the one line xpnet printed (the script's line and the fix).

Usage: python benchmarks/book_scripts.py BOOK_CHECKOUT [--limit 30] [--backends numpy,torch,...]
       [--out benchmarks/results/DATE-book-scripts.json]
       [--again FILE.json --limit 120]: run the cells of FILE that were still running when
       stopped, with a longer limit, and write FILE back (on a busy machine a start-up
       alone can take most of 30 s); with --only a,b: those scripts, whatever they did.
Needs MNIST: XPNET_DATA.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import machine, write_results

SCRIPTS = [
    "ch03/neuralnet_mnist.py",
    "ch03/neuralnet_mnist_batch.py",
    "ch04/gradient_simplenet.py",
    "ch04/train_neuralnet.py",
    "ch05/gradient_check.py",
    "ch05/train_neuralnet.py",
    "ch06/batch_norm_gradient_check.py",
    "ch06/batch_norm_test.py",
    "ch06/hyperparameter_optimization.py",
    "ch06/optimizer_compare_mnist.py",
    "ch06/optimizer_compare_naive.py",
    "ch06/overfit_dropout.py",
    "ch06/overfit_weight_decay.py",
    "ch06/weight_init_activation_histogram.py",
    "ch06/weight_init_compare.py",
    "ch07/apply_filter.py",
    "ch07/gradient_check.py",
    "ch07/train_convnet.py",
    "ch07/visualize_filter.py",
    "ch08/half_float_network.py",
    "ch08/misclassified_mnist.py",
    "ch08/train_deepnet.py",
]
BACKENDS = ("numpy", "torch", "jax", "array_api_strict")


def run_one(book: Path, script: str, backend: str, limit: float) -> dict:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory() as figures:
        command = [sys.executable, "-m", "xpnet.book", "run", str(book / script)]
        command += ["--backend", backend, "--figures", figures]
        start = time.perf_counter()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, env=env, timeout=limit, check=False
            )
        except subprocess.TimeoutExpired:
            return {"status": "runs", "seconds": limit}
    seconds = round(time.perf_counter() - start, 1)
    if done.returncode == 0:
        return {"status": "ok", "seconds": seconds}
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return {"status": "fails", "seconds": seconds, "message": lines[-1] if lines else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", type=Path, help="a checkout of the book's repository")
    parser.add_argument("--limit", type=float, default=30.0, help="seconds per run")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--out", default=None)
    parser.add_argument("--again", default=None, metavar="FILE")
    parser.add_argument(
        "--only", default=None, help="with --again: these scripts (a,b,...), whatever they did"
    )
    args = parser.parse_args()
    if args.again:
        results = json.loads(Path(args.again).read_text())
        only = args.only.split(",") if args.only else list(results["runs"])
        # Named scripts run again whatever they did (say, after xpnet gained what they
        # needed); otherwise the cells still running when stopped.
        cells = [(s, b) for s, row in results["runs"].items() for b, o in row.items()
                 if s in only and (args.only or o["status"] == "runs")]  # fmt: skip
        results["again"] = {"machine": machine(), "limit_s": args.limit}
        args.out = args.again
    else:
        results = {"machine": machine(), "limit_s": args.limit, "runs": {}}
        cells = [(s, b) for s in SCRIPTS for b in args.backends.split(",")]
    for script, backend in cells:
        outcome = run_one(args.book.resolve(), script, backend, args.limit)
        results["runs"].setdefault(script, {})[backend] = outcome
        print(script, backend, outcome["status"], outcome.get("message", "")[:150], flush=True)
    write_results(results, args.out)


if __name__ == "__main__":
    main()
