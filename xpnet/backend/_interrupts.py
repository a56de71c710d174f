"""Ctrl-C while an array library starts: held back, then acted on; never lost.

A library such as JAX runs native code while it is imported and while it
first starts its devices, and calls back into Python from there. A
KeyboardInterrupt raised inside one of those callbacks cannot travel through
the native frames: the process aborts ("terminate called after throwing
nanobind::python_error") or crashes. So while xpnet loads a library,
:func:`deferred_interrupts` only notes the signals that Python handles
(SIGINT, and SIGTERM and SIGHUP where a handler is set) and delivers them
again, to the handlers they had, once the library has started.

A KeyboardInterrupt raised inside a garbage-collector callback (JAX's
``_xla_gc_callback``) or a ``__del__`` method is not an error Python can pass
on: it prints "Exception ignored in ..." and goes on as if no key had been
pressed. :func:`redeliver_lost_interrupts` installs a ``sys.unraisablehook``
that raises the signal again instead, so it lands in ordinary code.

Examples
--------
>>> import signal
>>> seen = []
>>> old = signal.signal(signal.SIGINT, lambda signum, frame: seen.append("Ctrl-C handled"))
>>> with deferred_interrupts():
...     signal.raise_signal(signal.SIGINT)  # held back until the block ends
...     seen.append("the library started")
>>> seen
['the library started', 'Ctrl-C handled']
>>> _ = signal.signal(signal.SIGINT, old)
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["deferred_interrupts", "redeliver_lost_interrupts"]

_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold back SIGINT (and any other signal with a Python handler) while the block runs.

    Each signal that arrived is raised again, once, when the block ends, so
    its own handler acts on it in ordinary Python code. Outside the main
    thread (where Python runs no handlers) the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def note(signum: int, frame: Any) -> None:
        pending.append(signum)

    saved = {}
    for sig in _SIGNALS:
        handler = signal.getsignal(sig)
        if callable(handler):  # a Python handler (SIG_DFL and SIG_IGN stay as they are)
            saved[sig] = signal.signal(sig, note)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(pending):
            signal.raise_signal(sig)


@contextlib.contextmanager
def redeliver_lost_interrupts() -> Iterator[None]:
    """While active, a KeyboardInterrupt Python would drop as "unraisable" is raised again.

    The signal is sent again to this process (its number from the exception's
    ``signum``, else SIGINT), and its handler raises it in ordinary code; other
    unraisable exceptions go to the hook there was.
    """
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            signal.raise_signal(getattr(unraisable.exc_value, "signum", signal.SIGINT))
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
