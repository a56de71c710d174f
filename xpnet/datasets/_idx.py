"""The IDX format of the four MNIST files, parsed and checked as a stream.

An IDX file is a 4-byte magic number (2051 for images, 2049 for labels: its
last byte is the number of dimensions), one 4-byte big-endian size per
dimension, then the unsigned bytes. Files may be gzip-compressed (``.gz``).
Nothing past the size the header implies is ever read, plus one byte to tell
"too long", so a gzip bomb costs what the real file would. Every error is an
:class:`MnistError` whose message starts with the file and says what is wrong.

Examples
--------
>>> import gzip, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "labels.gz")
>>> header = (2049).to_bytes(4, "big") + (3).to_bytes(4, "big")
>>> with gzip.open(path, "wb") as f:
...     _ = f.write(header + bytes([7, 2, 1]))
>>> read_idx(path, 2049, 3)
array([7, 2, 1], dtype=uint8)
"""

from __future__ import annotations

import contextlib
import gzip
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataError

__all__ = ["FILES", "IMAGE_SIDE", "MnistError", "check_array", "idx_shape", "read_idx"]

#: key -> (file name without .gz, IDX magic number, number of samples)
FILES = {
    "train_img": ("train-images-idx3-ubyte", 2051, 60000),
    "train_label": ("train-labels-idx1-ubyte", 2049, 60000),
    "test_img": ("t10k-images-idx3-ubyte", 2051, 10000),
    "test_label": ("t10k-labels-idx1-ubyte", 2049, 10000),
}
IMAGE_SIDE = 28
NUM_CLASSES = 10
LABEL_MAGIC = 2049
GZIP_MAGIC = b"\x1f\x8b"
#: Errors of a damaged gzip stream (gzip.BadGzipFile is an OSError).
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


class MnistError(DataError):
    """An MNIST file is missing, damaged or could not be downloaded.

    The first line of the message names the file (or folder) and the problem.
    """


def idx_shape(magic: int, count: int) -> tuple[int, ...]:
    """The array shape an MNIST file with `magic` and `count` samples holds."""
    return (count, IMAGE_SIDE, IMAGE_SIDE)[: magic & 0xFF]


def idx_size(magic: int, count: int) -> int:
    """Bytes in such a file once decompressed: the header and the data."""
    shape = idx_shape(magic, count)
    return 4 + 4 * len(shape) + int(np.prod(shape))


def describe_start(raw: bytes) -> str:
    """What the first bytes of a file look like, for error messages."""
    head = raw[:64].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head")):
        return "it is an HTML/XML page (a mirror's error page?), not MNIST data"
    return f"it starts with {raw[:8]!r}"


def read_into(stream: BinaryIO, buffer: np.ndarray) -> int:
    """Fill the bytes of `buffer` from `stream`; the number read (less only at the end)."""
    view = buffer.reshape(-1).view(np.uint8).data
    filled = 0
    while filled < len(view):
        got = stream.readinto(view[filled:])  # type: ignore[attr-defined]
        if not got:
            break
        filled += got
    return filled


@contextlib.contextmanager
def open_idx(path: Path) -> Iterator[BinaryIO]:
    """Open `path` for reading, through gzip for ``.gz``; errors become MnistError."""
    try:
        with open(path, "rb") as raw:
            if path.suffix != ".gz":
                yield raw
                return
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield stream  # type: ignore[misc]
    except MnistError:
        raise
    except GZIP_ERRORS as exc:
        raise MnistError(f"{path}: not a valid gzip file: {_gzip_problem(path, exc)}.") from None
    except IsADirectoryError:
        raise MnistError(f"{path}: is a directory, not an MNIST file.") from None
    except OSError as exc:
        raise MnistError(f"{path}: cannot be read: {exc.strerror or exc}.") from None


def _gzip_problem(path: Path, exc: BaseException) -> str:
    start = b""
    with contextlib.suppress(OSError), open(path, "rb") as raw:
        start = raw.read(64)
    if not start.startswith(GZIP_MAGIC):
        return describe_start(start)
    return f"corrupt or truncated gzip ({str(exc) or type(exc).__name__})"


