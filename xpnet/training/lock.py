"""One run per checkpoint: an operating-system lock held for the whole run.

A run with a checkpoint (``xpnet train --checkpoint X``, ``train(checkpoint=X)``)
locks ``.X.lock``, a small file beside ``X`` (beside the file a symlink
points to, so every name of one checkpoint shares one lock), before it
touches anything: before the checks of an existing checkpoint, the clean-up
of temporaries left by a killed run, and resuming. It holds the lock until
the run ends. A second run on the same checkpoint fails at once with
"checkpoint X is in use by process N".

The lock is ``fcntl.flock``: the operating system releases it when its
process ends, however that happens (SIGKILL included), so it can never go
stale. The lock file holds the owner's process id, for that message; it is
removed when the run ends, and one left by a killed run is taken over and
removed by the next. Within one process the lock is re-entrant for the
thread that holds it (the command line takes it before loading data, then
``train`` takes it again), and refused to other threads. Where ``fcntl`` does
not exist (Windows), runs are not locked.

Examples
--------
>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> with checkpoint_lock(os.path.join(folder, "state.npz")):
...     sorted(os.listdir(folder))
['.state.npz.lock']
>>> os.listdir(folder)
[]
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from .._io import lock_path, output_exists
from ..errors import CheckpointError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["checkpoint_lock", "refuse_existing"]

#: Locks this process holds: lock file -> [file descriptor, depth, owning thread].
_held: dict[Path, list[int]] = {}
_guard = threading.Lock()


def _owner(fd: int) -> str:
    """'process N' from a lock file's content, or a vaguer phrase while it is being written."""
    with contextlib.suppress(OSError, ValueError):
        return f"process {int(os.pread(fd, 32, 0).decode().strip())}"
    return "another process"


def _acquire(lock: Path, shown: str, job: str) -> int:
    """Lock `lock` (creating it) without waiting; the locked file descriptor."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise CheckpointError(
                f"{shown}: cannot create its lock file {lock}: {exc.strerror or exc}."
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner(fd)
            os.close(fd)
            raise CheckpointError(
                f"{shown} is in use by {owner}; wait for that {job} to end, or stop it."
            ) from None
        except OSError as exc:  # a file system without locks
            os.close(fd)
            raise CheckpointError(f"{shown}: cannot lock {lock}: {exc.strerror or exc}.") from None
        # A run that was ending may have removed the file between our open and our lock:
        # then we hold a lock on a file nobody else will see. Start again.
        try:
            current = os.stat(lock)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(fd), current):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)


@contextlib.contextmanager
def checkpoint_lock(
    path: str | os.PathLike[str], *, what: str = "checkpoint", job: str = "run"
) -> Iterator[None]:
    """Hold the lock of checkpoint `path` while the block runs (see the module's description).

    `what` and `job` are the words of the messages: a sweep store is locked
    the same way (``what="sweep store", job="sweep"``).

    Raises
    ------
    CheckpointError
        "checkpoint X is in use by process N" when another process (or
        another thread of this one) holds it; or when the lock file cannot
        be created.
    """
    lock = lock_path(path)
    if lock is None or fcntl is None:  # a FIFO or device; or no fcntl
        yield
        return
    shown = f"{what} {os.fspath(path)}"
    with _guard:
        held = _held.get(lock)
        if held is not None and held[2] != threading.get_ident():
            raise CheckpointError(
                f"{shown} is in use by process {os.getpid()} (this process, in another thread)."
            )
        if held is None:
            held = _held[lock] = [_acquire(lock, shown, job), 0, threading.get_ident()]
        held[1] += 1
    try:
        yield
    finally:
        with _guard:
            held[1] -= 1
            if held[1] == 0:
                del _held[lock]
                with contextlib.suppress(OSError):
                    os.unlink(lock)  # while still locked: see _acquire
                os.close(held[0])


def refuse_existing(
    path: str | os.PathLike[str],
    *,
    resume: bool,
    overwrite: bool,
    options: tuple[str, str] = ("resume=True", "overwrite=True"),
) -> None:
    """Refuse to start a new run over an existing checkpoint unless told to replace it.

    `options` are how the caller spells "resume" and "overwrite" (the
    command line says ``--resume`` and ``--overwrite``).

    Raises
    ------
    CheckpointError
        "checkpoint X exists: continue it with --resume or replace it with --overwrite".
    """
    if not (resume or overwrite) and output_exists(path):
        raise CheckpointError(
            f"checkpoint {os.fspath(path)} exists: continue it with {options[0]} or replace "
            f"it with {options[1]}."
        )
