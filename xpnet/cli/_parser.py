"""The argument parser of the ``xpnet`` command: every option, its default and its check."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from .._validation import parser_type, positive_float, positive_int
from .._version import __version__
from ..errors import XpnetValueError

__all__ = ["Parser", "UsageError", "build_parser"]


class UsageError(XpnetValueError):
    """Bad command-line options: reported in one line, exit status 2."""


POSITIVE_INT = parser_type(positive_int, int, "a positive integer")
POSITIVE_FLOAT = parser_type(positive_float, float, "a finite positive number")


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
    t.add_argument(
        "--overwrite", action="store_true",
        help="start afresh even though --checkpoint exists, replacing it",
    )  # fmt: skip
    t.add_argument(
        "--plot", default=None, metavar="PATH.png",
        help="write learning curves (- : PNG to standard output)",
    )  # fmt: skip
    t.add_argument(
        "--json", default=None, metavar="PATH",
        help="write a summary as JSON (- : to standard output; other lines then go to stderr)",
    )  # fmt: skip
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
    return parser
