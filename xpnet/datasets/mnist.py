"""MNIST as the book loads it: four IDX files -> arrays on any backend, through a .npy cache.

The data directory is the `data_dir` argument, else ``XPNET_DATA``, else the
user's cache directory. Files there may be gzip-compressed or raw; missing
ones are downloaded and verified (:func:`download_mnist`). Every file is
checked by its IDX header and values before it is used (:func:`read_idx`).

Parsed arrays are cached as ``.npy`` (never pickle) beside the data, or in
the user cache when that folder is read-only. A cache's name carries the
SHA-256 of the file it was built from, so a replaced source file is parsed
again whatever its modification time; a cache is used only after its
``.npy`` header and its values pass the same checks as fresh data, and a
damaged one is rebuilt.

Examples
--------
>>> (x_train, t_train), (x_test, t_test) = load_mnist(backend="numpy")  # doctest: +SKIP
>>> x_train.shape, x_train.dtype, t_train[:5]  # doctest: +SKIP
((60000, 784), dtype('float32'), array([5, 0, 4, 1, 9]))
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write
from ..backend import Backend, asarray, dtype_name, index_dtype, resolve_backend, resolve_dtype
from ._download import MIRRORS, download_mnist
from ._folder import data_folder, default_data_dir, find_file
from ._idx import FILES, IMAGE_SIDE, MnistError, check_array, idx_shape, read_idx, read_into

__all__ = ["MIRRORS", "MnistError", "default_data_dir", "download_mnist", "load_mnist", "read_idx"]

#: The cache of ``<name>`` built from a source whose SHA-256 starts with these 16 digits.
CACHE_NAME = "{name}.sha256-{digest}.npy"
_CACHE_PATTERN = r"\.(?:v1|sha256-[0-9a-f]{16})\.npy"  # this and earlier layouts


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    backend: str | Backend | None = None,
    device: Any = None,
    dtype: Any = None,
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Load MNIST as ``((x_train, t_train), (x_test, t_test))`` on a backend.

    Parameters
    ----------
    normalize : bool
        Images as floats in [0, 1] (`dtype`, float32 by default); else uint8 0-255.
    flatten : bool
        Images of shape (N, 784); else (N, 1, 28, 28).
    one_hot_label : bool
        Labels as one-hot rows (N, 10) in `dtype`; else integers (N,) in the
        backend's index dtype.
    data_dir : path, optional
        Folder of the four IDX files; ``XPNET_DATA`` or the user cache if None.
    download : bool
        Fetch missing files (see :func:`download_mnist`); if False, a missing
        file is an error saying where to put it.
    backend, device, dtype
        Where the arrays go, and the floating dtype.

    Returns
    -------
    tuple
        ``(x_train, t_train), (x_test, t_test)``: 60000 and 10000 samples.

    Raises
    ------
    MnistError
        When a file is missing (with ``download=False``), damaged, unreadable
        or cannot be downloaded; the first line names the file and the problem.

    Examples
    --------
    >>> (x, t), _ = load_mnist(one_hot_label=True, backend="numpy")  # doctest: +SKIP
    >>> x.shape, t.shape, t.dtype  # doctest: +SKIP
    ((60000, 784), (60000, 10), dtype('float32'))
    """
    b = resolve_backend(backend, device)
    float_dtype = resolve_dtype(b, dtype)
    folder = data_folder(data_dir)
    sources = _sources(folder, download)
    cache_dir = _cache_dir(folder)
    host = {
        key: _load_array(sources[name], magic, count, cache_dir)
        for key, (name, magic, count) in FILES.items()
    }
    return (
        (
            _images(host["train_img"], normalize, flatten, b, float_dtype),
            _labels(host["train_label"], one_hot_label, b, float_dtype),
        ),
        (
            _images(host["test_img"], normalize, flatten, b, float_dtype),
            _labels(host["test_label"], one_hot_label, b, float_dtype),
        ),
    )


def _sources(folder: Path, download: bool) -> dict[str, Path]:
    """File name -> the file to read, downloading what is missing if allowed."""
    found = {name: find_file(folder, name) for name, _, _ in FILES.values()}
    missing = [name for name, path in found.items() if path is None]
    if missing and not download:
        raise MnistError(
            f"MNIST files missing from {folder}: {', '.join(missing)}. Put the four files "
            "there (gzip or raw), set XPNET_DATA to a folder that has them, "
            "or pass download=True."
        )
    if missing:
        download_mnist(folder)
        found = {name: find_file(folder, name) for name in found}
    return {name: path for name, path in found.items() if path is not None}


