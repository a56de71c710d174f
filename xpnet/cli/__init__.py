"""The ``xpnet`` command: ``train``, ``sweep``, ``gradcheck``, ``plot``, ``book`` and ``info``.

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

import os
import sys
from collections.abc import Sequence

from ..errors import TrainingDivergedError, XpnetError
from ._book import cmd_book
from ._commands import cmd_gradcheck, cmd_info, cmd_plot
from ._parser import build_parser
from ._sweep import cmd_sweep
from ._train import cmd_train
from ._types import UsageError

__all__ = ["UsageError", "main"]


COMMANDS = {"train": cmd_train, "gradcheck": cmd_gradcheck, "plot": cmd_plot, "info": cmd_info}
COMMANDS["sweep"] = cmd_sweep
COMMANDS["book"] = cmd_book


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xpnet`` command line; returns the exit status."""
    debug = os.environ.get("XPNET_DEBUG", "") not in ("", "0")
    command = None
    try:
        args = build_parser().parse_args(argv)
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
        if command == "sweep":
            hint = " The same command continues the sweep."
        print(f"xpnet: interrupted{where}.{hint}", file=sys.stderr)
        return 128 + signum
