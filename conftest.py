"""Repository-wide pytest hooks: the reliability report."""

from __future__ import annotations

import datetime
import json
import os
import runpy
from pathlib import Path
from typing import Any

import pytest

# --- the reliability report -----------------------------------------------------------
# `pytest --reliability-report FILE` writes, per category of @pytest.mark.reliability
# tests, how many cases ran and how they ended; docs/reliability.md shows it (through
# scripts/reliability.py, which uses it only if its digest of the sources is this tree's).


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-report",
        default=None,
        metavar="FILE",
        help="write reliability counts as JSON",
    )


_outcomes: dict[str, dict[str, Any]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("reliability")
    if not item.config.getoption("--reliability-report") or marker is None:
        return
    if not (report.when == "call" or report.skipped):
        return
    category = _outcomes.setdefault(
        marker.args[0], {"passed": 0, "failed": 0, "skipped": 0, "tests": {}}
    )
    category[report.outcome] += 1
    doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()  # type: ignore[union-attr]
    name = item.originalname if isinstance(item, pytest.Function) else item.name
    entry = category["tests"].setdefault(
        name,
        {
            "file": item.path.name,
            "what": doc[0] if doc else "",
            "cases": 0,
            "passed": 0,
            "skipped": 0,
        },
    )
    entry["cases"] += 1
    entry["passed"] += report.outcome == "passed"
    entry["skipped"] += report.outcome == "skipped"
    if report.user_properties:
        entry["measured"] = dict(report.user_properties)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("--reliability-report")
    if not path or exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.USAGE_ERROR):
        return
    import xpnet

    option = session.config.option
    script = Path(__file__).parent / "scripts" / "reliability.py"
    report = {
        "backend": os.environ.get("XPNET_BACKEND") or "numpy",
        "device": os.environ.get("XPNET_DEVICE") or None,
        "date": datetime.date.today().isoformat(),
        "version": xpnet.__version__,
        "sources": runpy.run_path(str(script))["digest"](),
        # A run of the whole suite (no -k, no -m), with or without the independent tests.
        "complete": not (option.keyword or option.markexpr),
        "independent": os.environ.get("XPNET_RUN_INDEPENDENT", "1") not in ("0", "", "no"),
        "categories": _outcomes,
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report, indent=1))
