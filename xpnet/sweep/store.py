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
device, the error of a failed run, and the client that marked it running.

A sweep claims its runs in one write transaction before any of them starts
(:meth:`Store.claim`): runs marked ``running`` by another live client
(``host:pid:start``, see :mod:`.owner`) make the store busy; runs left by a
dead one are taken over. Runs claimed but never finished (Ctrl-C, a closed
pipe, a cluster that would not start) are given back as they were
(:meth:`Store.release`), so no row is left ``running`` by a sweep that ended.
The sweep holds the store's lock (``.NAME.lock``, as a checkpoint's) too.

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
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._io import check_output_path
from .._version import __version__
from ..errors import CheckpointError, OutputError
from . import owner
from .reader import (
    FORMAT,
    SCHEMA_VERSION,
    SQLITE_ERRORS,
    check_file,
    check_schema,
    connect,
    not_a_store,
    read_runs,
)
from .records import HISTORIES, RunRecord

__all__ = ["FORMAT", "SCHEMA_VERSION", "RunRecord", "Store", "read_runs"]

_FIGURES = ("final_train_acc", "final_val_acc", "final_test_acc", "final_loss")
_RESULT_COLUMNS = (
    "status", "worker", "backend", "device", *HISTORIES, "train_loss", *_FIGURES,
    "seconds", "wall_seconds", "error", "finished",
)  # fmt: skip
#: What a claim changes, so that a release can put it back.
_CLAIMED = ("status", "client", "error", "attempts", "started")
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


