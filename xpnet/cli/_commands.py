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
    """Check TwoLayerNet's backpropagation; 0 when it passes, 1 when it does not."""
    from .._io import atomic_write, check_output_path
    from ..backend import resolve_backend
    from ..errors import GradientCheckError
    from ..nets import TwoLayerNet
    from ..random import default_rng

    if args.json:
        check_output_path(args.json, "--json")
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
    try:
        report = net.check_gradient(
            x, t, mode=args.mode, order=args.order, directions=args.directions, seed=args.seed
        )
    except GradientCheckError as exc:
        report = exc.report
    print(f"gradcheck of TwoLayerNet({inputs}, {args.hidden}, 10) on {b.name} ({b.device}):")
    print(report)
    if args.json:
        summary = {"backend": b.name, "device": str(b.device), **report.to_dict()}
        text = json.dumps(summary, indent=1) + "\n"
        atomic_write(args.json, lambda file: file.write(text.encode()), name="--json")
    return 0 if report.passed else 1


def cmd_plot(args: argparse.Namespace) -> int:
    from .. import plot
    from .._io import check_output_path

    check_output_path(args.out, "--out")
    plot.check_format(args.out, "--out")
    if args.figure == "curves":
        if (args.json is None) == (args.checkpoint is None):
            raise UsageError("plot curves needs exactly one of --json FILE or --checkpoint FILE")
        fig = plot.learning_curves(
            _read_json_history(args.json)
            if args.json
            else _read_checkpoint_history(args.checkpoint)
        )
    elif args.figure == "gradient-field":
        fig = plot.gradient_field(backend=args.backend, device=args.device)
    else:
        fig = plot.descent_path(backend=args.backend, device=args.device)
    plot.save_figure(fig, args.out)
    return 0


def _read_json_history(path: str) -> dict[str, Any]:
    try:
        history = json.loads(Path(path).read_text())["history"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"--json {path}: not a summary written by `xpnet train --json` ({exc})"
        ) from None
    return history


def _read_checkpoint_history(path: str) -> Any:
    from ..training import load_history

    return load_history(path)
