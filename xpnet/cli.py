"""The ``xpnet`` command: ``train``, ``gradcheck``, ``plot`` and ``info``.

``main(argv)`` returns the exit status, so it is testable without a
subprocess: 0 on success, 1 when training diverges, 2 for bad options or
input (one line on stderr, no traceback), 128 + the signal's number when
stopped by Ctrl-C (130), SIGTERM (143) or SIGHUP (129). Only the errors xpnet
raises on purpose (:class:`xpnet.errors.XpnetError`) become one line; anything
else is a bug and keeps its traceback. ``--debug`` (or ``XPNET_DEBUG=1``)
shows the traceback of every error.

Examples
--------
>>> main(["info"])  # doctest: +SKIP
backend           version  devices
numpy             2.4.6    cpu
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._validation import parser_type, positive_float, positive_int
from ._version import __version__
from .errors import TrainingDivergedError, XpnetError, XpnetValueError

__all__ = ["main"]

POSITIVE_INT = parser_type(positive_int, int, "a positive integer")
POSITIVE_FLOAT = parser_type(positive_float, float, "a finite positive number")


class UsageError(XpnetValueError):
    """Bad command-line options: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _add_backend_options(p: argparse.ArgumentParser, dtype: str) -> None:
    from .backend import BACKENDS

    p.add_argument(
        "--backend", choices=BACKENDS, default=None,
        help="array library (default: XPNET_BACKEND, else numpy)",
    )  # fmt: skip
    p.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1, device1 (default: the backend's)"
    )
    p.add_argument(
        "--dtype", choices=("float32", "float64"), default=dtype,
        help="floating dtype (default: %(default)s)",
    )  # fmt: skip


def _add_train_parser(sub: Any) -> None:
    t = sub.add_parser(
        "train", help="train TwoLayerNet on MNIST",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
    _add_backend_options(t, "float32")
    t.add_argument("--iters", type=POSITIVE_INT, default=10000, help="training iterations")
    t.add_argument("--batch-size", type=POSITIVE_INT, default=100, help="mini-batch size")
    t.add_argument("--lr", type=POSITIVE_FLOAT, default=0.1, help="learning rate")
    t.add_argument("--hidden", type=POSITIVE_INT, default=50, help="hidden units")
    t.add_argument(
        "--activation", choices=("sigmoid", "relu"), default="sigmoid", help="hidden activation"
    )
    t.add_argument(
        "--grad", choices=("backprop", "numerical"), default="backprop", help="gradient method"
    )
    t.add_argument(
        "--eval-every", type=POSITIVE_INT, default=None,
        help="iterations between evaluations (default: one epoch)",
    )  # fmt: skip
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


def _add_other_parsers(sub: Any) -> None:
    g = sub.add_parser(
        "gradcheck", help="compare backprop with numerical gradients",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
    _add_backend_options(g, "float64")
    g.add_argument("--hidden", type=POSITIVE_INT, default=10, help="hidden units")
    g.add_argument("--batch-size", type=POSITIVE_INT, default=3, help="samples")
    g.add_argument(
        "--activation", choices=("sigmoid", "relu"), default="sigmoid", help="hidden activation"
    )
    g.add_argument(
        "--mnist", action="store_true", help="use real MNIST images (784 inputs), not random ones"
    )
    g.add_argument("--data-dir", default=None, help="MNIST folder, with --mnist")
    g.add_argument("--seed", type=int, default=0, help="seed")

    pl = sub.add_parser(
        "plot", help="draw the chapter's figures",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
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


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="xpnet", description="The neural-network-learning chapter on any array library."
    )
    parser.add_argument("--version", action="version", version=f"xpnet {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks (also: XPNET_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train_parser(sub)
    _add_other_parsers(sub)
    return parser


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


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path writable, and no two naming the same file, before any work."""
    from ._io import check_output_path, same_file

    outputs = [
        (f"--{o}", getattr(args, o)) for o in ("checkpoint", "json", "plot") if getattr(args, o)
    ]
    for option, path in outputs:
        check_output_path(path, option)
    for i, (first, a) in enumerate(outputs):
        for second, b in outputs[i + 1 :]:
            if same_file(a, b):
                raise UsageError(
                    f"{first} and {second} name the same file ({a}); give each its own"
                )
    if args.plot:
        from .plot import check_format

        check_format(args.plot, "--plot")


def _cmd_train(args: argparse.Namespace) -> int:
    from .backend import resolve_backend
    from .datasets import load_mnist
    from .nets import TwoLayerNet
    from .training import train

    if args.resume and not args.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH")
    _check_outputs(args)
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
    verbose = 0 if args.quiet else 1 if sys.stderr.isatty() else 2
    history = train(
        net, (x_train, t_train), test,
        iters=args.iters, batch_size=args.batch_size, lr=args.lr, grad=args.grad,
        eval_every=args.eval_every, seed=args.seed, verbose=verbose,
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
    settings = ("dtype", "iters", "batch_size", "lr", "hidden", "activation", "grad", "seed")
    return {
        "backend": b.name,
        "device": str(b.device),
        **{key: getattr(args, key) for key in settings},
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

    atomic_write(path, lambda f: f.write(json.dumps(data, indent=1).encode()), name="--json")


def _cmd_gradcheck(args: argparse.Namespace) -> int:
    from .backend import resolve_backend
    from .checking import gradcheck
    from .nets import TwoLayerNet
    from .random import default_rng

    b = resolve_backend(args.backend, args.device)
    if args.mnist:
        from .datasets import load_mnist

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


def _cmd_plot(args: argparse.Namespace) -> int:
    from . import plot
    from ._io import check_output_path

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
    return history  # type: ignore[no-any-return]


def _read_checkpoint_history(path: str) -> Any:
    from .training import load_history

    return load_history(path)


COMMANDS = {"train": _cmd_train, "gradcheck": _cmd_gradcheck, "plot": _cmd_plot, "info": _cmd_info}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xpnet`` command line; returns the exit status."""
    debug = os.environ.get("XPNET_DEBUG", "") not in ("", "0")
    command = None
    try:
        args = _build_parser().parse_args(argv)
        debug, command = debug or args.debug, args.command
        return COMMANDS[args.command](args)
    except TrainingDivergedError as exc:
        if debug:
            raise
        print(f"xpnet: training failed: {exc}", file=sys.stderr)
        return 1
    except XpnetError as exc:
        if debug:
            raise
        print(f"xpnet: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", 2)
        where = f" ({exc})" if str(exc) else ""
        hint = " With --checkpoint, continue with --resume." if command == "train" else ""
        print(f"xpnet: interrupted{where}.{hint}", file=sys.stderr)
        return 128 + signum
