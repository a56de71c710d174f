"""The GPU check's preflight: in seconds, what this machine has, or one line on what it lacks.

Prints Python, the libraries' versions (and where the bundled ones were
imported from) and the devices each backend sees, runs one small matrix
product on each backend's device, and writes ``preflight.json`` to `--out`.
Fails in one line (``gpu_check: preflight failed: ...``):

* with exit status 2 when nothing else can work: xpnet or a bundled
  dependency does not import, MNIST is missing, or (on a GPU run)
  nvidia-smi finds no GPU;
* with exit status 1 when a backend that should see a GPU does not (CuPy,
  PyTorch and JAX on a GPU run; PyTorch and JAX on the CPU with ``--cpu``,
  where the CPU stands in for the GPU): the check goes on with the others.

Usage: python scripts/gpu_preflight.py --out DIR [--cpu] [--backends torch,jax]
MNIST is read from XPNET_DATA (scripts/gpu_check.sh sets it).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

#: The backends that must work, by default: on a GPU run, and on the CPU (--cpu).
GPU = ("cupy", "torch", "jax")
CPU = ("torch", "jax")
LIBRARIES = ("numpy", "cupy", "torch", "jax", "jaxlib", "pytest", "xdist")
BUNDLED = ("array_api_compat", "array_api_extra", "array_api_strict", "pooch", "platformdirs",
           "tqdm", "requests")  # fmt: skip
MNIST = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")  # fmt: skip


class Failed(Exception):
    """What the preflight lacks, in one line."""


def version_of(name: str) -> dict:
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # a broken install is reported
        return {"version": None, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    return {"version": getattr(module, "__version__", "?"), "from": getattr(module, "__file__", "")}


def gpu_name() -> str | None:
    try:
        query = ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"]
        out = subprocess.run(query, capture_output=True, text=True, check=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else None


def mnist() -> str:
    folder = os.environ.get("XPNET_DATA", "")
    missing = [f for f in MNIST if not (Path(folder) / f).is_file()]
    if not folder or missing:
        raise Failed(
            f"MNIST is missing (XPNET_DATA={folder!r} lacks {', '.join(missing) or 'the files'}): "
            "run scripts/gpu_bundle.sh where the files are, and take .data/ along"
        )
    return folder


def device_check(xpnet, name: str, device: str) -> dict:
    """The devices backend `name` sees, and a small matrix product on `device`."""
    try:
        seen = xpnet.backend.available_devices(name)
    except ImportError as exc:
        raise Failed(f"backend {name!r} does not import: {exc}".splitlines()[0]) from None
    if not any(d.split(":")[0] == device for d in seen):
        raise Failed(f"backend {name!r} sees no {device} (it sees: {', '.join(seen) or 'nothing'})")
    b = xpnet.backend.resolve_backend(name, device)
    start = time.perf_counter()
    a = xpnet.asarray([[1.0, 2.0], [3.0, 4.0]], dtype="float32", backend=b)
    product = xpnet.to_numpy(a @ a).tolist()
    if product != [[7.0, 10.0], [15.0, 22.0]]:
        raise Failed(f"backend {name!r} on {device} multiplied wrongly: {product}")
    seconds = time.perf_counter() - start
    try:  # reported, not fatal: the tests say what a broken setting breaks
        precision = xpnet.backend.precision_of(b)
    except Exception as exc:
        precision = f"unreadable: {type(exc).__name__}: {exc}".splitlines()[0]
    return {"devices": seen, "device": str(b.device), "first_product_s": seconds,
            "precision": precision}  # fmt: skip


def preflight(cpu: bool, backends: list[str]) -> dict:
    try:
        import xpnet
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise Failed(f"xpnet does not import: {why}") from None
    report = {
        "mode": "cpu" if cpu else "gpu",
        "python": sys.version.split()[0], "executable": sys.executable,
        "platform": platform.platform(), "gpu": gpu_name(),
        "xpnet": {"version": xpnet.__version__, "from": xpnet.__file__},
        "bundled": {name: version_of(name) for name in BUNDLED},
        "libraries": {name: version_of(name) for name in LIBRARIES},
        "mnist": mnist(),
        "environment": {k: os.environ.get(k) for k in (
            "XLA_PYTHON_CLIENT_PREALLOCATE", "PYTHONPATH", "CUDA_VISIBLE_DEVICES")},
    }  # fmt: skip
    missing = [n for n, v in report["bundled"].items() if v["version"] is None]
    if missing:
        listed = ", ".join(missing)
        raise Failed(f"not importable: {listed} (take .whl/ along: scripts/gpu_bundle.sh)")
    if not cpu and report["gpu"] is None:
        raise Failed("nvidia-smi finds no GPU")
    device = "cpu" if cpu else "cuda"
    report["backends"] = {}
    for name in backends:
        try:
            report["backends"][name] = device_check(xpnet, name, device)
        except Failed as failure:
            report["backends"][name] = {"failed": str(failure)}
    return report


def show(report: dict) -> None:
    print(f"gpu_check: python {report['python']} ({report['executable']}); GPU: {report['gpu']}")
    libs = {**report["libraries"], **report["bundled"]}
    print("gpu_check: " + ", ".join(f"{k} {v['version'] or '-'}" for k, v in libs.items()))
    for name, b in report["backends"].items():
        if "failed" in b:
            continue
        seen = ", ".join(b["devices"])
        print(f"gpu_check: {name} sees {seen}; uses {b['device']} (first product "
              f"{b['first_product_s']:.2f} s, matmul precision {b['precision']})")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for preflight.json")
    parser.add_argument("--cpu", action="store_true", help="the CPU stands in for the GPU")
    parser.add_argument("--backends", default=None, help="comma-separated (default: all of them)")
    args = parser.parse_args()
    backends = args.backends.split(",") if args.backends else list(CPU if args.cpu else GPU)
    start = time.perf_counter()
    try:
        report = preflight(args.cpu, backends)
    except Failed as failure:
        report = {"failed": str(failure), "fatal": True}
    report["seconds"] = time.perf_counter() - start
    broken = [b["failed"] for b in report.get("backends", {}).values() if "failed" in b]
    if broken:
        report["failed"] = "; ".join(broken)
    Path(args.out, "preflight.json").write_text(json.dumps(report, indent=1) + "\n")
    if report.get("fatal"):
        print(f"gpu_check: preflight failed: {report['failed']}", flush=True)
        return 2
    show(report)
    if broken:
        print(f"gpu_check: preflight failed: {report['failed']}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