def read_idx(path: str | os.PathLike[str], magic: int, count: int) -> np.ndarray:
    """Parse one MNIST IDX file (gzip or raw) after checking its header.

    Parameters
    ----------
    path : path
        The file; gzip-compressed when its name ends in ``.gz``.
    magic : int
        2051 for images (unsigned bytes, 3 dimensions), 2049 for labels.
    count : int
        The number of samples the file must hold.

    Returns
    -------
    ndarray
        uint8 of shape (count, 28, 28) for images, (count,) for labels 0-9.

    Raises
    ------
    MnistError
        Naming the file and what is wrong: unreadable, not gzip, HTML, wrong
        magic number, wrong counts or image size, truncated, too long, or
        labels outside 0-9. At most the size the header implies (plus one
        byte) is read, whatever the file holds.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "labels")
    >>> with open(path, "wb") as f:
    ...     _ = f.write((2049).to_bytes(4, "big") + (2).to_bytes(4, "big") + bytes([5, 0]))
    >>> read_idx(path, 2049, 2)
    array([5, 0], dtype=uint8)
    >>> try:
    ...     read_idx(path, 2049, 3)
    ... except MnistError as err:
    ...     print(str(err).removeprefix(path))
    : header declares shape (2,), expected (3,).
    """
    path = Path(path)
    shape = idx_shape(magic, count)
    header_size = 4 + 4 * len(shape)
    with open_idx(path) as stream:
        header = stream.read(header_size)
        _check_header(path, header, magic, shape, stream)
        array = np.empty(shape, dtype=np.uint8)
        got = read_into(stream, array)
        if got < array.size:
            size = header_size + array.size
            raise MnistError(
                f"{path}: truncated: {header_size + got} bytes, the header implies {size}."
            )
        if stream.read(1):
            raise MnistError(f"{path}: too long: {_length(path, stream)}.")
    check_array(path, array, magic, count)
    return array


def _check_header(
    path: Path, header: bytes, magic: int, shape: tuple[int, ...], stream: BinaryIO
) -> None:
    found = int.from_bytes(header[:4], "big") if len(header) >= 4 else None
    if found is not None and found != magic:
        start = header + stream.read(64)
        raise MnistError(
            f"{path}: IDX magic number is {found}, expected {magic}; {describe_start(start)}."
        )
    header_size = 4 + 4 * len(shape)
    if len(header) < header_size:
        raise MnistError(
            f"{path}: only {len(header)} bytes, shorter than the IDX header ({header_size})."
        )
    dims = tuple(int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(len(shape)))
    if dims != shape:
        raise MnistError(f"{path}: header declares shape {dims}, expected {shape}.")


def _length(path: Path, stream: BinaryIO) -> str:
    """How long a too-long file is: exact for raw files, a bound for gzip ones."""
    implied = stream.tell() - 1
    if isinstance(stream, gzip.GzipFile):
        return f"the data goes on past the {implied} bytes the header implies"
    return f"{os.fstat(stream.fileno()).st_size} bytes, the header implies {implied}"


def check_array(path: str | os.PathLike[str], array: np.ndarray, magic: int, count: int) -> None:
    """Raise MnistError, naming `path`, unless `array` is what the MNIST file must hold.

    The same checks serve fresh data and cached copies: shape, dtype uint8
    and, for labels, values 0-9.
    """
    shape = idx_shape(magic, count)
    if array.shape != shape or array.dtype != np.uint8:
        raise MnistError(
            f"{os.fspath(path)}: holds {array.dtype} of shape {array.shape}, "
            f"expected uint8 of shape {shape}."
        )
    if magic == LABEL_MAGIC and array.size and int(array.max()) >= NUM_CLASSES:
        index = int(np.argmax(array >= NUM_CLASSES))
        raise MnistError(
            f"{os.fspath(path)}: label {int(array[index])} at index {index} is outside "
            f"0..{NUM_CLASSES - 1}."
        )
