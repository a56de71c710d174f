"""``xpnet info``, ``xpnet gradcheck`` and ``xpnet plot``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._parser import UsageError

__all__ = ["cmd_gradcheck", "cmd_info", "cmd_plot"]


def cmd_info(args: argparse.Namespace) -> int:
    from ..backend import BACKENDS, available_devices

    print(f"{'backend':<18}{'version':<13}devices")
    for name in BACKENDS:
        try:
            devices = ", ".join(available_devices(name)) or "none usable (no GPU)"
            version = getattr(sys.modules[name], "__version__", "?")
        except ImportError as exc:
            version, devices = "-", "not installed: " + str(exc).rsplit("Install it with: ", 1)[-1]
        print(f"{name:<18}{version:<13}{devices}")
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from ..backend import resolve_backend
    from ..checking import gradcheck
    from ..nets import TwoLayerNet
    from ..random import default_rng

    b = resolve_backend(args.backend, args.device)
    if args.mnist:
        from ..datasets import load_mnist

        (x, t), _ = load_mnist(data_dir=args.data_dir, backend=b, dtype=args.dtype)
        x, t, inputs = x[: args.batch_size, ...], t[: args.batch_size], 784
    else:
        inputs, rng = 20, default_rng(args.seed)
        x = rng.normal((args.batch_size, inputs), dtype=args.dtype, backend=b)
        t = rng.integers(10, (args.batch_size,), backend=b)
    net = TwoLayerNet(
        inputs, args.hidden, 10, weight_init_std=0.5, activation=args.activation,
        backend=b, dtype=args.dtype, seed=args.seed,
    )  # fmt: skip
    report = gradcheck(net, x, t)
    where = f"{b.name} ({b.device}, {args.dtype})"
    print(f"gradcheck on {where}: max |backprop - numerical| / max |gradient|")
    for name, value in report.items():
        print(f"  {name:<4}{value:.3e}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .. import plot
    from .._io import check_output_path

    check_output_path(args.out, "--out")
    plot.check_format(args.out, "--out")
    if args.figure == "curves":
        if (args.json is None) == (args.checkpoint is None) or len(args.json or [0]) != 1:
            raise UsageError("plot curves needs exactly one of --json FILE or --checkpoint FILE")
        fig = plot.learning_curves(
            _read_json_history(args.json[0])
            if args.json
            else _read_checkpoint_history(args.checkpoint)
        )
    elif args.figure == "compare":
        if not args.json or len(args.json) < 2:
            raise UsageError("plot compare needs --json A.json B.json ... (two or more summaries)")
        runs: dict[str, Any] = {}
        for path in args.json:
            summary = _read_json_summary(path)
            runs[_label(summary, path, runs)] = summary["history"]
        fig = plot.compare_curves(runs)
    elif args.figure == "optimizers":
        fig = plot.optimizer_paths(backend=args.backend, device=args.device)
    elif args.figure == "weight-init":
        fig = plot.weight_init_histograms(
            activation=args.activation, backend=args.backend, device=args.device
        )
    elif args.figure == "gradient-field":
        fig = plot.gradient_field(backend=args.backend, device=args.device)
    else:
        fig = plot.descent_path(backend=args.backend, device=args.device)
    plot.save_figure(fig, args.out)
    return 0


def _read_json_history(path: str) -> dict[str, Any]:
    return _read_json_summary(path)["history"]


def _read_json_summary(path: str) -> dict[str, Any]:
    try:
        summary = json.loads(Path(path).read_text())
        history = summary["history"]
        for key in ("train_loss", "eval_iters", "train_acc", "test_acc"):
            if not isinstance(history[key], list):
                raise TypeError(f"`{key}` is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"--json {path}: not a summary written by `xpnet train --json` ({exc})"
        ) from None
    return summary


def _label(summary: dict[str, Any], path: str, taken: dict[str, Any]) -> str:
    """A run's name in a comparison: its optimizer and rate, else its file's name."""
    label = Path(path).stem
    if isinstance(summary.get("optimizer"), str):
        label = summary["optimizer"]
        if isinstance(summary.get("lr"), int | float):
            label += f" (lr={summary['lr']:g})"
    return label if label not in taken else f"{label} [{Path(path).name}]"


def _read_checkpoint_history(path: str) -> Any:
    from ..training import load_history

    return load_history(path)
