"""Opening a sweep store: what the file must be, and reading it without writing.

A store is refused in one line when it is not a regular file, not SQLite,
not xpnet's tables (missing columns included), or of another schema
version; each row is then checked as it is read (:mod:`.records`).

:func:`read_runs` reads while a sweep may be writing. SQLite's WAL mode
needs a ``-shm`` file beside the store even to read; on a read-only file
system (or folder) it cannot be made, so a store whose write-ahead log is
empty is opened as immutable instead, and one whose log still holds runs is
refused with what to do.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .._version import __version__
from ..errors import CheckpointError
from .records import COLUMNS, RunRecord

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "SQLITE_ERRORS",
    "check_file",
    "check_schema",
    "connect",
    "not_a_store",
    "read_runs",
]

FORMAT = "xpnet-sweep"
#: Version of the tables; a store of another version is refused, not guessed at.
SCHEMA_VERSION = 1
_HEADER = b"SQLite format 3\x00"
#: What SQLite raises on a damaged file; a message of its that quotes the damaged bytes
#: cannot be decoded, and arrives as a UnicodeDecodeError instead.
SQLITE_ERRORS = (sqlite3.Error, UnicodeDecodeError)


def not_a_store(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"{path} is not an xpnet sweep store: {why.rstrip('.')}.")


def check_file(path: Path) -> None:
    """A clear error for a folder, a special file or a file that is not SQLite."""
    if not path.exists():
        return
    if not path.is_file():
        raise not_a_store(path, "not a regular file")
    with open(path, "rb") as f:
        head = f.read(len(_HEADER))
    if head and head != _HEADER:
        raise not_a_store(path, "not an SQLite database")


def check_schema(conn: sqlite3.Connection, path: Path) -> None:
    """xpnet's tables and columns, of this schema version, or an error naming what differs."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables or "runs" not in tables:
        shown = sorted(map(str, tables))
        raise not_a_store(path, f"an SQLite database with tables {shown}")
    meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    if meta.get("format") != FORMAT:
        raise not_a_store(path, f"its format is {meta.get('format')!r:.40}")
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        raise CheckpointError(
            f"{path} is a sweep store of schema version {meta.get('schema_version')!s:.20} "
            f"(written by xpnet {meta.get('xpnet_version', '?')!s:.20}); this xpnet "
            f"({__version__}) reads version {SCHEMA_VERSION}. Use a new --store file, or that "
            "version of xpnet."
        )
    columns = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise not_a_store(path, f"its table of runs has no column {', '.join(missing)}")


def connect(target: str, path: Path, *, uri: bool = False) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(target, timeout=30.0, isolation_level=None, uri=uri)
        conn.row_factory = sqlite3.Row
        # Text that is not UTF-8 (a damaged store) is read with U+FFFD in place of the bad
        # bytes, and then refused by the checks of what it holds, not by a UnicodeDecodeError.
        conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn
    except SQLITE_ERRORS as exc:
        raise CheckpointError(f"{path}: cannot open the sweep store ({exc}).") from None


def _read_only_target(real: Path) -> str:
    """The URI to read `real` where nothing can be written beside it (see the module)."""
    wal = Path(f"{real}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise CheckpointError(
            f"{real}: cannot read the sweep store: its folder cannot be written (a read-only "
            f"file system?), and its write-ahead log {wal.name} holds runs not yet in the store "
            "itself, which SQLite can read only with a -shm file beside them. Copy both files "
            "to a folder you can write to and read them there."
        )
    return f"{real.as_uri()}?mode=ro&immutable=1"  # nothing else can be writing it


def read_runs(path: str | os.PathLike[str]) -> list[RunRecord]:
    """Every run in the store at `path`, read-only (while a sweep writes, if need be).

    Raises
    ------
    CheckpointError
        When there is no store at `path`, it is not an xpnet sweep store, or a
        row is not what xpnet writes (naming the run and the column).
    """
    real = Path(os.path.realpath(path))
    if not real.exists():
        raise CheckpointError(f"No sweep store at {os.fspath(path)}: the file does not exist.")
    check_file(real)
    if not os.access(real, os.R_OK):
        raise CheckpointError(f"{real}: cannot read the sweep store (permission denied).")
    # Read-write when allowed, so that closing tidies the -wal and -shm files away.
    if os.access(real, os.W_OK) and os.access(real.parent, os.W_OK):
        target = f"{real.as_uri()}?mode=rw"
    else:
        target = _read_only_target(real)
    conn = connect(target, real, uri=True)
    try:
        check_schema(conn, real)
        rows = conn.execute("SELECT * FROM runs ORDER BY rowid")
        return [RunRecord.from_row(row, real) for row in rows]
    except SQLITE_ERRORS as exc:
        raise not_a_store(real, str(exc)) from None
    finally:
        conn.close()
