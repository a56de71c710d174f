"""The ``xpnet`` command: ``train``, ``sweep``, ``gradcheck``, ``plot``, ``book`` and ``info``.

``main(argv)`` returns the exit status, so it is testable without a
subprocess: 0 on success, 1 when training diverges, 2 for bad options or
input (one line on stderr, no traceback), 128 + the signal's number when
stopped by Ctrl-C (130), SIGTERM (143) or SIGHUP (129), and 141 (as for
SIGPIPE) without a word when the reader of standard output has gone
(``xpnet train | head -1``). Only the errors xpnet
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

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from signal import SIGPIPE

from .._launch import release
from ..backend import redeliver_lost_interrupts
from ..errors import TrainingDivergedError, XpnetError
from ._book import cmd_book
from ._commands import cmd_gradcheck, cmd_info, cmd_plot
from ._parser import build_parser
from ._paths import check_paths
from ._sweep import cmd_sweep
from ._train import cmd_train
from ._types import UsageError

__all__ = ["UsageError", "main"]


COMMANDS = {"train": cmd_train, "gradcheck": cmd_gradcheck, "plot": cmd_plot, "info": cmd_info}
COMMANDS["sweep"] = cmd_sweep
COMMANDS["book"] = cmd_book


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xpnet`` command line; returns the exit status."""
    release()  # Ctrl-C is ours from here: one line, after what a command saves
    debug = os.environ.get("XPNET_DEBUG", "") not in ("", "0")
    command = None
    try:
        with redeliver_lost_interrupts():
            args = build_parser().parse_args(argv)
            debug, command = debug or args.debug, args.command
            check_paths(args)  # no output may overwrite an input or a store
            with _debugging(debug):
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
        if command == "sweep":
            hint = " The same command continues the sweep."
        print(f"xpnet: interrupted{where}.{hint}", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        # Standard output was closed by its reader (`xpnet train | head -1`): stop without a
        # word, as Unix tools do (what was done is saved, the sweep store consistent).
        if debug:
            raise
        _stdout_to_devnull()
        return 128 + SIGPIPE


@contextlib.contextmanager
def _debugging(debug: bool) -> Iterator[None]:
    """``--debug`` as ``XPNET_DEBUG=1`` while a command runs: Dask's logs and workers see it."""
    if not debug or os.environ.get("XPNET_DEBUG") == "1":
        yield
        return
    saved = os.environ.get("XPNET_DEBUG")
    os.environ["XPNET_DEBUG"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("XPNET_DEBUG", None)
        else:
            os.environ["XPNET_DEBUG"] = saved


def _stdout_to_devnull() -> None:
    """Point standard output at the null device, so that Python's last flush fails no more."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