class Store:
    """A sweep store opened for writing (created if absent); use it as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        check_output_path(path, "store")
        self.path = Path(os.path.realpath(path))  # WAL files go beside the real file
        check_file(self.path)
        self.client = owner.me()
        #: Runs this store claimed and has not recorded: key -> the row's claimed columns
        #: before the claim (None: there was no row).
        self.claimed: dict[str, dict[str, Any] | None] = {}
        self.conn = connect(str(self.path), self.path)
        try:
            self._open()
        except SQLITE_ERRORS as exc:
            self.conn.close()
            raise not_a_store(self.path, str(exc)) from None
        except BaseException:
            self.conn.close()
            raise

    def _open(self) -> None:
        """Check an existing store before changing anything; create the tables in a new one."""
        if self.conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
            check_schema(self.conn, self.path)
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
        check_schema(self.conn, self.path)

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

    def _rows(self, sql: str) -> list[sqlite3.Row]:
        """The rows `sql` selects; a store SQLite finds damaged is a CheckpointError."""
        try:
            return self.conn.execute(sql).fetchall()
        except SQLITE_ERRORS as exc:
            raise not_a_store(self.path, str(exc)) from None

    def statuses(self) -> dict[str, str]:
        """Key -> status of every run in the store."""
        return {r["key"]: r["status"] for r in self._rows("SELECT key, status FROM runs")}

    def records(self, keys: Iterable[str] | None = None) -> list[RunRecord]:
        """The runs with `keys`, in that order (missing ones left out); all runs if None.

        Each row is checked as it is read (:mod:`.records`): CheckpointError if damaged.
        """
        rows = {r["key"]: r for r in self._rows("SELECT * FROM runs ORDER BY rowid")}
        wanted = rows if keys is None else [k for k in keys if k in rows]
        return [RunRecord.from_row(rows[k], self.path) for k in wanted]

    # -- writing (the client only) ------------------------------------------------

    def mark_running(self, runs: Sequence[tuple[str, dict[str, Any]]], client: str) -> None:
        """Record `runs` (key, settings) as running, in one transaction."""
        with self.transaction():
            self._mark(runs, client)

    def _mark(self, runs: Sequence[tuple[str, dict[str, Any]]], client: str) -> None:
        self.conn.executemany(
            "INSERT INTO runs (key, settings, status, client, attempts, started) "
            "VALUES (?, ?, 'running', ?, 1, ?) ON CONFLICT (key) DO UPDATE SET "
            "status = 'running', client = excluded.client, error = NULL, "
            "settings = excluded.settings, "
            "attempts = attempts + 1, started = excluded.started",
            [(key, json.dumps(s, sort_keys=True), client, time.time()) for key, s in runs],
        )

    def claim(
        self, runs: Sequence[tuple[str, dict[str, Any]]], *, retry_failed: bool, steal: bool
    ) -> list[str]:
        """Mark the runs that need running as this client's, in one transaction; their keys.

        A run needs running when the store lacks it, holds it ``running`` (left
        by a dead client) or, with `retry_failed`, ``failed``. Nothing is marked
        when another live client (or one that cannot be checked: another host)
        has runs ``running`` here, unless `steal`.

        Raises
        ------
        CheckpointError
            "S is in use by another sweep", saying what is known of it.
        """
        wanted = {"running", *(("failed",) if retry_failed else ())}
        columns = ", ".join(("key", *_CLAIMED))
        with self.transaction():
            rows = {r["key"]: dict(r) for r in self.conn.execute(f"SELECT {columns} FROM runs")}
            if not steal:
                self._refuse_busy(rows.values())
            todo = [(k, s) for k, s in runs if k not in rows or rows[k]["status"] in wanted]
            self._mark(todo, self.client)
        self.claimed.update({k: rows.get(k) for k, _ in todo})
        return [k for k, _ in todo]

    def _refuse_busy(self, rows: Iterable[Mapping[str, Any]]) -> None:
        why = {
            "alive": "a live process on this host",
            "unknown": "which cannot be checked from here: another host, or a process of an "
            "older xpnet whose number is in use",
        }
        for row in rows:
            state = owner.state(row["client"]) if row["status"] == "running" else "dead"
            if state in why:
                raise CheckpointError(
                    f"{self.path} is in use by another sweep ({str(row['client'])[:60]}, "
                    f"{why[state]}); wait for it to finish, or if it no longer runs, take its "
                    "runs over with --steal (steal=True)."
                )

    def release(self) -> None:
        """Give back the runs claimed and not recorded, as they were before the claim.

        For a sweep that ends early (Ctrl-C, a closed pipe, a cluster that never
        started): a run new to the store is removed, an older one gets its status,
        error and attempts back. Rows another client has since taken are left alone.
        """
        if not self.claimed:
            return
        mine, me = "key = :key AND status = 'running' AND client = :me", self.client
        with self.transaction():
            for key, before in self.claimed.items():
                if before is None:
                    self.conn.execute(f"DELETE FROM runs WHERE {mine}", {"key": key, "me": me})
                else:
                    sets = ", ".join(f"{c} = :{c}" for c in _CLAIMED)
                    self.conn.execute(f"UPDATE runs SET {sets} WHERE {mine}", {**before, "me": me})
        self.claimed.clear()

    def record(self, key: str, result: dict[str, Any]) -> None:
        """Store one run's outcome (see :func:`xpnet.sweep.run.outcome`), in one transaction."""
        values = {name: result.get(name) for name in _RESULT_COLUMNS}
        for name in HISTORIES:
            values[name] = json.dumps(result.get(name) or [])
        values["finished"] = time.time()
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        with self.transaction():
            cursor = self.conn.execute(
                f"UPDATE runs SET {assignments} WHERE key = :key", {**values, "key": key}
            )
            if cursor.rowcount != 1:
                raise CheckpointError(f"{self.path}: run {key} was never marked running.")
        self.claimed.pop(key, None)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an error); SQLite's errors become OutputError."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn, self.path = conn, path

    def __enter__(self) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except SQLITE_ERRORS as exc:
            raise self._error(exc) from None

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is not None:
            with contextlib.suppress(*SQLITE_ERRORS):
                self.conn.execute("ROLLBACK")
            if issubclass(kind, SQLITE_ERRORS):
                raise self._error(value) from None
            return
        try:
            self.conn.execute("COMMIT")
        except SQLITE_ERRORS as exc:
            with contextlib.suppress(*SQLITE_ERRORS):
                self.conn.execute("ROLLBACK")
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> OutputError:
        return OutputError(
            f"{self.path}: cannot write to the sweep store ({exc}); what it held before is intact."
        )
