"""The ``xpnet`` command: ``train``, ``gradcheck``, ``plot`` and ``info``.

``main(argv)`` returns the exit status, so it is testable without a
subprocess: 0 on success, 1 when training fails (a diverging loss), 2 for bad
options or input (one line on stderr, no traceback), 130 on Ctrl-C.

Examples
--------
>>> main(["info"])  # doctest: +SKIP
backend           version  devices
numpy             2.4.6    cpu
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["main"]


class UsageError(Exception):
    """Bad options or input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite positive number, got {text}")
    return value


def _add_backend_options(p: argparse.ArgumentParser, dtype: str) -> None:
    from .backend import BACKENDS

    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="array library (default: XPNET_BACKEND, else numpy)",
    )
    p.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1, device1 (default: the backend's)"
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=dtype,
        help="floating dtype (default: %(default)s)",
    )


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="xpnet", description="The neural-network-learning chapter on any array library."
    )
    parser.add_argument("--version", action="version", version=f"xpnet {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser(
        "train",
        help="train TwoLayerNet on MNIST",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_backend_options(t, "float32")
    t.add_argument("--iters", type=_positive_int, default=10000, help="training iterations")
    t.add_argument("--batch-size", type=_positive_int, default=100, help="mini-batch size")
    t.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate")
    t.add_argument("--hidden", type=_positive_int, default=50, help="hidden units")
    t.add_argument(
        "--activation", choices=("sigmoid", "relu"), default="sigmoid", help="hidden activation"
    )
    t.add_argument(
        "--grad", choices=("backprop", "numerical"), default="backprop", help="gradient method"
    )
    t.add_argument(
        "--eval-every",
        type=_positive_int,
        default=None,
        help="iterations between evaluations (default: one epoch)",
    )
    t.add_argument("--seed", type=int, default=0, help="seed for weights and mini-batches")
    t.add_argument(
        "--data-dir", default=None, help="MNIST folder (default: XPNET_DATA, else the user cache)"
    )
    t.add_argument(
        "--checkpoint", default=None, help="save training state here at every evaluation"
    )
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    t.add_argument("--plot", default=None, metavar="PATH.png", help="write learning curves")
    t.add_argument("--json", default=None, metavar="PATH", help="write a summary as JSON")
    t.add_argument("--quiet", action="store_true", help="print nothing but errors")

    g = sub.add_parser(
        "gradcheck",
        help="compare backprop with numerical gradients",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_backend_options(g, "float64")
    g.add_argument("--hidden", type=_positive_int, default=10, help="hidden units")
    g.add_argument("--batch-size", type=_positive_int, default=3, help="samples")
    g.add_argument(
        "--activation", choices=("sigmoid", "relu"), default="sigmoid", help="hidden activation"
    )
    g.add_argument(
        "--mnist",
        action="store_true",
        help="use real MNIST images (784 inputs) instead of random ones",
    )
    g.add_argument("--data-dir", default=None, help="MNIST folder, with --mnist")
    g.add_argument("--seed", type=int, default=0, help="seed")

    pl = sub.add_parser(
        "plot",
        help="draw the chapter's figures",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    pl.add_argument(
        "figure", choices=("gradient-field", "descent-path", "curves"), help="which figure"
    )
    pl.add_argument(
        "--out", required=True, metavar="FILE.png", help="where to write it (png, svg, pdf)"
    )
    pl.add_argument(
        "--json", default=None, help="curves: a summary written by `xpnet train --json`"
    )
    pl.add_argument(
        "--checkpoint", default=None, help="curves: a checkpoint written by `xpnet train`"
    )
    pl.add_argument(
        "--backend", default=None, help="gradient-field, descent-path: where to compute"
    )
    pl.add_argument("--device", default=None, help="device for --backend")

    sub.add_parser("info", help="list backends, versions and devices")
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("xpnet")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------------------
# Commands


def _cmd_info(args: argparse.Namespace) -> int:
    from .backend import BACKENDS, available_devices

    print(f"{'backend':<18}{'version':<13}devices")
    for name in BACKENDS:
        try:
            devices = ", ".join(available_devices(name)) or "none usable (no GPU)"
            version = getattr(sys.modules[name], "__version__", "?")
        except ImportError as exc:
            version, devices = "-", "not installed: " + str(exc).rsplit("Install it with: ", 1)[-1]
        print(f"{name:<18}{version:<13}{devices}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from ._io import check_writable_path
    from .backend import resolve_backend
    from .datasets import load_mnist
    from .nets import TwoLayerNet
    from .train import train

    if args.resume and not args.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH")
    for option in ("checkpoint", "json", "plot"):
        if getattr(args, option):
            check_writable_path(getattr(args, option), f"--{option}")
    if args.plot:
        from .plot import _figure

        _figure()  # fail now, not after training, if matplotlib is missing
    b = resolve_backend(args.backend, args.device)
    (x_train, t_train), test = load_mnist(data_dir=args.data_dir, backend=b, dtype=args.dtype)
    net = TwoLayerNet(
        784,
        args.hidden,
        10,
        activation=args.activation,
        backend=b,
        dtype=args.dtype,
        seed=args.seed,
    )
    progress = None if args.quiet else sys.stderr.isatty()
    history = train(
        net, (x_train, t_train), test,
        iters=args.iters, batch_size=args.batch_size, lr=args.lr, grad=args.grad,
        eval_every=args.eval_every, seed=args.seed, progress=progress,
        checkpoint=args.checkpoint, resume=args.resume,
    )  # fmt: skip
    summary = _summary(args, b, history)
    if args.json:
        _write_json(args.json, summary)
    if args.plot:
        from .plot import learning_curves, save_figure

        save_figure(learning_curves(history), args.plot)
    if not args.quiet:
        accs = f"test acc {summary['test_acc']:.4f}, train acc {summary['train_acc']:.4f}"
        where = f"{b.name}, {b.device}, {args.dtype}"
        print(f"{accs} after {args.iters} iterations in {history.seconds:.1f} s ({where})")
    return 0


def _summary(args: argparse.Namespace, b: Any, history: Any) -> dict[str, Any]:
    return {
        "backend": b.name,
        "device": str(b.device),
        "dtype": args.dtype,
        "iters": args.iters,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "hidden": args.hidden,
        "activation": args.activation,
        "grad": args.grad,
        "seed": args.seed,
        "seconds": history.seconds,
        "iters_per_second": args.iters / history.seconds if history.seconds else None,
        "train_acc": history.train_acc[-1],
        "test_acc": history.test_acc[-1],
        "train_acc_history": history.train_acc,
        "test_acc_history": history.test_acc,
        "history": history.to_dict(),
    }


def _write_json(path: str, data: dict[str, Any]) -> None:
    from ._io import atomic_write

    atomic_write(path, lambda f: f.write(json.dumps(data, indent=1).encode()))


def _cmd_gradcheck(args: argparse.Namespace) -> int:
    from .backend import resolve_backend
    from .gradcheck import gradcheck
    from .nets import TwoLayerNet
    from .random import default_rng

    b = resolve_backend(args.backend, args.device)
    if args.mnist:
        from .datasets import load_mnist

        (x, t), _ = load_mnist(data_dir=args.data_dir, backend=b, dtype=args.dtype)
        x, t = x[: args.batch_size, ...], t[: args.batch_size]
        inputs = 784
    else:
        inputs = 20
        rng = default_rng(args.seed)
        x = rng.normal((args.batch_size, inputs), dtype=args.dtype, backend=b)
        t = rng.integers(10, (args.batch_size,), backend=b)
    net = TwoLayerNet(
        inputs,
        args.hidden,
        10,
        weight_init_std=0.5,
        activation=args.activation,
        backend=b,
        dtype=args.dtype,
        seed=args.seed,
    )
    report = gradcheck(net, x, t)
    where = f"{b.name} ({b.device}, {args.dtype})"
    print(f"gradcheck on {where}: max |backprop - numerical| / max |gradient|")
    for name, value in report.items():
        print(f"  {name:<4}{value:.3e}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from . import plot
    from ._io import check_writable_path

    check_writable_path(args.out, "--out")
    if args.figure == "curves":
        if (args.json is None) == (args.checkpoint is None):
            raise UsageError("plot curves needs exactly one of --json FILE or --checkpoint FILE")
        if args.json:
            try:
                history = json.loads(Path(args.json).read_text())["history"]
            except (OSError, ValueError, KeyError) as exc:
                raise UsageError(
                    f"--json {args.json}: not a summary written by `xpnet train --json` ({exc})"
                ) from None
        else:
            from .train import load_history

            history = load_history(args.checkpoint)
        fig = plot.learning_curves(history)
    elif args.figure == "gradient-field":
        fig = plot.gradient_field(backend=args.backend, device=args.device)
    else:
        fig = plot.descent_path(backend=args.backend, device=args.device)
    plot.save_figure(fig, args.out)
    return 0


COMMANDS = {"train": _cmd_train, "gradcheck": _cmd_gradcheck, "plot": _cmd_plot, "info": _cmd_info}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xpnet`` command line; returns the exit status."""
    from .datasets import MnistError

    try:
        args = _build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except FloatingPointError as exc:
        print(f"xpnet: training failed: {exc}", file=sys.stderr)
        return 1
    except (UsageError, MnistError, ValueError, TypeError, ImportError, RuntimeError) as exc:
        print(f"xpnet: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        where = f"; {exc}" if str(exc) else ""
        print(
            f"xpnet: interrupted{where}. With --checkpoint, continue with --resume.",
            file=sys.stderr,
        )
        return 130
