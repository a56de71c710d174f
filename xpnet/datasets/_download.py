"""Missing MNIST files, downloaded from mirrors and verified before they get their names.

pooch does the transfer: its HTTP downloader streams each file to a temporary
name beside the target, its ``retry_if_failed`` retries network failures
with a growing pause, and only a file that passed the check is renamed into
place. xpnet adds what pooch cannot express: several mirrors tried in turn,
and a file accepted when *either* its gzip MD5 is the published one *or* its
decompressed payload's SHA-256 is (re-compressed copies have other MD5s).
The payload is hashed as a stream and never past the real file's size, so a
gzip bomb from a bad mirror costs no more than the real file would.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._validation import positive_float, positive_int
from ._folder import data_folder, find_file
from ._idx import FILES, GZIP_ERRORS, GZIP_MAGIC, MnistError, describe_start, idx_size

__all__ = ["MIRRORS", "download_mnist"]

#: Mirrors of the original files, tried in order (yann.lecun.com answers 403 now).
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
#: Comma-separated base URLs that replace :data:`MIRRORS`.
MIRRORS_ENV = "XPNET_MNIST_MIRRORS"

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
CHUNK = 1 << 20
SIZES = {name: idx_size(magic, count) for name, magic, count in FILES.values()}


# -- verification ----------------------------------------------------------------------


class _Rejected(Exception):
    """The server sent a file, but not the right one. Not a ValueError: pooch retries those."""


def _payload_sha256(path: Path, limit: int) -> str:
    """SHA-256 of the decompressed gzip `path`, read as a stream, at most `limit` bytes."""
    digest, total = hashlib.sha256(), 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(min(CHUNK, limit + 1 - total)):
                total += len(chunk)
                if total > limit:
                    raise _Rejected(
                        f"too long: the payload goes on past the {limit} bytes of the real file"
                    )
                digest.update(chunk)
    except GZIP_ERRORS as exc:
        raise _Rejected(f"corrupt or truncated gzip ({exc})") from None
    return digest.hexdigest()


def verify_download(path: Path, name: str, md5: dict[str, str], sha256: dict[str, str]) -> None:
    """Accept the published gzip MD5, or else the decompressed payload's SHA-256."""
    import pooch

    if pooch.file_hash(str(path), alg="md5") == md5.get(name):
        return
    with open(path, "rb") as file:
        start = file.read(64)
    if not start.startswith(GZIP_MAGIC):
        raise _Rejected(f"not a gzip file: {describe_start(start)}")
    if name in sha256 and _payload_sha256(path, SIZES[name]) == sha256[name]:
        return
    raise _Rejected(
        "checksum mismatch: neither the gzip MD5 nor the payload SHA-256 is the published one"
    )


# -- downloading -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Attempt:
    url: str
    number: int
    reason: str
    #: How much the failure says: 2 wrong data, 1 an HTTP status, 0 no answer.
    rank: int

    @classmethod
    def failed(cls, url: str, number: int, exc: BaseException) -> _Attempt:
        if isinstance(exc, _Rejected):
            return cls(url, number, str(exc), 2)
        response = getattr(exc, "response", None)  # requests' errors carry the response
        if response is not None:
            response.close()  # pooch leaves a failed streamed response open
        return cls(url, number, f"{type(exc).__name__}: {exc}", int(response is not None))

    def __str__(self) -> str:
        return f"{self.url} (attempt {self.number}): {self.reason}"


class _CheckedDownloader:
    """pooch's HTTP downloader followed by the checksum check; records every attempt."""

    def __init__(self, name: str, timeout: float, md5: dict[str, str], sha256: dict[str, str]):
        import pooch

        self.http = pooch.HTTPDownloader(timeout=timeout, progressbar=False)
        self.name, self.md5, self.sha256 = name, md5, sha256
        self.attempts: list[_Attempt] = []

    def __call__(self, url: str, output_file: str, pooch_: Any) -> None:
        number = 1 + sum(a.url == url for a in self.attempts)
        try:
            # pooch's temporary file is private (0600); a fresh one gets the umask.
            os.unlink(output_file)
            self.http(url, output_file, pooch_)
            verify_download(Path(output_file), self.name, self.md5, self.sha256)
        except BaseException as exc:
            self.attempts.append(_Attempt.failed(url, number, exc))
            raise


