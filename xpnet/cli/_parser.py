"""The argument parser of the ``xpnet`` command: every option, its default and its check."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from .._validation import bounded_float, parser_type, positive_float, positive_int
from .._version import __version__
from ..errors import XpnetValueError

__all__ = ["Parser", "UsageError", "build_parser"]


class UsageError(XpnetValueError):
    """Bad command-line options: reported in one line, exit status 2."""


POSITIVE_INT = parser_type(positive_int, int, "a positive integer")
POSITIVE_FLOAT = parser_type(positive_float, float, "a finite positive number")
FRACTION = parser_type(
    lambda v, name: bounded_float(v, name, 0.0, 1.0, low_open=True), float, "a number in (0, 1)"
)
RATIO = parser_type(lambda v, name: bounded_float(v, name, 0.0, 1.0), float, "a number in [0, 1)")
NON_NEGATIVE_FLOAT = parser_type(
    lambda v, name: bounded_float(v, name, 0.0, float("inf")), float, "a number >= 0"
)
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
INIT_NAMES = ("he", "relu", "xavier", "sigmoid")


def _hidden_sizes(text: str) -> list[int]:
    """``--hidden 100,100,100`` -> [100, 100, 100]."""
    expected = "positive integers separated by commas" if "," in text else "a positive integer"
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text}")
    return sizes


def _weight_init(text: str) -> float | str:
    """``--weight-init he`` or ``--weight-init 0.01``."""
    if text.lower() in INIT_NAMES:
        return text.lower()
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a standard deviation or one of {', '.join(INIT_NAMES)}, got {text!r}"
        ) from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite positive number, got {text}")
    return value


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _add_backend_options(p: argparse.ArgumentParser, dtype: str) -> None:
    from ..backend import BACKENDS

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
        "train", help="train a network on MNIST (TwoLayerNet, or MultiLayerNet with more layers)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
    _add_backend_options(t, "float32")
    t.add_argument("--iters", type=POSITIVE_INT, default=10000, help="training iterations")
    t.add_argument("--batch-size", type=POSITIVE_INT, default=100, help="mini-batch size")
    t.add_argument(
        "--lr", type=POSITIVE_FLOAT, default=None,
        help="learning rate (default: 0.1 for sgd, the book's default for the others)",
    )  # fmt: skip
    t.add_argument(
        "--hidden", type=_hidden_sizes, default=[50], metavar="N[,N...]",
        help="hidden layer sizes; one layer trains TwoLayerNet, more MultiLayerNet",
    )  # fmt: skip
    t.add_argument(
        "--activation", choices=("sigmoid", "relu"), default="sigmoid", help="hidden activation"
    )
    t.add_argument(
        "--grad", choices=("backprop", "numerical"), default="backprop", help="gradient method"
    )
    _add_chapter6_options(t)
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
    t.add_argument(
        "--resume", action="store_true",
        help="continue from --checkpoint (also a finished run, to a larger --iters)",
    )  # fmt: skip
    t.add_argument(
        "--overwrite", action="store_true",
        help="start afresh even though --checkpoint exists, replacing it",
    )  # fmt: skip
    t.add_argument(
        "--fail-on-divergence", action="store_true",
        help="stop with exit status 1 when training diverges (default: a warning)",
    )  # fmt: skip
    t.add_argument(
        "--compile", action=argparse.BooleanOptionalAction, default=None,
        help="run the training step through the backend's compiler (jax.jit, torch.compile); "
        "default: where that is fastest (JAX)",
    )  # fmt: skip
    t.add_argument(
        "--precision", choices=("highest", "high"), default="highest",
        help="float32 matrix products: highest (full float32) or high (TF32 on GPUs that "
        "have it: faster, about 1e-3 relative error); default: %(default)s",
    )  # fmt: skip
    t.add_argument(
        "--plot", default=None, metavar="PATH.png",
        help="write learning curves (- : PNG to standard output)",
    )  # fmt: skip
    t.add_argument(
        "--json", default=None, metavar="PATH",
        help="write a summary as JSON (- : to standard output; other lines then go to stderr)",
    )  # fmt: skip
    t.add_argument("--quiet", action="store_true", help="print nothing but errors and warnings")


def _add_chapter6_options(t: argparse.ArgumentParser) -> None:
    """Chapter 6's options of ``xpnet train``."""
    t.add_argument(
        "--weight-init", type=_weight_init, default=None, metavar="STD|he|xavier",
        help="initial weight scale: a number, he/relu or xavier/sigmoid "
        "(default: 0.01 for one hidden layer, else he)",
    )  # fmt: skip
    t.add_argument(
        "--optimizer", choices=OPTIMIZER_NAMES, default="sgd", help="update rule (book's names)"
    )
    t.add_argument(
        "--weight-decay", type=NON_NEGATIVE_FLOAT, default=0.0, help="L2 weight decay lambda"
    )
    t.add_argument(
        "--batch-norm", action="store_true", help="batch normalisation after each hidden Affine"
    )
    t.add_argument(
        "--dropout", type=RATIO, default=None, metavar="RATIO",
        help="dropout after each hidden activation, dropping this fraction",
    )  # fmt: skip
    t.add_argument(
        "--validation", type=FRACTION, default=None, metavar="FRACTION",
        help="hold out this fraction of the training data (its last samples) for validation",
    )  # fmt: skip
    t.add_argument(
        "--early-stopping", type=POSITIVE_INT, default=None, metavar="PATIENCE",
        help="stop after PATIENCE evaluations without a better validation accuracy, "
        "keeping the best network (needs --validation)",
    )  # fmt: skip


