"""The argument parser of the ``xpnet`` command: every option, its default and its check."""

from __future__ import annotations

import argparse
from typing import Any

from .._version import __version__
from ._book import add_book_parser
from ._sweep import add_sweep_parser
from ._types import (
    FRACTION,
    NON_NEGATIVE_FLOAT,
    POSITIVE_FLOAT,
    POSITIVE_INT,
    RATIO,
    Parser,
    UsageError,
    hidden_sizes,
    weight_init,
)

__all__ = ["DefaultsOnce", "Parser", "UsageError", "build_parser"]


class DefaultsOnce(argparse.HelpFormatter):
    """Each option's default in its help, once: added where the help does not say it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default in (None, False, argparse.SUPPRESS)
        if "default" in text or unset or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


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
    """``xpnet train``: every training default from TrainConfig, every choice from a registry.

    Options left out are None here and not passed to ``train()``, which then
    uses TrainConfig's default, or, resuming, the checkpoint's setting.
    """
    from ..backend import PRECISIONS
    from ..layers import ACTIVATIONS
    from ..training import TrainConfig
    from ..training.config import GRADS, SAMPLING
    from ._train import MODELS

    d = TrainConfig.defaults()
    t = sub.add_parser(
        "train", help="train a network on MNIST (TwoLayerNet, or MultiLayerNet with more layers)",
        formatter_class=DefaultsOnce,
    )  # fmt: skip
    _add_backend_options(t, "float32")
    t.add_argument(
        "--iters", type=POSITIVE_INT, help=f"training iterations (default: {d['iters']})"
    )
    t.add_argument(
        "--batch-size", type=POSITIVE_INT, help=f"mini-batch size (default: {d['batch_size']})"
    )
    t.add_argument(
        "--lr", type=POSITIVE_FLOAT,
        help="learning rate (default: 0.1 for sgd, the book's default for the others)",
    )  # fmt: skip
    t.add_argument(
        "--model", choices=MODELS, default="mlp",
        help="mlp: fully connected (TwoLayerNet, MultiLayerNet by --hidden); the book's "
        "convolutional networks of chapters 7 and 8",
    )  # fmt: skip
    t.add_argument(
        "--hidden", type=hidden_sizes, metavar="N[,N...]",
        help="hidden layer sizes; one layer trains TwoLayerNet, more MultiLayerNet "
        "(default: 50; the convnets' one hidden Affine: 100, 50)",
    )  # fmt: skip
    t.add_argument(
        "--activation", choices=tuple(ACTIVATIONS), default="sigmoid", help="hidden activation"
    )
    t.add_argument(
        "--sampling", choices=SAMPLING,
        help="mini-batches drawn at random with replacement (the chapter's code), or epochs: "
        f"the data shuffled, then taken in order (default: {d['sampling']})",
    )  # fmt: skip
    t.add_argument(
        "--drop-last", action="store_true", default=None,
        help="with --sampling epoch, drop each epoch's last, short batch",
    )  # fmt: skip
    t.add_argument("--grad", choices=GRADS, help=f"gradient method (default: {d['grad']})")
    _add_chapter6_options(t, d)
    t.add_argument(
        "--eval-every",
        type=POSITIVE_INT,
        help="iterations between evaluations (default: one epoch)",
    )
    t.add_argument(
        "--eval-samples", type=POSITIVE_INT, metavar="N",
        help="measure accuracy on the first N samples of each set (default: all)",
    )  # fmt: skip
    t.add_argument(
        "--seed", type=int,
        help="seed for weights and mini-batches (default: 0; resuming: the checkpoint's)",
    )  # fmt: skip
    t.add_argument("--data-dir", help="MNIST folder (default: XPNET_DATA, else the user cache)")
    t.add_argument("--checkpoint", help="save training state here at every evaluation")
    t.add_argument(
        "--resume", action="store_true",
        help="continue from --checkpoint (also a finished run, to a larger --iters); training "
        "options not given are taken from it; the network options must be the run's",
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
        "--compile", action=argparse.BooleanOptionalAction,
        help="run the training step through the backend's compiler (jax.jit, torch.compile); "
        "default: where that is fastest (JAX)",
    )  # fmt: skip
    t.add_argument(
        "--precision", choices=PRECISIONS,
        help="float32 matrix products: highest (full float32) or high (TF32 on GPUs that "
        "have it: faster, about 1e-3 relative error; default: highest)",
    )  # fmt: skip
    t.add_argument(
        "--plot", metavar="PATH.png", help="write learning curves (- : PNG to standard output)"
    )
    t.add_argument(
        "--json", metavar="PATH",
        help="write a summary as JSON (- : to standard output; other lines then go to stderr)",
    )  # fmt: skip
    t.add_argument("--quiet", action="store_true", help="print nothing but errors and warnings")


def _add_chapter6_options(t: argparse.ArgumentParser, d: dict[str, Any]) -> None:
    """Chapter 6's options of ``xpnet train``."""
    from ..layers import INIT_NAMES, NORMALIZATIONS
    from ..optim import OPTIMIZERS

    t.add_argument(
        "--weight-init", type=weight_init, metavar="STD|" + "|".join(INIT_NAMES),
        help="initial weight scale: a number, he/relu or xavier/sigmoid "
        "(default: 0.01 for one hidden layer, else he)",
    )  # fmt: skip
    t.add_argument(
        "--optimizer", choices=tuple(OPTIMIZERS),
        help=f"update rule, by the book's names (default: {d['optimizer']})",
    )  # fmt: skip
    t.add_argument(
        "--weight-decay", type=NON_NEGATIVE_FLOAT,
        help="L2 weight decay lambda; with adamw, its decoupled decay "
        f"(default: {d['weight_decay']})",
    )  # fmt: skip
    t.add_argument(
        "--batch-norm", action="store_true", help="batch normalisation after each hidden Affine"
    )
    t.add_argument(
        "--normalization", choices=tuple(NORMALIZATIONS),
        help="normalisation after each hidden Affine (batch: the same as --batch-norm)",
    )  # fmt: skip
    t.add_argument(
        "--dropout", type=RATIO, metavar="RATIO",
        help="dropout after each hidden activation, dropping this fraction",
    )  # fmt: skip
    t.add_argument(
        "--validation", type=FRACTION, metavar="FRACTION",
        help="hold out this fraction of the training data (its last samples) for validation",
    )  # fmt: skip
    t.add_argument(
        "--early-stopping", type=POSITIVE_INT, metavar="PATIENCE",
        help="stop after PATIENCE evaluations without a better validation accuracy, "
        "keeping the best network (needs --validation)",
    )  # fmt: skip