def _mirrors(mirrors: Sequence[str] | None) -> tuple[str, ...]:
    if mirrors is None:
        env = os.environ.get(MIRRORS_ENV, "")
        mirrors = [m.strip() for m in env.split(",") if m.strip()] or MIRRORS
    if isinstance(mirrors, str) or not mirrors:
        raise MnistError(f"`mirrors` must be a non-empty list of base URLs. Received: {mirrors!r}.")
    return tuple(mirrors)


@contextlib.contextmanager
def _new_folder(folder: Path) -> Iterator[None]:
    """Create `folder` (and parents); remove the ones made here, if still empty, on failure."""
    made = [p for p in (folder.absolute(), *folder.absolute().parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in folder.absolute().parents if p.is_file()), None)
        why = f"{blocker} is a file" if blocker else (exc.strerror or str(exc))
        raise MnistError(f"{folder}: cannot create the data folder: {why}.") from None
    try:
        yield
    except BaseException:
        for path in made:  # deepest first
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


def download_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    retries: int = 2,
    md5: dict[str, str] | None = None,
    sha256: dict[str, str] | None = None,
) -> Path:
    """Download the MNIST files missing from `data_dir`, verified, and return the folder.

    Each file is streamed to a temporary name in `data_dir`, checked against
    the published checksums, and only then renamed into place: no partial or
    unverified file is ever left under its real name. Mirrors are tried in
    order; on each, pooch retries connection errors, time-outs and HTTP
    errors; a wrong file moves on to the next mirror at once. Folders this
    call created are removed again when it fails.

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

    Returns
    -------
    Path
        The folder, now holding the four files.

    Raises
    ------
    MnistError
        When a file could not be fetched from any mirror. The first line
        names the file, the number of mirrors and the most telling reason;
        the following lines list every attempt and its reason.

    Examples
    --------
    >>> folder = download_mnist("~/data/mnist")  # doctest: +SKIP
    >>> sorted(p.name for p in folder.glob("*.gz"))[:1]  # doctest: +SKIP
    ['t10k-images-idx3-ubyte.gz']
    """
    folder = data_folder(data_dir)
    urls = _mirrors(mirrors)
    timeout = positive_float(timeout, "timeout")
    retries = positive_int(retries, "retries")
    md5 = GZIP_MD5 if md5 is None else md5
    sha256 = PAYLOAD_SHA256 if sha256 is None else sha256
    missing = [name for name, _, _ in FILES.values() if find_file(folder, name) is None]
    if missing:
        with _new_folder(folder), _quiet_pooch():
            for name in missing:
                checked = _CheckedDownloader(name, timeout, md5, sha256)
                _download_one(folder, checked, urls, retries)
    return folder


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """No log lines from pooch (progress, each retry): a failure is one MnistError."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _download_one(
    folder: Path, downloader: _CheckedDownloader, mirrors: tuple[str, ...], retries: int
) -> None:
    """Try each mirror in turn, pooch retrying each; an error listing every attempt."""
    import pooch

    fname = f"{downloader.name}.gz"
    for base in mirrors:
        url = base.rstrip("/") + f"/{fname}"
        fetcher = pooch.Pooch(
            path=folder,
            base_url=base,
            registry={fname: None},  # checked by the downloader: MD5 *or* payload SHA-256
            urls={fname: url},
            retry_if_failed=retries - 1,
        )
        try:
            fetcher.fetch(fname, downloader=downloader)
            return
        except _Rejected:
            continue  # the same mirror would serve the same bytes again
        except (OSError, ValueError) as exc:
            if isinstance(exc, OSError) and not hasattr(exc, "request"):
                # Not from requests: the disk (full, read-only), not the network.
                raise MnistError(f"{folder}: cannot save {fname}: {exc.strerror or exc}.") from None
            if not any(attempt.url == url for attempt in downloader.attempts):
                downloader.attempts.append(_Attempt.failed(url, 1, exc))  # failed before it
    raise _all_failed(folder, fname, mirrors, downloader.attempts)


def _all_failed(
    folder: Path, fname: str, mirrors: tuple[str, ...], attempts: list[_Attempt]
) -> MnistError:
    telling = max(attempts, key=lambda a: a.rank)  # the first of the most telling kind
    return MnistError(
        f"Could not download {fname} from any of {len(mirrors)} mirror(s) (most telling: "
        f"{telling.url}: {telling.reason}). Without "
        f"network access, copy the four MNIST files (gzip or raw) into {folder}, or point "
        f"XPNET_DATA (or data_dir=) at a folder that has them.\n"
        f"Attempts ({len(attempts)}):\n  " + "\n  ".join(map(str, attempts))
    )