def _add_other_parsers(sub: Any) -> None:
    g = sub.add_parser(
        "gradcheck", help="check backprop against numerical gradients (exit 1 if they differ)",
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
    g.add_argument("--seed", type=int, default=0, help="seed of the data, weights and directions")
    g.add_argument(
        "--mode", choices=("full", "fast"), default="full",
        help="every parameter, or random directions (2 loss evaluations each)",
    )  # fmt: skip
    g.add_argument("--order", type=int, choices=(2, 4), default=2, help="central stencil's order")
    g.add_argument("--directions", type=POSITIVE_INT, default=4, help="directions (--mode fast)")
    g.add_argument("--json", default=None, metavar="PATH", help="write the report as JSON")

    pl = sub.add_parser(
        "plot", help="draw the chapter's figures",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
    pl.add_argument(
        "figure",
        choices=(
            "gradient-field",
            "descent-path",
            "curves",
            "sweep",
            "optimizers",
            "weight-init",
            "compare",
        ),
        help="which figure",
    )
    pl.add_argument(
        "--out", required=True, metavar="FILE.png", help="where to write it (png, svg, pdf)"
    )
    pl.add_argument(
        "--json", default=None, nargs="+", metavar="FILE",
        help="curves: a summary written by `xpnet train --json`; compare: two or more",
    )  # fmt: skip
    pl.add_argument(
        "--checkpoint", default=None, help="curves: a checkpoint written by `xpnet train`"
    )
    pl.add_argument("--store", default=None, help="sweep: a store written by `xpnet sweep`")
    pl.add_argument(
        "--backend", default=None, help="gradient-field, descent-path: where to compute"
    )
    pl.add_argument("--device", default=None, help="device for --backend")
    pl.add_argument(
        "--activation", choices=("sigmoid", "relu"), default="sigmoid",
        help="weight-init: the activation (sigmoid: std 1, 0.01, Xavier; relu: 0.01, Xavier, He)",
    )  # fmt: skip

    sub.add_parser("info", help="list backends, versions and devices")


def build_parser() -> Parser:
    parser = Parser(
        prog="xpnet", description="The neural-network-learning chapter on any array library."
    )
    parser.add_argument("--version", action="version", version=f"xpnet {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks (also: XPNET_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _add_train_parser(sub)
    _add_other_parsers(sub)
    from ._sweep import add_sweep_parser

    add_sweep_parser(sub)
    return parser
