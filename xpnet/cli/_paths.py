"""What each command's options name: the table behind the one output rule.

Every option of every command whose value is free text is listed here with
its role, in this one place:

* ``OUTPUT``: a file the command writes (``--json``, ``--plot``, ``--out``);
* ``INPUT``: a file it only reads (``plot --json``, ``sweep --scheduler`` file);
* ``STORE``: a sweep store or a checkpoint, read or written in place, with the
  files it keeps beside it (SQLite's ``-wal`` and ``-shm`` files, which
  reading opens too; a checkpoint's lock);
* ``FOLDER``: a folder it reads data from (``--data-dir``: the MNIST files);
* ``TEXT``: not a path (``--device``, a sweep's settings).

Before any command runs, :func:`check_paths` applies
:func:`xpnet._io.check_distinct` to the paths given: no output may be the
same file as an input, a store (side files included) or another output. A
test walks the parser and fails for any free-text option missing here, so
an option added later cannot escape the rule.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._output import STDOUT

__all__ = ["FOLDER", "INPUT", "OUTPUT", "PATHS", "STORE", "TEXT", "check_paths", "command_of"]

OUTPUT, INPUT, STORE, FOLDER, TEXT = "output", "input", "store", "folder", "text"


def _sweep_settings() -> dict[str, str]:
    from ._space import AXES

    return {option: TEXT for option, *_ in AXES}


#: Command (``sweep report`` for a sub-command) -> option -> its role.
PATHS: dict[str, dict[str, str]] = {
    "train": {
        "--data-dir": FOLDER, "--checkpoint": STORE, "--json": OUTPUT, "--plot": OUTPUT,
        "--device": TEXT,
    },
    "gradcheck": {"--data-dir": FOLDER, "--json": OUTPUT, "--device": TEXT},
    "plot": {
        "--out": OUTPUT, "--json": INPUT, "--checkpoint": STORE, "--store": STORE,
        "--data-dir": FOLDER, "--backend": TEXT, "--device": TEXT,
    },
    "sweep": {
        "--store": STORE, "--json": OUTPUT, "--data-dir": FOLDER, "--scheduler": INPUT,
        "--device": TEXT, "--set": TEXT, **_sweep_settings(),
    },
    "sweep report": {"--store": STORE, "--json": OUTPUT},
    "info": {},
    "book": {},
    # --figures is a folder: the figures are new files in it, named by the script
    "book run": {"--device": TEXT, "--figures": TEXT},
}  # fmt: skip


def command_of(args: argparse.Namespace) -> str:
    """The key of `args`' command in :data:`PATHS` (``"sweep report"`` for a sub-command)."""
    action = getattr(args, "sweep_action", None) or getattr(args, "book_command", None)
    return f"{args.command} {action}" if action else str(args.command)


def _values(value: Any) -> list[str]:
    """The paths an option was given (``plot --json`` takes several), ``-`` left out."""
    given = value if isinstance(value, list) else [value]
    return [os.fspath(v) for v in given if v is not None and v != STDOUT]


def _data_files(folder: str) -> list[str]:
    """The files a command reads from a data folder: MNIST's four, raw or gzip-compressed."""
    from ..datasets.mnist import FILES

    names = [name for name, _, _ in FILES.values()]
    return [os.path.join(folder, n + end) for n in names for end in ("", ".gz")]


def check_paths(args: argparse.Namespace) -> None:
    """Apply the one output rule to the paths `args` names (see the module's description).

    Raises
    ------
    xpnet.errors.OutputError
        Naming the output and the option whose file it would overwrite.
    """
    from .._io import check_distinct

    found: dict[str, list[tuple[str, str]]] = {OUTPUT: [], INPUT: [], STORE: []}
    for option, role in PATHS[command_of(args)].items():
        if role == TEXT:
            continue
        values = _values(getattr(args, option.lstrip("-").replace("-", "_"), None))
        if role == FOLDER:
            values, role = [f for v in values for f in _data_files(v)], INPUT
        found[role] += [(option, value) for value in values]
    check_distinct(found[OUTPUT], found[INPUT], found[STORE])
