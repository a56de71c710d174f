"""The sweep store: one SQLite file, one row per run, written only by the client.

SQLite (the standard library's ``sqlite3``) in WAL mode with
``synchronous=FULL``: every result is committed in its own transaction as
soon as it arrives, so a finished run survives a crash of the client (or of
the machine) and a half-written one never appears. Readers (``xpnet sweep
report``, figures) can look while a sweep is writing.

Table ``meta`` says what the file is (``format = xpnet-sweep``) and its
schema version; table ``runs`` holds, per run: a key (hash of the
settings), the settings as JSON, the status (``running``, ``done``,
``failed``), the accuracy histories (JSON lists), the training loss (float64
bytes, one per iteration), final figures, seconds, the worker, backend and
device, and the error of a failed run.

Examples
--------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "sweep.db")
>>> with Store(path) as store:
...     store.mark_running([("k1", {"lr": 0.1})], client="me")
...     store.record("k1", {"status": "failed", "error": "TrainingDivergedError: ..."})
>>> [(r.key, r.status, r.settings) for r in read_runs(path)]
[('k1', 'failed', {'lr': 0.1})]
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import check_output_path
from .._version import __version__
from ..errors import CheckpointError, OutputError

__all__ = ["FORMAT", "SCHEMA_VERSION", "RunRecord", "Store", "read_runs"]

FORMAT = "xpnet-sweep"
#: Version of the tables; a store of another version is refused, not guessed at.
SCHEMA_VERSION = 1
_HEADER = b"SQLite format 3\x00"
_HISTORIES = ("eval_iters", "train_acc", "val_acc", "test_acc")
_FIGURES = ("final_train_acc", "final_val_acc", "final_test_acc", "final_loss")
_RESULT_COLUMNS = (
    "status", "worker", "backend", "device", *_HISTORIES, "train_loss", *_FIGURES,
    "seconds", "wall_seconds", "error", "finished",
)  # fmt: skip
_SCHEMA = f"""
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    key TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    client TEXT, worker TEXT, backend TEXT, device TEXT,
    eval_iters TEXT, train_acc TEXT, val_acc TEXT, test_acc TEXT, train_loss BLOB,
    final_train_acc REAL, final_val_acc REAL, final_test_acc REAL, final_loss REAL,
    seconds REAL, wall_seconds REAL, error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, started REAL, finished REAL
);
INSERT INTO meta VALUES ('format', '{FORMAT}'), ('schema_version', '{SCHEMA_VERSION}');
"""


@dataclass(frozen=True)
class RunRecord:
    """One run as the store holds it."""

    key: str
    settings: dict[str, Any]
    status: str
    eval_iters: list[int] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    final_train_acc: float | None = None
    final_val_acc: float | None = None
    final_test_acc: float | None = None
    final_loss: float | None = None
    seconds: float | None = None
    wall_seconds: float | None = None
    worker: str | None = None
    backend: str | None = None
    device: str | None = None
    error: str | None = None
    attempts: int = 0
    started: float | None = None
    finished: float | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        values = dict(row)
        values.pop("client", None)
        values["settings"] = json.loads(values["settings"])
        for name in _HISTORIES:
            values[name] = json.loads(values[name]) if values[name] else []
        loss = values["train_loss"]
        values["train_loss"] = array("d", loss).tolist() if loss else []
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-able values (``xpnet sweep --json``)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _not_a_store(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"{path} is not an xpnet sweep store: {why}.")


def _check_file(path: Path) -> None:
    """A clear error for a folder, a special file or a file that is not SQLite."""
    if not path.exists():
        return
    if not path.is_file():
        raise _not_a_store(path, "not a regular file")
    with open(path, "rb") as f:
        head = f.read(len(_HEADER))
    if head and head != _HEADER:
        raise _not_a_store(path, "not an SQLite database")


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables or "runs" not in tables:
        raise _not_a_store(path, f"an SQLite database with tables {sorted(tables)}")
    meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    if meta.get("format") != FORMAT:
        raise _not_a_store(path, f"its format is {meta.get('format')!r}")
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        raise CheckpointError(
            f"{path} is a sweep store of schema version {meta.get('schema_version')} "
            f"(written by xpnet {meta.get('xpnet_version', '?')}); this xpnet ({__version__}) "
            f"reads version {SCHEMA_VERSION}. Use a new --store file, or that version of xpnet."
        )


def _connect(target: str, path: Path, *, uri: bool = False) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(target, timeout=30.0, isolation_level=None, uri=uri)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn
    except sqlite3.Error as exc:
        raise CheckpointError(f"{path}: cannot open the sweep store ({exc}).") from None


class Store:
    """A sweep store opened for writing (created if absent); use it as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        check_output_path(path, "store")
        self.path = Path(os.path.realpath(path))  # WAL files go beside the real file
        _check_file(self.path)
        self.client = f"{socket.gethostname()}:{os.getpid()}"
        self.conn = _connect(str(self.path), self.path)
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise _not_a_store(self.path, str(exc)) from None
        except BaseException:
            self.conn.close()
            raise

    def _open(self) -> None:
        """Check an existing store before changing anything; create the tables in a new one."""
        if self.conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
            _check_schema(self.conn, self.path)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        with self.transaction():
            if not self.conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO meta VALUES ('xpnet_version', ?), ('created', ?)",
                    (__version__, str(time.time())),
                )
        _check_schema(self.conn, self.path)

    def transaction(self) -> Any:
        """``with store.transaction():`` one write transaction, committed or rolled back whole."""
        return _Transaction(self.conn, self.path)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    # -- reading ----------------------------------------------------------------

    def statuses(self) -> dict[str, str]:
        """Key -> status of every run in the store."""
        return dict(self.conn.execute("SELECT key, status FROM runs").fetchall())

    def busy_clients(self) -> list[str]:
        """Other live processes on this host that have runs marked running here."""
        host = socket.gethostname()
        found = []
        for (client,) in self.conn.execute(
            "SELECT DISTINCT client FROM runs WHERE status = 'running'"
        ):
            name, _, pid = (client or "").rpartition(":")
            if name == host and pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                found.append(client)
        return found

    def records(self, keys: Iterable[str] | None = None) -> list[RunRecord]:
        """The runs with `keys`, in that order (missing ones left out); all runs if None."""
        rows = {r["key"]: r for r in self.conn.execute("SELECT * FROM runs ORDER BY rowid")}
        wanted = rows if keys is None else [k for k in keys if k in rows]
        return [RunRecord.from_row(rows[k]) for k in wanted]

    # -- writing (the client only) ------------------------------------------------

    def mark_running(self, runs: Sequence[tuple[str, dict[str, Any]]], client: str) -> None:
        """Record `runs` (key, settings) as running, in one transaction."""
        now = time.time()
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO runs (key, settings, status, client, attempts, started) "
                "VALUES (?, ?, 'running', ?, 1, ?) ON CONFLICT (key) DO UPDATE SET "
                "status = 'running', client = excluded.client, error = NULL, "
                "attempts = attempts + 1, started = excluded.started",
                [(key, json.dumps(s, sort_keys=True), client, now) for key, s in runs],
            )

    def record(self, key: str, result: dict[str, Any]) -> None:
        """Store one run's outcome (see :func:`xpnet.sweep.run.outcome`), in one transaction."""
        values = {name: result.get(name) for name in _RESULT_COLUMNS}
        for name in _HISTORIES:
            values[name] = json.dumps(result.get(name) or [])
        values["finished"] = time.time()
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        with self.transaction():
            cursor = self.conn.execute(
                f"UPDATE runs SET {assignments} WHERE key = :key", {**values, "key": key}
            )
            if cursor.rowcount != 1:
                raise CheckpointError(f"{self.path}: run {key} was never marked running.")


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an error); SQLite's errors become OutputError."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn, self.path = conn, path

    def __enter__(self) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is not None:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if issubclass(kind, sqlite3.Error):
                raise self._error(value) from None
            return
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> OutputError:
        return OutputError(
            f"{self.path}: cannot write to the sweep store ({exc}); what it held before is intact."
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_runs(path: str | os.PathLike[str]) -> list[RunRecord]:
    """Every run in the store at `path`, read-only (while a sweep writes, if need be)."""
    real = Path(os.path.realpath(path))
    if not real.exists():
        raise CheckpointError(f"No sweep store at {os.fspath(path)}: the file does not exist.")
    _check_file(real)
    # Read-write when allowed, so that closing tidies the -wal and -shm files away.
    mode = "rw" if os.access(real, os.W_OK) and os.access(real.parent, os.W_OK) else "ro"
    conn = _connect(f"{real.as_uri()}?mode={mode}", real, uri=True)
    try:
        _check_schema(conn, real)
        return [RunRecord.from_row(r) for r in conn.execute("SELECT * FROM runs ORDER BY rowid")]
    except sqlite3.DatabaseError as exc:
        raise _not_a_store(real, str(exc)) from None
    finally:
        conn.close()