# -- the .npy cache --------------------------------------------------------------------


def _cache_dir(data_dir: Path) -> Path:
    """Beside the data, unless that folder is read-only; then the user cache."""
    mode = data_dir.stat().st_mode
    if mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) and os.access(data_dir, os.W_OK):
        return data_dir
    import platformdirs

    key = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path(platformdirs.user_cache_dir("xpnet")) / "mnist-npy" / key


def _source_digest(source: Path) -> str:
    """SHA-256 of the file as stored (compressed or not); errors name it."""
    digest = hashlib.sha256()
    try:
        with open(source, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise MnistError(f"{source}: cannot be read: {exc.strerror or exc}.") from None
    return digest.hexdigest()


def _load_array(source: Path, magic: int, count: int, cache_dir: Path) -> np.ndarray:
    """Parse `source`, through the cache built from exactly this file's content."""
    name = source.name.removesuffix(".gz")
    cache = cache_dir / CACHE_NAME.format(name=name, digest=_source_digest(source)[:16])
    cached = _read_cache(cache, magic, count)
    if cached is not None:
        return cached
    array = read_idx(source, magic, count)
    _write_cache(cache, name, array)
    return array


def _read_cache(cache: Path, magic: int, count: int) -> np.ndarray | None:
    """The cached array, or None when it is absent, damaged or not what the file holds."""
    shape = idx_shape(magic, count)
    try:
        with open(cache, "rb") as file:
            if not _npy_header_is(file, shape):
                return None
            array = np.empty(shape, dtype=np.uint8)
            if read_into(file, array) != array.size or file.read(1):
                return None
        check_array(cache, array, magic, count)
    except (OSError, ValueError, TypeError):  # absent, unreadable, bad header, bad values
        return None
    return array


def _npy_header_is(file: Any, shape: tuple[int, ...]) -> bool:
    """Whether the ``.npy`` header declares C-ordered uint8 of `shape` (reads the header only)."""
    version = np.lib.format.read_magic(file)
    if version == (1, 0):
        header = np.lib.format.read_array_header_1_0(file)
    elif version == (2, 0):
        header = np.lib.format.read_array_header_2_0(file)
    else:
        return False
    found_shape, fortran_order, dtype = header
    return tuple(found_shape) == shape and not fortran_order and dtype == np.uint8


def _write_cache(cache: Path, name: str, array: np.ndarray) -> None:
    """Write the cache and remove those built from other sources; never an error."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache, lambda f: np.save(f, array, allow_pickle=False))
    except OSError:
        return  # caching is an optimisation; a read-only disk is not an error
    stale = re.compile(re.escape(name) + _CACHE_PATTERN)
    for old in cache.parent.glob(f"{name}.*.npy"):
        if old != cache and stale.fullmatch(old.name):
            with contextlib.suppress(OSError):
                old.unlink()


# -- host arrays -> the backend --------------------------------------------------------


def _images(images: np.ndarray, normalize: bool, flatten: bool, b: Backend, dtype: Any) -> Any:
    n = images.shape[0]
    shape = (n, IMAGE_SIDE * IMAGE_SIDE) if flatten else (n, 1, IMAGE_SIDE, IMAGE_SIDE)
    host = images.reshape(shape)
    if not normalize:
        return asarray(host, dtype="uint8", backend=b)
    # Scale on the host, in place: the same values as x.astype(float32) / 255.0,
    # with one full-size float copy instead of two (the peak memory of a load).
    scaled = host.astype(dtype_name(dtype, xp=b.xp))
    scaled /= scaled.dtype.type(255.0)
    return asarray(scaled, dtype=dtype, backend=b)


def _labels(labels: np.ndarray, one_hot: bool, b: Backend, dtype: Any) -> Any:
    if one_hot:
        return asarray(np.eye(10, dtype=np.float32)[labels], dtype=dtype, backend=b)
    return asarray(labels, dtype=index_dtype(b.xp, b.device), backend=b)
