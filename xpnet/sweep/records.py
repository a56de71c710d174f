"""One run as the sweep store holds it, checked as it is read.

A store is a file like any other: edited by hand, written by another
program, or damaged. Each row is checked column by column before anything
uses it, as the checkpoint reader checks arrays against their declared
shapes: settings that are not a JSON object, a loss history whose bytes are
not float64 values, accuracies that are text or outside [0, 1], histories of
different lengths. A row that fails is a :class:`~xpnet.errors.CheckpointError`
naming the store, the run and the column, in one line.

Examples
--------
>>> row = {"key": "k1", "settings": '{"lr": 0.1}', "status": "done", "final_test_acc": 0.9}
>>> RunRecord.from_row(row, "s.db").final_test_acc
0.9
>>> RunRecord.from_row({**row, "final_test_acc": "5"}, "s.db")
Traceback (most recent call last):
...
xpnet.errors.CheckpointError: s.db: run 'k1': `final_test_acc` is '5' (str), not a number; \
the store was not written by xpnet, or was damaged.
"""

from __future__ import annotations

import json
import math
import os
from array import array
from dataclasses import dataclass, field
from typing import Any

from ..errors import CheckpointError

__all__ = ["ACCURACIES", "COLUMNS", "HISTORIES", "STATUSES", "RunRecord"]

STATUSES = ("running", "done", "failed")
HISTORIES = ("eval_iters", "train_acc", "val_acc", "test_acc")
ACCURACIES = ("train_acc", "val_acc", "test_acc", "final_train_acc", "final_val_acc",
              "final_test_acc")  # fmt: skip
_NUMBERS = ("final_loss", "seconds", "wall_seconds", "started", "finished")
_TEXTS = ("worker", "backend", "device", "error")
#: Every column of the ``runs`` table, as xpnet writes it.
COLUMNS = ("key", "settings", "status", "client", *_TEXTS, *HISTORIES, "train_loss",
           *ACCURACIES[3:], *_NUMBERS, "attempts")  # fmt: skip


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
    def from_row(cls, row: Any, store: str | os.PathLike[str]) -> RunRecord:
        """The record of `row` (an ``sqlite3.Row`` or a dict) of `store`, every column checked.

        Raises
        ------
        CheckpointError
            Naming the store, the run and the column that is not what xpnet writes.
        """
        values = {name: row[name] for name in row.keys() if name != "client"}  # noqa: SIM118
        key = values.get("key")
        if not isinstance(key, str):
            raise _bad(store, key, "key", f"is {_shown(key)}, not text")
        check = _Checker(store, key)
        values["settings"] = check.settings(values.get("settings"))
        if values.get("status") not in STATUSES:
            raise _bad(store, key, "status", f"is {_shown(values.get('status'))}")
        for name in HISTORIES:
            values[name] = check.history(name, values.get(name))
        values["train_loss"] = check.losses(values.get("train_loss"))
        for name in (*ACCURACIES[3:], *_NUMBERS):
            values[name] = check.number(name, values.get(name), accuracy=name in ACCURACIES)
        for name in _TEXTS:
            if values.get(name) is not None and not isinstance(values[name], str):
                raise _bad(store, key, name, f"is {_shown(values[name])}, not text")
        attempts = values.get("attempts", 0)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise _bad(store, key, "attempts", f"is {_shown(attempts)}, not a count")
        lengths = {len(values[n]) for n in HISTORIES[1:] if values[n]}
        if lengths - {len(values["eval_iters"])}:
            raise _bad(store, key, "train_acc", "and the other histories differ in length")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-able values (``xpnet sweep --json``)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{text[:40]}… ({type(value).__name__})" if len(text) > 40 else (
        f"{text} ({type(value).__name__})")  # fmt: skip


def _bad(store: Any, key: Any, column: str, problem: str) -> CheckpointError:
    return CheckpointError(
        f"{os.fspath(store)}: run {str(key)[:40]!r}: `{column}` {problem}; the store was not "
        "written by xpnet, or was damaged."
    )


class _Checker:
    """The column checks of one row."""

    def __init__(self, store: Any, key: str) -> None:
        self.store, self.key = store, key

    def _bad(self, column: str, problem: str) -> CheckpointError:
        return _bad(self.store, self.key, column, problem)

    def _json(self, column: str, text: Any) -> Any:
        if not isinstance(text, str):
            raise self._bad(column, f"is {_shown(text)}, not JSON text")
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            reason = (str(exc) or type(exc).__name__).splitlines()[0][:80]
            raise self._bad(column, f"is not JSON ({reason})") from None

    def settings(self, text: Any) -> dict[str, Any]:
        value = self._json("settings", text)
        if not isinstance(value, dict):
            raise self._bad("settings", f"is {_shown(value)}, not a JSON object")
        return value

    def history(self, column: str, text: Any) -> list[Any]:
        if text is None or text == "":
            return []
        value = self._json(column, text)
        if not isinstance(value, list):
            raise self._bad(column, f"is {_shown(value)}, not a list")
        for item in value:
            if column == "eval_iters":
                ok = isinstance(item, int) and not isinstance(item, bool) and item >= 0
            else:
                ok = _number(item) and 0.0 <= item <= 1.0
            if not ok:
                what = "iterations" if column == "eval_iters" else "accuracies in [0, 1]"
                raise self._bad(column, f"holds {_shown(item)}, not {what}")
        return value

    def losses(self, raw: Any) -> list[float]:
        if raw is None or raw == b"":
            return []
        if not isinstance(raw, bytes):
            raise self._bad("train_loss", f"is {_shown(raw)}, not float64 bytes")
        if len(raw) % 8:
            raise self._bad("train_loss", f"holds {len(raw)} bytes, not float64 values")
        return array("d", raw).tolist()

    def number(self, column: str, value: Any, *, accuracy: bool) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(column, f"is {_shown(value)}, not a number")
        if accuracy and not (_number(value) and 0.0 <= value <= 1.0):
            raise self._bad(column, f"is {value!r}, not an accuracy in [0, 1]")
        return float(value)


def _number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
