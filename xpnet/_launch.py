"""Ctrl-C while the ``xpnet`` command starts: one line and exit status 130, not a traceback.

The command imports the ``xpnet`` package, and NumPy with it, before any of
its own code runs (the console script's ``from xpnet.cli import main``, or
``python -m xpnet``): a Ctrl-C in that first part of a second would show
Python's traceback of whatever import it fell in. So the package imports
this module first of all; in the process of the command (and only there:
a program that imports xpnet is left alone), Ctrl-C then prints
"xpnet: interrupted." and ends the process with status 130 at once, nothing
having been written yet. :func:`xpnet.cli.main` puts Python's own handler
back (:func:`release`) and from there on handles Ctrl-C itself.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
from typing import Any

__all__ = ["is_command", "release"]


def is_command() -> bool:
    """Whether this process is the ``xpnet`` command (its script, or ``python -m xpnet``)."""
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if script.removesuffix(".exe") in ("xpnet", "xpnet-script.py"):
        return True
    argv = getattr(sys, "orig_argv", [])  # Python 3.10+: the interpreter's own arguments
    return "-mxpnet" in argv or ("-m", "xpnet") in itertools.pairwise(argv)


def _interrupted(signum: int, frame: Any) -> None:
    try:
        sys.stderr.write("xpnet: interrupted.\n")
        sys.stderr.flush()
    finally:
        os._exit(128 + signum)


def release() -> None:
    """Give Ctrl-C back to Python's handler, if this module holds it (``main`` starts)."""
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _hold() -> None:
    held = signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not ignored, not set
    if held and threading.current_thread() is threading.main_thread() and is_command():
        signal.signal(signal.SIGINT, _interrupted)


_hold()
