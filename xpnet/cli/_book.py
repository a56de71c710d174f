"""``xpnet book run SCRIPT``: one of the book's scripts, unchanged, on any backend."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_book_parser", "cmd_book"]


def add_book_parser(sub: Any, formatter: Any) -> None:
    from ..backend import BACKENDS

    book = sub.add_parser(
        "book", help="run the book's own scripts with xpnet's `common` and `dataset`",
        formatter_class=formatter,
    )  # fmt: skip
    commands = book.add_subparsers(dest="book_command", required=True, parser_class=type(book))
    r = commands.add_parser(
        "run", help="run a script of the book's repository (ch04/train_neuralnet.py, ...)",
        formatter_class=formatter,
        description="Run one of the book's scripts as `python SCRIPT` in its folder would, with "
        "`common` and `dataset` answered by xpnet on the backend chosen.",
    )  # fmt: skip
    r.add_argument("script", help="the script, e.g. ch06/optimizer_compare_mnist.py")
    r.add_argument(
        "--backend", choices=BACKENDS, default=None,
        help="array library (default: XPNET_BACKEND, else numpy)",
    )  # fmt: skip
    r.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1, device1 (default: the backend's)"
    )
    r.add_argument(
        "--figures", default=None, metavar="DIR",
        help="save the figures plt.show() would open as DIR/<script>-N.png",
    )  # fmt: skip


def cmd_book(args: argparse.Namespace) -> int:
    from ..book import run

    saved = run(args.script, backend=args.backend, device=args.device, figures=args.figures)
    for path in saved:
        print(f"xpnet: figure saved to {path}")
    return 0
