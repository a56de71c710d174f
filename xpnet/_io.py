"""Files that behave as a user expects: complete or absent, never clobbering special files.

* A regular file is written to a temporary file beside it, flushed to disk
  and renamed into place: after a crash the path holds the old content or the
  new, never half of either. An existing file keeps its permission bits; a new
  one gets ``0o666 & ~umask``, like any file the user writes.
* A symbolic link is written *through*: the temporary file goes beside the
  link's target and replaces the target, so the link stays a link.
* A FIFO, character device or socket (``/dev/stdout``, ``/dev/null``, a named
  pipe) is streamed to directly: renaming a file over it would replace it.
* Every failure is an :class:`~xpnet.errors.OutputError` naming the path,
  with whatever was there before left intact.
* One rule for every command (:func:`check_distinct`): no output may be the
  same file as an input, a store (or a file a store keeps beside it: SQLite's
  ``-wal``, ``-shm`` and ``-journal``, a lock) or another output.

``.npz`` files are read by :mod:`xpnet._npz` (with ``allow_pickle=False``, members listed
from their headers first); :func:`npz_members` and :func:`read_npz` are re-exported here.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from ._npz import npz_members, read_npz
from .errors import OutputError

__all__ = [
    "SIDE_FILES",
    "atomic_write",
    "check_distinct",
    "check_output_path",
    "lock_path",
    "npz_members",
    "output_exists",
    "read_npz",
    "remove_stale_temporaries",
    "same_file",
]

#: Longest file name most file systems allow; temporary names must fit too.
NAME_MAX = 255
_TEMP_SUFFIX = ".tmp"


def _real_target(path: str | os.PathLike[str]) -> Path:
    """The file a write to `path` must change: the end of any chain of symlinks."""
    return Path(os.path.realpath(path))


def _is_stream(path: Path) -> bool:
    """True for FIFOs, character devices and sockets: written to, never replaced."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def _temp_prefix(target: Path) -> str:
    """``.{name}.`` for a temporary beside `target`, shortened to fit NAME_MAX."""
    name = target.name
    if len(name) + 2 + 8 + len(_TEMP_SUFFIX) > NAME_MAX:
        import hashlib

        name = f"{name[:200]}~{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return f".{name}."


def _umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # no /proc: the classic read-and-restore
    os.umask(mask)
    return mask


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_output_path(path: str | os.PathLike[str], name: str) -> Path:
    """Check, before any work starts, that a file can be written at `path`.

    A temporary file is created and removed beside the real target (through
    symlinks), which proves the folder exists, is writable and accepts the
    name; special files (``/dev/stdout``) need only be writable.

    Raises
    ------
    OutputError
        Naming the option `name`, the path and the reason.
    """
    target = Path(path)
    if len(target.name.encode()) > NAME_MAX:
        raise OutputError(
            f"`{name}`: the file name is {len(target.name.encode())} bytes long; file systems "
            f"allow {NAME_MAX}. Received: {str(target)[:80]!r}…"
        )
    real = _real_target(target)
    if real.is_dir():
        raise OutputError(
            f"`{name}` must be a file path, not a directory. Received: {str(target)!r}."
        )
    if _is_stream(real):
        if not os.access(real, os.W_OK):
            raise OutputError(f"`{name}`: {str(target)!r} is not writable.")
        return target
    parent = real.parent
    if not parent.is_dir():
        raise OutputError(
            f"`{name}`: folder {str(parent)!r} does not exist. Received: {str(target)!r}."
        )
    if not os.access(parent, os.W_OK):
        raise OutputError(
            f"`{name}`: folder {str(parent)!r} is not writable. Received: {str(target)!r}."
        )
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=_temp_prefix(real), suffix=_TEMP_SUFFIX)
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):  # a run owning `path` cleared it
            os.unlink(probe)
    except OSError as exc:
        raise OutputError(
            f"`{name}`: cannot create files in {str(parent)!r}: {_describe(exc)}. "
            f"Received: {str(target)!r}."
        ) from None
    return target


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two output paths name the same file (through symlinks, `..` and case)."""
    ra, rb = _real_target(a), _real_target(b)
    if ra == rb:
        return True
    with contextlib.suppress(OSError):
        return os.path.samefile(ra, rb)
    return False


#: Files a store keeps beside itself: SQLite's write-ahead log, shared memory and journal.
SIDE_FILES = ("-wal", "-shm", "-journal")

Named = Iterable[tuple[str, "str | os.PathLike[str]"]]


def check_distinct(outputs: Named, inputs: Named = (), stores: Named = ()) -> None:
    """Refuse an output that is the same file as an input, a store or another output.

    Each argument lists (option, path) pairs: the option that names a file
    (``--json``) and its path. A store counts with the files it keeps beside
    it (:data:`SIDE_FILES`, its lock); symlinks, ``..`` and hard links are seen
    through. FIFOs and devices (``/dev/null``) are streamed to, never
    replaced, so they are exempt.

    >>> check_distinct([("--json", "runs.db")], stores=[("--store", "runs.db")])
    Traceback (most recent call last):
    ...
    xpnet.errors.OutputError: `--json` 'runs.db' is the same file as `--store` 'runs.db': \
