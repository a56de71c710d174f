"""``.npz`` files without pickle: members listed from their ``.npy`` headers, then read.

A file can be checked before any array is read: :func:`npz_members` reads only
the few bytes of each header, and refuses a member that declares more data
than it holds, so reading it later never allocates more than the file's size.
:func:`read_npz` reads with ``allow_pickle=False``. Both are re-exported by
:mod:`xpnet._io`, where the readers of state files import them from.
"""

from __future__ import annotations

import math
import os
import struct
import zipfile

import numpy as np

from .errors import CheckpointError

__all__ = ["npz_members", "read_npz"]


# -- .npz without pickle ----------------------------------------------------------------


def _not_npz(path: str | os.PathLike[str], reason: str) -> CheckpointError:
    return CheckpointError(f"{os.fspath(path)}: not an xpnet file, or a damaged one ({reason}).")


#: What the zip and ``.npy`` readers raise on a damaged file: a bad CRC or header,
#: a truncation, an unknown compression method, a member flagged as encrypted…
_DAMAGED = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    ValueError,
    EOFError,
    OSError,
    KeyError,
    NotImplementedError,
    RuntimeError,
    OverflowError,
    struct.error,
)


def _reason(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0][:200]


def npz_members(path: str | os.PathLike[str]) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Name -> (shape, dtype) of every array in an ``.npz`` file, from the headers alone.

    Nothing but the few bytes of each ``.npy`` header is read, so a file that
    declares a terabyte array costs nothing to inspect; a member whose header
    declares more data than the member holds is refused here, so reading it
    later never allocates more than the file's own size. dtypes are given in
    the machine's byte order (a big-endian ``>f4`` member is float32).

    Raises
    ------
    CheckpointError
        When the file is missing, not a zip archive of ``.npy`` members, is
        damaged, or holds Python objects (which only pickle could read).
    """
    try:
        size = os.stat(path).st_size
        with zipfile.ZipFile(path) as archive:
            return {
                info.filename[:-4]: _member_header(path, archive, info, size)
                for info in archive.infolist()
            }
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{os.fspath(path)}: no such file.") from None
    except IsADirectoryError:
        raise CheckpointError(f"{os.fspath(path)}: is a directory, not a file.") from None
    except PermissionError as exc:
        raise CheckpointError(f"{os.fspath(path)}: cannot be read: {exc.strerror}.") from None
    except _DAMAGED as exc:
        raise _not_npz(path, _reason(exc)) from None


def _member_header(
    path: str | os.PathLike[str], archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int
) -> tuple[tuple[int, ...], np.dtype]:
    name = info.filename
    if not name.endswith(".npy"):
        raise _not_npz(path, f"member {name!r} is not an array")
    stored = info.compress_type == zipfile.ZIP_STORED
    if stored and (info.file_size != info.compress_size or info.compress_size > size):
        raise _not_npz(path, f"member {name[:-4]!r} is damaged (its sizes disagree)")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise _not_npz(path, f"unsupported .npy version {version}")
        header = member.tell()
    if dtype.hasobject:
        raise _not_npz(path, f"{name[:-4]!r} holds Python objects")
    declared = math.prod(shape) * dtype.itemsize
    if declared > info.file_size - header:
        raise _not_npz(
            path,
            f"member {name[:-4]!r} declares {declared:,} bytes of data but holds "
            f"{max(info.file_size - header, 0):,}",
        )
    return tuple(shape), dtype if dtype.isnative else dtype.newbyteorder("=")


def read_npz(path: str | os.PathLike[str], names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read the arrays `names` (all if None) of an ``.npz`` file, refusing pickled objects.

    Check the members with :func:`npz_members` first; damaged data (a bad
    CRC, a truncated member) is a CheckpointError here.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in (data.files if names is None else names)}
    except _DAMAGED as exc:
        raise _not_npz(path, _reason(exc)) from None
