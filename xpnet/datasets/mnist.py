"""MNIST: read the four IDX files, download them when missing, cache as .npy.

The data directory is the `data_dir` argument, else ``XPNET_DATA``, else the
user's cache directory. Files there may be gzip-compressed or raw. Every file
is checked by its IDX header (magic number, counts, 28 x 28, size) before it
is used. Downloads try several mirrors in turn, accept a file only when it
matches the published checksums, and never leave a partial file behind.
Parsed arrays are cached as ``.npy`` (never pickle) so later loads are fast.

Examples
--------
>>> (x_train, t_train), (x_test, t_test) = load_mnist(backend="numpy")  # doctest: +SKIP
>>> x_train.shape, x_train.dtype, t_train[:5]  # doctest: +SKIP
((60000, 784), dtype('float32'), array([5, 0, 4, 1, 9]))
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write
from ..backend import Backend, asarray, dtype_name, index_dtype, resolve_backend, resolve_dtype
from ..errors import DataError

__all__ = ["MIRRORS", "MnistError", "default_data_dir", "download_mnist", "load_mnist", "read_idx"]

#: (file name without .gz, IDX magic number, number of samples)
FILES = {
    "train_img": ("train-images-idx3-ubyte", 2051, 60000),
    "train_label": ("train-labels-idx1-ubyte", 2049, 60000),
    "test_img": ("t10k-images-idx3-ubyte", 2051, 10000),
    "test_label": ("t10k-labels-idx1-ubyte", 2049, 10000),
}

#: Mirrors of the original files, tried in order (yann.lecun.com answers 403 now).
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: MD5 of the original gzip downloads, as published by the mirrors.
GZIP_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}

#: SHA-256 of the decompressed files, which re-compressed copies share.
PAYLOAD_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

IMAGE_SIDE = 28
CACHE_VERSION = 1


class MnistError(DataError):
    """An MNIST file is missing, damaged or could not be downloaded."""


def default_data_dir() -> Path:
    """``XPNET_DATA`` if set, else ``<user cache>/xpnet/mnist``."""
    env = os.environ.get("XPNET_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("xpnet")) / "mnist"


# ---------------------------------------------------------------------------
# Reading and checking IDX files


def _describe_start(raw: bytes) -> str:
    head = raw[:64].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head")):
        return "it is an HTML/XML page (a mirror's error page?), not MNIST data"
    return f"it starts with {raw[:8]!r}"


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        detail = (
            _describe_start(raw)
            if not raw.startswith(b"\x1f\x8b")
            else f"corrupt or truncated gzip ({exc})"
        )
        raise MnistError(
            f"{path}: not a valid gzip file: {detail}. Delete it to download it again."
        ) from None


def read_idx(path: str | os.PathLike[str], magic: int, count: int) -> np.ndarray:
    """Parse one IDX file (gzip or raw) after checking its header.

    Parameters
    ----------
    path : path
        The file.
    magic : int
        2051 for images (unsigned bytes, 3 dimensions), 2049 for labels.
    count : int
        The number of samples the file must hold.

    Returns
    -------
    uint8 array of shape (count, 28, 28) for images, (count,) for labels.

    Raises
    ------
    MnistError
        Naming the file and what is wrong: not gzip, HTML, wrong magic
        number, wrong counts or image size, truncated or too long.
    """
    path = Path(path)
    raw = _read_bytes(path)
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found is not None and found != magic:
        raise MnistError(
            f"{path}: IDX magic number is {found}, expected {magic}; {_describe_start(raw)}."
        )
    if len(raw) < header_size:
        raise MnistError(
            f"{path}: only {len(raw)} bytes, shorter than the IDX header ({header_size})."
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_dims = (count, IMAGE_SIDE, IMAGE_SIDE)[:ndim]
    if dims != expected_dims:
        raise MnistError(f"{path}: header declares shape {dims}, expected {expected_dims}.")
    size = header_size + int(np.prod(dims))
    if len(raw) != size:
        state = "truncated" if len(raw) < size else "too long"
        raise MnistError(f"{path}: {state}: {len(raw)} bytes, the header implies {size}.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def _find(data_dir: Path, name: str) -> Path | None:
    for candidate in (data_dir / f"{name}.gz", data_dir / name):
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------------------
# Downloading


def _file_digest(data: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def _verify_download(path: Path, name: str, md5: dict[str, str], sha256: dict[str, str]) -> None:
    """Accept the published gzip MD5, or the decompressed payload's SHA-256."""
    raw = path.read_bytes()
    if _file_digest(raw, "md5") == md5.get(name):
        return
    try:
        payload = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error):
        raise MnistError(f"checksum mismatch: not a gzip file; {_describe_start(raw)}.") from None
    if _file_digest(payload, "sha256") != sha256.get(name):
        raise MnistError(
            "checksum mismatch: neither the gzip MD5 nor the payload SHA-256 is the published one."
        )