writing it would destroy what it holds. Give `--json` another path.
    """

    def same(option: str, path: Any) -> str:
        return f"the same file as `{option}` {os.fspath(path)!r}"

    taken = [(Path(path), same(option, path)) for option, path in inputs]
    for option, path in stores:
        real, lock = _real_target(path), lock_path(path)
        shown = f"`{option}` {os.fspath(path)!r}"
        taken.append((Path(path), same(option, path)))
        taken += [(Path(f"{real}{end}"), f"the {end} file of {shown}") for end in SIDE_FILES]
        taken += [(lock, f"the lock of {shown}")] if lock is not None else []
    for option, path in outputs:
        if _is_stream(_real_target(path)):
            continue
        for claimed, what in taken:
            if same_file(path, claimed):
                raise OutputError(
                    f"`{option}` {os.fspath(path)!r} is {what}: writing it would destroy what "
                    f"it holds. Give `{option}` another path."
                )
        taken.append((Path(path), same(option, path)))


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any], *, name: str = "path"
) -> None:
    """Call ``write(file)`` and put the bytes at `path`, completely or not at all.

    See the module's description for symlinks, special files and permissions.
    On any error the temporary file is removed and `path` is untouched.

    Raises
    ------
    OutputError
        When the file system refuses (full disk, permissions, name too long…),
        naming the path; the exception it wraps is its ``__cause__``.
    """
    target = Path(path)
    real = _real_target(target)
    if _is_stream(real):
        try:
            with open(real, "wb") as file:
                write(file)
        except OSError as exc:
            raise OutputError(f"Cannot write {str(target)!r}: {_describe(exc)}.") from exc
        return
    tmp_name = None
    try:
        mode = stat.S_IMODE(real.stat().st_mode) if real.exists() else 0o666 & ~_umask()
        fd, tmp_name = tempfile.mkstemp(
            dir=real.parent, prefix=_temp_prefix(real), suffix=_TEMP_SUFFIX
        )
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), mode)
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_name, real)
    except BaseException as exc:
        if tmp_name is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(
                f"Cannot write {str(target)!r}: {_describe(exc)}. The previous file, if any, "
                "is unchanged."
            ) from exc
        raise


def lock_path(path: str | os.PathLike[str]) -> Path | None:
    """Where the lock of output `path` lives: ``.NAME.lock`` beside the real target.

    Through symlinks, so two names of one file share one lock; None for a
    FIFO or device, which is streamed to and has nothing to protect.

    >>> lock_path("/tmp/run/state.npz")
    PosixPath('/tmp/run/.state.npz.lock')
    """
    real = _real_target(path)
    if _is_stream(real):
        return None
    return real.parent / f"{_temp_prefix(real)}lock"


def output_exists(path: str | os.PathLike[str]) -> bool:
    """Whether writing `path` would replace a file (through symlinks; FIFOs and devices: False)."""
    real = _real_target(path)
    return real.exists() and not _is_stream(real)


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files that :func:`atomic_write` left for `path` when killed.

    Only names made for exactly this target are touched (the file name is
    matched literally, not as a glob pattern). Call it only for a path this
    process owns, such as a locked checkpoint. Returns what was removed.
    """
    real = _real_target(path)
    pattern = re.compile(
        re.escape(_temp_prefix(real)) + r"[A-Za-z0-9_]{8}" + re.escape(_TEMP_SUFFIX)
    )
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(real.parent):
            if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return sorted(removed)
