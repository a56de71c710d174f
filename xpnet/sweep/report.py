"""Reading a sweep: which settings varied, which runs were best, as a table.

Runs are ranked by validation accuracy when they have one, else by test
accuracy, else by training accuracy (chapter 6: choose hyper-parameters on
validation data, never on the test set).

Examples
--------
>>> from xpnet.sweep.store import RunRecord
>>> runs = [RunRecord("a", {"lr": 0.1, "seed": 0}, "done", final_test_acc=0.9, seconds=1.0),
...         RunRecord("b", {"lr": 1.0, "seed": 0}, "done", final_test_acc=0.95, seconds=1.0)]
>>> metric(runs), [r.key for r in rank(runs)], axes(runs)
('test_acc', ['b', 'a'], ['lr'])
>>> print(table(runs))
rank  lr   test_acc  train_acc  seconds
   1  1    0.9500    -              1.0
   2  0.1  0.9000    -              1.0
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .store import RunRecord

__all__ = ["axes", "format_value", "metric", "rank", "table"]

METRICS = ("val_acc", "test_acc", "train_acc")


def metric(runs: Sequence[RunRecord]) -> str:
    """The accuracy runs are ranked by: ``val_acc`` if any run has it, else ``test_acc``…"""
    for name in METRICS:
        if any(getattr(r, f"final_{name}") is not None for r in runs if r.status == "done"):
            return name
    return "train_acc"


def rank(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The finished runs, best first by :func:`metric` (runs without it last)."""
    name = f"final_{metric(runs)}"
    done = [r for r in runs if r.status == "done"]
    return sorted(done, key=lambda r: -1.0 if getattr(r, name) is None else -getattr(r, name))


def axes(runs: Sequence[RunRecord]) -> list[str]:
    """The settings whose values differ between `runs`, in the order they first appear."""
    seen: dict[str, set[str]] = {}
    for r in runs:
        for name, value in r.settings.items():
            seen.setdefault(name, set()).add(json.dumps(value, sort_keys=True))
    names = [n for n, values in seen.items() if len(values) > 1]
    missing = [n for n in seen if any(n not in r.settings for r in runs) and n not in names]
    return names + missing


def format_value(value: Any) -> str:
    """A setting as the tables show it: 3 significant digits for floats, lists joined by x."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "x".join(format_value(v) for v in value)
    return "-" if value is None else str(value)


def _accuracy(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def table(runs: Sequence[RunRecord], top: int | None = None) -> str:
    """The best `top` finished runs (all if None) as a text table: varying settings, accuracies."""
    names = axes(runs)
    ranked = rank(runs)[:top]
    accs = [m for m in METRICS if m != "train_acc" and any(
        getattr(r, f"final_{m}") is not None for r in ranked)] + ["train_acc"]  # fmt: skip
    header = ["rank", *names, *accs, "seconds"]
    rows = [
        [
            str(i),
            *(format_value(r.settings.get(n)) for n in names),
            *(_accuracy(getattr(r, f"final_{m}")) for m in accs),
            "-" if r.seconds is None else f"{r.seconds:.1f}",
        ]
        for i, r in enumerate(ranked, 1)
    ]
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    right = {0, len(header) - 1}
    lines = [
        "  ".join(
            cell.rjust(w) if c in right else cell.ljust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)