def _fetch(url: str, dest: Path, timeout: float) -> None:
    import pooch

    pooch.HTTPDownloader(timeout=timeout, progressbar=False)(url, str(dest), None)


def download_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    mirrors: tuple[str, ...] | list[str] | None = None,
    timeout: float = 30.0,
    retries: int = 2,
    md5: dict[str, str] | None = None,
    sha256: dict[str, str] | None = None,
) -> Path:
    """Download the MNIST files missing from `data_dir`, verified, and return the folder.

    Each file is fetched into a temporary folder inside `data_dir`, checked
    against the published checksums, and only then renamed into place, so no
    partial or unverified file is ever left under its real name. Each mirror
    is tried `retries` times on connection errors, time-outs and HTTP errors;
    a checksum mismatch moves on to the next mirror at once.

    Parameters
    ----------
    data_dir : path, optional
        Where the files go (created if needed); :func:`default_data_dir` if None.
    mirrors : sequence of str, optional
        Base URLs, tried in order; ``XPNET_MNIST_MIRRORS`` (comma-separated)
        or :data:`MIRRORS` if None.
    timeout : float
        Seconds to wait for a server before giving up on an attempt.
    retries : int
        Attempts per mirror.
    md5, sha256 : dict, optional
        Accepted checksums per file name (defaults: the published ones).
    """
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    if mirrors is None:
        env = os.environ.get("XPNET_MNIST_MIRRORS")
        mirrors = tuple(m.strip() for m in env.split(",") if m.strip()) if env else MIRRORS
    md5 = GZIP_MD5 if md5 is None else md5
    sha256 = PAYLOAD_SHA256 if sha256 is None else sha256
    folder.mkdir(parents=True, exist_ok=True)
    for name, _, _ in FILES.values():
        if _find(folder, name) is None:
            _download_one(folder, name, tuple(mirrors), timeout, retries, md5, sha256)
    return folder


def _download_one(
    folder: Path,
    name: str,
    mirrors: tuple[str, ...],
    timeout: float,
    retries: int,
    md5: dict[str, str],
    sha256: dict[str, str],
) -> None:
    import requests

    failures = []
    for base in mirrors:
        url = base.rstrip("/") + f"/{name}.gz"
        for attempt in range(1, max(1, retries) + 1):
            with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
                partial = Path(tmp) / f"{name}.gz"
                try:
                    _fetch(url, partial, timeout)
                    _verify_download(partial, name, md5, sha256)
                except MnistError as exc:
                    failures.append(f"{url}: {exc}")
                    break  # the same mirror would serve the same bytes again
                except (requests.RequestException, OSError) as exc:
                    failures.append(f"{url} (attempt {attempt}): {type(exc).__name__}: {exc}")
                    continue
                os.replace(partial, folder / f"{name}.gz")
                return
    raise MnistError(
        f"Could not download {name}.gz from any of {len(mirrors)} mirror(s). Without network "
        f"access, copy the four MNIST files (gzip or raw) into {folder}, or point XPNET_DATA "
        "(or data_dir=) at a folder that has them. Attempts:\n  " + "\n  ".join(failures)
    )


# ---------------------------------------------------------------------------
# Caching parsed arrays


def _cache_dir(data_dir: Path) -> Path:
    """Beside the data, unless that folder is read-only; then the user cache."""
    mode = data_dir.stat().st_mode
    if mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) and os.access(data_dir, os.W_OK):
        return data_dir
    import platformdirs

    key = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path(platformdirs.user_cache_dir("xpnet")) / "mnist-npy" / key


def _load_array(source: Path, magic: int, count: int, cache_dir: Path) -> np.ndarray:
    """Parse `source`, through a .npy cache that is newer than the source."""
    cache = cache_dir / f"{source.name.removesuffix('.gz')}.v{CACHE_VERSION}.npy"
    expected = (count, IMAGE_SIDE, IMAGE_SIDE)[: magic & 0xFF]
    if cache.is_file() and cache.stat().st_mtime >= source.stat().st_mtime:
        try:
            cached = np.load(cache, allow_pickle=False)
            if cached.shape == expected and cached.dtype == np.uint8:
                return cached
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    array = read_idx(source, magic, count)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(cache, lambda f: np.save(f, array, allow_pickle=False))
    except OSError:
        pass  # caching is an optimisation; a read-only disk is not an error
    return array


# ---------------------------------------------------------------------------
# The loader


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
    """
    b = resolve_backend(backend, device)
    float_dtype = resolve_dtype(b, dtype)
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    missing = [name for name, _, _ in FILES.values() if _find(folder, name) is None]
    if missing:
        if not download:
            raise MnistError(
                f"MNIST files missing from {folder}: {', '.join(missing)}. Put the four files "
                "there (gzip or raw), set XPNET_DATA to a folder that has them, "
                "or pass download=True."
            )
        download_mnist(folder)
    cache_dir = _cache_dir(folder)
    host = {
        key: _load_array(_find(folder, name), magic, count, cache_dir)  # type: ignore[arg-type]
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
