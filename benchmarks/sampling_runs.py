"""The chapter's run with both ways of drawing mini-batches: the docs' two curves come from here.

``xpnet train`` with the chapter's settings (TwoLayerNet 784-50-10, sigmoid,
SGD at 0.1, batches of 100, 10,000 iterations, seed 0, NumPy), once with
``--sampling with-replacement`` (the chapter's code, the default) and once
with ``--sampling epoch`` (every image once per epoch). Each summary, with
the command and the machine, goes to ``benchmarks/results/runs/DATE-sampling-MODE.json``.

Usage: python benchmarks/sampling_runs.py [--iters 10000]   (needs MNIST: XPNET_DATA)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import machine

from xpnet.cli import main as xpnet

RUNS = Path(__file__).parent / "results" / "runs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10000)
    args = parser.parse_args()
    where = machine()
    for mode in ("with-replacement", "epoch"):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "run.json"
            command = ["train", "--backend", "numpy", "--iters", str(args.iters)]
            command += ["--sampling", mode]
            if xpnet([*command, "--json", str(out), "--quiet"]) != 0:
                raise SystemExit(f"xpnet {' '.join(command)} failed")
            summary = json.loads(out.read_text())
        summary.update(command="xpnet " + " ".join(command), machine=where)
        target = RUNS / f"{where['date']}-sampling-{mode}.json"
        target.write_text(json.dumps(summary, indent=1) + "\n")
        accuracy, seconds = summary["test_acc"], summary["seconds"]
        print(f"{mode}: test acc {accuracy:.4f} in {seconds:.0f} s -> {target}")


if __name__ == "__main__":
    main()
