"""The data folder: where the four MNIST files are looked for, and what may stand there.

The folder is the `data_dir` argument, else ``XPNET_DATA``, else the user's
cache directory. Each file may be gzip-compressed (``name.gz``) or raw
(``name``); anything else under those names (a directory, a broken link) is
an error that names it rather than a file taken as missing.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._idx import MnistError

__all__ = ["data_folder", "default_data_dir", "find_file"]


def default_data_dir() -> Path:
    """``XPNET_DATA`` if set, else ``<user cache>/xpnet/mnist``.

    Examples
    --------
    >>> default_data_dir().name != ""
    True
    """
    env = os.environ.get("XPNET_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("xpnet")) / "mnist"


def data_folder(data_dir: str | os.PathLike[str] | None) -> Path:
    """`data_dir` (else :func:`default_data_dir`), refused when it is not a folder."""
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    if folder.exists() and not folder.is_dir():
        origin = "data_dir" if data_dir is not None else "XPNET_DATA"
        raise MnistError(
            f"{folder}: is a file, not a folder; {origin} must name the folder that holds "
            "(or will hold) the four MNIST files."
        )
    return folder


def find_file(folder: Path, name: str) -> Path | None:
    """``name.gz`` or ``name`` in `folder`, None if neither; an error for anything else there."""
    for candidate in (folder / f"{name}.gz", folder / name):
        try:
            if candidate.is_file():
                return candidate
            problem = _not_a_file(candidate)
        except OSError as exc:  # a folder on the way that cannot be searched
            raise MnistError(f"{candidate}: cannot be checked: {exc.strerror or exc}.") from None
        if problem:
            raise MnistError(f"{candidate}: {problem}; remove or rename it.")
    return None


def _not_a_file(path: Path) -> str | None:
    """Why something at `path` that is not a regular file is not an MNIST file."""
    if path.is_symlink() and not path.exists():
        return "is a broken symbolic link, not an MNIST file"
    if path.exists():
        return f"is {'a directory' if path.is_dir() else 'not a regular file'}, not an MNIST file"
    return None