def _add_other_parsers(sub: Any) -> None:
    from ..layers import ACTIVATIONS

    g = sub.add_parser(
        "gradcheck", help="check backprop against numerical gradients (exit 1 if they differ)",
        formatter_class=DefaultsOnce,
    )  # fmt: skip
    _add_backend_options(g, "float64")
    g.add_argument("--hidden", type=POSITIVE_INT, default=10, help="hidden units")
    g.add_argument("--batch-size", type=POSITIVE_INT, default=3, help="samples")
    g.add_argument(
        "--activation", choices=tuple(ACTIVATIONS), default="sigmoid", help="hidden activation"
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
        formatter_class=DefaultsOnce,
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
            "filters",
            "misclassified",
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
        "--checkpoint", default=None,
        help="curves: a checkpoint written by `xpnet train`; filters, misclassified: a "
        "convolutional network or checkpoint",
    )  # fmt: skip
    pl.add_argument(
        "--seed", type=int, default=0,
        help="filters: the seed the network started from, drawn again for 'before'",
    )  # fmt: skip
    pl.add_argument("--data-dir", default=None, help="misclassified: the MNIST folder")
    pl.add_argument("--store", default=None, help="sweep: a store written by `xpnet sweep`")
    pl.add_argument(
        "--backend", default=None, help="gradient-field, descent-path: where to compute"
    )
    pl.add_argument("--device", default=None, help="device for --backend")
    pl.add_argument(
        "--activation", choices=tuple(ACTIVATIONS), default="sigmoid",
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
    add_sweep_parser(sub)
    add_book_parser(sub, DefaultsOnce)
    return parser
