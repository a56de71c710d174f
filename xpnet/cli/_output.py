"""Where the commands' JSON summaries go: a file, written atomically, or standard output (``-``)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["STDOUT", "check_json_path", "people_to_stderr", "write_json"]

#: ``--json -`` (and ``xpnet train --plot -``): standard output.
STDOUT = "-"


def check_json_path(path: str | None, option: str = "--json") -> None:
    """Refuse an output path that cannot be written, before any work; ``-`` is fine."""
    from .._io import check_output_path

    if path is not None and path != STDOUT:
        check_output_path(path, option)


@contextlib.contextmanager
def people_to_stderr(active: bool) -> Iterator[None]:
    """While `active` (a summary goes to standard output), lines meant for people go to stderr."""
    with contextlib.redirect_stdout(sys.stderr) if active else contextlib.nullcontext():
        yield


def write_json(path: str, data: Any, option: str = "--json") -> None:
    """`data` as indented JSON to `path`, atomically, or to standard output for ``-``."""
    from .._io import atomic_write

    text = json.dumps(data, indent=1) + "\n"
    if path == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    atomic_write(path, lambda file: file.write(text.encode()), name=option)
