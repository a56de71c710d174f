"""The documentation cannot state a wrong number.

Every figure in the prose of the docs and the README (an accuracy, a time,
a ratio, a size, a percentage) either comes from a code block that runs when
the site is built, or carries a marker naming where it was measured:

    1.10x<!-- figure: 2026-11-29-compile-cpu.json#ratios.wall.xpnet numpy / numpy loop.median|{:.2f}x -->

that is a file of ``benchmarks/results/`` (or ``benchmarks/results/runs/``),
a path of keys into its JSON (separated by dots; an integer picks a list
item; ``min``, ``max`` or ``median`` of a list), and the format of the
number as written (``{:.4f}``; ``{:.0f} s``; ``/60`` or ``*100`` before
``|`` scales it). This test recomputes every marked figure from its source
and fails when the page says another number, or when a figure has no marker.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

MARKER = re.compile(
    r"(?P<shown>[-+]?[\d.,]+(?:\s?[^\s<]*)?)<!-- figure: (?P<source>[^#]+)#(?P<path>[^|]+)\|(?P<format>.+?) -->"
)
#: What looks like a measured figure: accuracies, ratios, times, sizes, percentages
#: (a bound, "within 10 minutes", "under 10 MB", is a promise the tests keep, not a measurement).
FIGURE = re.compile(
    r"(?<!within )(?<!under )(?<!at most )(?<!up to )(?<![\w.$/-])(?:0\.\d{3,}|\d+(?:\.\d+)?x(?!\w)|\d+(?:\.\d+)?\s?(?:ms|s|min|minutes|seconds|hours|MB|GB|KB)(?!\w)|\d+(?:\.\d+)?\s?%)"
)


def prose(text: str) -> str:
    """`text` without code blocks, inline code, maths and HTML comments."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    text = re.sub(r"`[^`]+`", "", text)  # inline code, also across a line break
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$", "", text, flags=re.S)
    return re.sub(r"<!--.*?-->", "", text, flags=re.S)


def lookup(source: str, path: str) -> float:
    folder = RESULTS / "runs" if (RESULTS / "runs" / source).exists() else RESULTS
    value = json.loads((folder / source).read_text())
    summaries = {"min": min, "max": max, "median": statistics.median}
    for key in path.split("."):
        if isinstance(value, list):
            value = summaries[key](value) if key in summaries else value[int(key)]
        else:
            value = value[key]
    return float(value)


def render(value: float, spec: str) -> str:
    scale = re.match(r"^([*/])([\d.]+):(.*)$", spec)
    if scale:
        factor = float(scale.group(2))
        value = value * factor if scale.group(1) == "*" else value / factor
        spec = scale.group(3)
    return spec.format(value)


def markers() -> list[tuple[str, re.Match[str]]]:
    return [(page.name, m) for page in PAGES for m in MARKER.finditer(page.read_text())]


@pytest.mark.parametrize(
    ("page", "match"), markers(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_marked_figure_is_its_source(page, match) -> None:
    expected = render(lookup(match["source"], match["path"]), match["format"])
    assert match["shown"].strip().endswith(expected), (
        f"{page}: says {match['shown'].strip()!r}, {match['source']} gives {expected!r}"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_figure_has_a_source(page) -> None:
    text = MARKER.sub("", page.read_text())  # marked figures are checked above
    unsourced = [line.strip()[:100] for line in prose(text).splitlines() if FIGURE.search(line)]
    assert not unsourced, (
        f"{page.name}: figures with no source (compute them in a code block that runs when the "
        f"site is built, or mark them <!-- figure: FILE#KEYS|FORMAT -->): {unsourced}"
    )
