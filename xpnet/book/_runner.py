"""``run(script)``: one of the book's scripts, unchanged, with xpnet answering its imports.

The script runs as ``python script.py`` would run it from its own folder (the
book's instructions: ``cd ch04; python train_neuralnet.py``): as
``__main__``, with its folder first on ``sys.path`` (for its chapter's own
modules, ``two_layer_net`` and the like) and as the working directory (for
its ``.pkl`` files). ``common`` and ``dataset`` are xpnet's
(:mod:`xpnet.book.common`, :mod:`xpnet.book.dataset`), whatever ``sys.path``
says, and xpnet's current backend is the one chosen.

An error inside the script becomes one :class:`BookScriptError` line that
names the script's line and the fix where one is known.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import runpy
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..backend import BACKENDS, Backend, resolve_backend, use_backend
from ..errors import XpnetError, XpnetValueError

__all__ = ["BOOK_MODULES", "BookScriptError", "book_modules", "run"]

#: The book's modules xpnet answers, by the name the book's scripts import.
BOOK_MODULES = (
    "common",
    "common.functions",
    "common.gradient",
    "common.util",
    "common.layers",
    "common.optimizer",
    "common.multi_layer_net",
    "common.multi_layer_net_extend",
    "common.trainer",
    "dataset",
    "dataset.mnist",
)


class BookScriptError(XpnetError):
    """A book script failed: the line of the script, what happened, and the fix."""


@contextlib.contextmanager
def book_modules() -> Iterator[None]:
    """``import common.layers`` (and the rest of :data:`BOOK_MODULES`) gives xpnet's modules.

    The names are entered in ``sys.modules`` for the block, ahead of any
    folder on ``sys.path`` (a checkout of the book's own ``common`` included),
    and removed afterwards with anything that was there before put back.
    """
    saved = {name: sys.modules.get(name) for name in BOOK_MODULES}
    for name in BOOK_MODULES:
        sys.modules[name] = importlib.import_module(f"xpnet.book.{name}")
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


@contextlib.contextmanager
def _as_main(path: Path) -> Iterator[None]:
    """``sys.argv``, ``sys.path[0]`` and the working directory of ``python path`` run in its folder.

    Modules imported from the script's folder (its chapter's own) are
    forgotten afterwards, so a second run imports them afresh.
    """
    folder = str(path.parent)
    argv, cwd, before = sys.argv, os.getcwd(), set(sys.modules)
    sys.argv = [str(path)]
    sys.path.insert(0, folder)
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(cwd)
        sys.argv = argv
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if file.startswith(folder + os.sep):
                del sys.modules[name]


@contextlib.contextmanager
def _figures(folder: Path | None, stem: str) -> Iterator[list[Path]]:
    """With a `folder`, ``plt.show()`` saves the open figures there (``stem-1.png``…)."""
    saved: list[Path] = []
    if folder is None:
        yield saved
        return
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    show = plt.show

    def save(*args: Any, **kwargs: Any) -> None:
        for number in plt.get_fignums():
            target = folder / f"{stem}-{len(saved) + 1}.png"
            plt.figure(number).savefig(target, dpi=80)
            saved.append(target)
        plt.close("all")

    plt.show = save
    try:
        yield saved
    finally:
        plt.show = show
        save()  # figures the script drew but never showed


def run(
    script: str | os.PathLike[str],
    *,
    backend: str | Backend | None = None,
    device: Any = None,
    figures: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Run one of the book's scripts, unchanged, with xpnet's ``common`` and ``dataset``.

    Parameters
    ----------
    script : path
        A script of the book's repository, ``ch04/train_neuralnet.py`` say.
    backend, device
        Where ``load_mnist`` puts the data and the networks their arrays
        (default: xpnet's current backend).
    figures : path, optional
        A folder: ``plt.show()`` saves the figures there as PNG files instead
        of opening windows.

    Returns
    -------
    list of Path
        The figures saved (none without `figures`).

    Raises
    ------
    BookScriptError
        When the script fails: one line with the script's file and line,
        the error, and how to make it run.
    """
    path = Path(script).resolve()
    if not path.is_file():
        raise XpnetValueError(f"`script` must be a Python file. Received: {os.fspath(script)!r}.")
    b = resolve_backend(backend, device)
    folder = None if figures is None else Path(figures).resolve()
    with use_backend(b), book_modules(), _figures(folder, path.stem) as saved, _as_main(path):
        try:
            runpy.run_path(str(path), run_name="__main__")
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise BookScriptError(describe(exc, path, b)) from exc
    return saved


def describe(exc: BaseException, path: Path, b: Backend) -> str:
    """One line: where in the book's code `exc` happened, what it is, and the fix."""
    root = path.parent.parent
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).is_relative_to(root)
    ]
    where = os.fspath(path.name)
    if frames:
        frame = frames[-1]
        where = f"{Path(frame.filename).relative_to(root)}:{frame.lineno}"
        if frame.line:
            where += f" `{frame.line.strip()}`"
    reason = str(exc).splitlines()[0] if str(exc) else ""
    what = reason if isinstance(exc, XpnetError) else f"{type(exc).__name__}: {reason}".rstrip(": ")
    fix = "" if isinstance(exc, XpnetError) else " " + _fix(exc, b)
    return f"{where}: {what}{fix}"


def _fix(exc: BaseException, b: Backend) -> str:
    """How to make the line run, from what failed and where the arrays were."""
    host = BACKENDS[0]  # the library the book was written for
    text = str(exc).lower()
    if b.name == host:
        return "(the book's own code fails here on xpnet's arrays too)."
    on_host = b.library.free_memory(b.device) is None
    if not on_host and any(word in text for word in ("numpy", "host", "implicit")):
        return (
            f"This line hands an array on {b.device} to NumPy, which reads host memory only: "
            f"run the script on the CPU (--device cpu) or with --backend {host}."
        )
    if isinstance(exc, IndexError):
        return (
            f"The book indexes as NumPy does (`x[mask]` with a NumPy array, `x[:n]`), which "
            f"{b.name} refuses: run the script with --backend {host}, or another backend of the "
            "table in xpnet's docs; in your own code xpnet.take_rows(x, idx) and xpnet.head(x, n) "
            "index on every backend."
        )
    return (
        f"This line uses {b.name}'s arrays as NumPy arrays (a NumPy function, len(), an "
        f"indexing), which they do not support: run the script with --backend {host}, or "
        "another backend of the table in xpnet's docs."
    )
