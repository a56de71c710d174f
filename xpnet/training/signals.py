"""Stop a training run cleanly on Ctrl-C, and on SIGTERM/SIGHUP when it checkpoints."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["StopRequest", "TrainingInterrupted", "stop_requests"]


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on a signal, after saving its checkpoint (if any).

    A KeyboardInterrupt, so ``except KeyboardInterrupt`` catches Ctrl-C as
    always. `signum` is the signal (2 for SIGINT, 15 for SIGTERM, 1 for
    SIGHUP); the command line exits with ``128 + signum``.
    """

    def __init__(self, signum: int, iteration: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"{name} at iteration {iteration}")
        self.signum, self.iteration = signum, iteration


class StopRequest:
    """Set by a signal handler; the training loop checks it between iterations."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None


@contextlib.contextmanager
def stop_requests(*, terminate: bool) -> Iterator[StopRequest]:
    """While active, SIGINT (and with `terminate`, SIGTERM and SIGHUP) ask the loop to stop.

    A second Ctrl-C raises KeyboardInterrupt at once. Handlers are installed
    only in the main thread (Python delivers signals there) and the previous
    ones come back on exit, however the block ends.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    wanted = [signal.SIGINT]
    if terminate:
        wanted += [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])

    def handle(signum: int, frame: Any) -> None:
        if request and signum == signal.SIGINT:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        request.signum = signum

    previous = {sig: signal.signal(sig, handle) for sig in wanted}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
