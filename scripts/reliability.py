"""The reliability page's tables, from the counts a test session wrote.

`pytest --reliability-report=FILE` (nox's tests-numpy and tests-array_api_strict
sessions write ``build/reliability-<backend>.json``) counts, per category, the
tests marked ``@pytest.mark.reliability`` and how they ended, and records a
digest of the sources it ran (:func:`digest`). ``docs/reliability.md`` prints
:func:`render`: the tables of the reports in ``build/`` when they were written
from this very tree, else the recorded ones in ``benchmarks/results/``, saying
so. The docs build runs no test itself.

Usage: ``python scripts/reliability.py`` prints the page's tables;
``python scripts/reliability.py --record`` copies the current reports (which must
match this tree and have no failure) to ``benchmarks/results/`` as the record.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("numpy", "array_api_strict")
#: What the counts depend on: a report of other sources describes other tests.
SOURCES = ("conftest.py", "pyproject.toml", "tests", "xpnet")
RECORD = ROOT / "benchmarks" / "results" / "reliability"


def digest(root: Path = ROOT) -> str:
    """SHA-256 of the Python sources of the tests and the package (and pytest's settings)."""
    h = hashlib.sha256()
    for name in SOURCES:
        top = root / name
        files = [top] if top.is_file() else sorted(top.rglob("*.py"))
        for path in files:
            if "__pycache__" in path.parts:
                continue
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _current(backend: str) -> dict | None:
    """build/reliability-<backend>.json if a complete run of this tree wrote it."""
    path = ROOT / "build" / f"reliability-{backend}.json"
    if not path.exists():
        return None
    report = json.loads(path.read_text())
    return report if report.get("complete") and report.get("sources") == digest() else None


def _recorded(backend: str) -> dict | None:
    path = RECORD / f"{backend}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _tables(report: dict) -> list[str]:
    lines = [
        "| category | tests | cases run | passed | failed | skipped |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    categories = sorted(report["categories"].items())
    for category, c in categories:
        cases = c["passed"] + c["failed"] + c["skipped"]
        lines.append(
            f"| {category} | {len(c['tests'])} | {cases} | {c['passed']} | {c['failed']} "
            f"| {c['skipped']} |"
        )
    lines.append("")
    for category, c in categories:
        lines += [f'??? note "{category}: the tests"', ""]
        for name, t in sorted(c["tests"].items()):
            measured = "; ".join(f"{k}: {v}" for k, v in t.get("measured", {}).items())
            what = t["what"] or name.removeprefix("test_").replace("_", " ")
            extra = f" ({measured})" if measured else ""
            skipped = f", {t['skipped']} skipped here" if t.get("skipped") else ""
            lines.append(
                f"    * `{t['file']}::{name}`: {what}; {t['passed']}/{t['cases']} passed"
                f"{skipped}{extra}"
            )
        lines.append("")
    return lines


def _scope(report: dict) -> str:
    if report.get("independent", True):
        return "every reliability test, the backend-independent ones included"
    return "the backend-dependent reliability tests (the others run in the NumPy session)"


def render() -> str:
    """The page's tables: this tree's counts where a test run wrote them, else the record."""
    out = []
    for backend in BACKENDS:
        report, source = _current(backend), "this tree's test run"
        if report is None:
            report, source = _recorded(backend), "record"
        if report is None:
            out += [
                f"## {backend}",
                "",
                f'!!! warning "No counts for {backend}"',
                "",
                f"    Neither `build/reliability-{backend}.json` from a test run of this tree "
                f"nor a record in `benchmarks/results/reliability/`: run `nox -s "
                f"tests-{backend}` before `nox -s docs`.",
                "",
            ]
            continue
        failed = sum(c["failed"] for c in report["categories"].values())
        if failed and source != "record":
            raise RuntimeError(f"{failed} reliability test(s) failed on {backend}: see its run")
        out += [f"## {backend} ({report['date']})", ""]
        if source == "record":
            out += [
                '!!! warning "Recorded counts, not this build\'s"',
                "",
                f"    No test run of this tree left `build/reliability-{backend}.json`, so these "
                f"are the counts recorded on {report['date']} (xpnet "
                f"{report.get('version', '?')}); the tests may have changed since. `nox` runs "
                "the test sessions before the docs and shows this tree's own counts.",
                "",
            ]
        out += [f"Counted in {source}: {_scope(report)}.", ""]
        out += _tables(report)
    return "\n".join(out)


def record() -> None:
    """Copy this tree's reports (complete, no failure) to benchmarks/results/reliability/."""
    RECORD.mkdir(parents=True, exist_ok=True)
    copied = []
    for backend in BACKENDS:
        report = _current(backend)
        if report is None:
            print(f"no complete report of this tree for {backend} (nox -s tests-{backend})")
            continue
        if any(c["failed"] for c in report["categories"].values()):
            sys.exit(f"the report for {backend} has failures")
        shutil.copyfile(ROOT / "build" / f"reliability-{backend}.json", RECORD / f"{backend}.json")
        copied.append(backend)
    if not copied:
        sys.exit("nothing recorded")


if __name__ == "__main__":
    record() if sys.argv[1:] == ["--record"] else print(render())
