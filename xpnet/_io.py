"""Atomic file writes: a file is complete under its name, or not there at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "atomic_write",
    "check_writable_path",
    "load_npz",
    "remove_stale_temporaries",
    "save_npz",
]


def check_writable_path(path: str | os.PathLike[str], name: str) -> Path:
    """Return `path` as a Path, or raise if a file cannot be written there.

    Checked before any work starts, so a typo in an output path fails fast.
    """
    target = Path(path)
    if target.is_dir():
        raise ValueError(
            f"`{name}` must be a file path, not a directory. Received: {str(target)!r}."
        )
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(
            f"`{name}`: folder {str(parent)!r} does not exist. Received: {str(target)!r}."
        )
    if not os.access(parent, os.W_OK):
        raise ValueError(
            f"`{name}`: folder {str(parent)!r} is not writable. Received: {str(target)!r}."
        )
    return target


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(file)`` on a temporary file beside `path`, then rename it into place.

    The data are flushed to disk before the rename, so after a crash `path`
    holds either the old content or the new, never half of either. On any
    error the temporary file is removed and `path` is untouched.
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files that :func:`atomic_write` left for `path` when killed.

    Only for a path this process owns (a training run's checkpoint): another
    writer's temporary file would be removed too. Returns what was removed.
    """
    target = Path(path)
    stale = sorted(target.parent.glob(f".{target.name}.*.tmp"))
    for leftover in stale:
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    return stale


def save_npz(path: str | os.PathLike[str], arrays: dict[str, Any]) -> None:
    """Write host `arrays` to one uncompressed ``.npz`` file, atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file, refusing pickled objects."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
