"""The API reference states what the code does: defaults from signatures, no group lines that lie.

The reference (docs/api.md, rendered by mkdocstrings) shows, for every
parameter, the type and default griffe reads from the numpydoc docstring
and the signature. A docstring line naming several parameters
(``a, b : type``) gives all of them the first one's default, so such a line
is allowed only where they share it. The built page is checked in
``tests/test_docs_browser.py`` (raw roles, defaults as shown).
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent

DOCS = Path(__file__).parents[1] / "docs"
ENTRY = re.compile(r"^(?P<names>[*\w]+(?:, [*\w]+)*)(?: :(?: (?P<type>.*))?)?$")


def _target(path: str) -> tuple[str, object]:
    """The module or object a ``::: path`` directive renders."""
    try:
        return path, importlib.import_module(path)
    except ImportError:
        module, _, name = path.rpartition(".")
        return module, getattr(importlib.import_module(module), name)


def documented() -> list[tuple[str, object]]:
    """Every public function, method and class the documentation renders (``:::`` blocks)."""
    found: dict[str, object] = {}
    pattern = re.compile(r"^::: (\S+)(?:\n    options:\n      members: \[(.*)\])?", re.M)
    for page in sorted(DOCS.glob("*.md")):
        for match in pattern.finditer(page.read_text()):
            where, target = _target(match.group(1))
            if not inspect.ismodule(target):
                found[match.group(1)] = target
                continue
            names = (
                [n.strip() for n in match.group(2).split(",")]
                if match.group(2)
                else getattr(target, "__all__", [])
            )
            for name in names:
                obj = getattr(target, name, None)
                if callable(obj):
                    found[f"{where}.{name}"] = obj
    for path, obj in list(found.items()):
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if callable(member) and not attr.startswith("_"):
                    found[f"{path}.{attr}"] = member
    return sorted(found.items())


SECTIONS = ("Parameters", "Attributes", "Other Parameters")


def section_lines(doc: str) -> list[str]:
    """The unindented lines of the Parameters and Attributes sections (each should be an entry)."""
    lines = inspect.cleandoc(doc).splitlines()
    found = []
    for i, line in enumerate(lines):
        if line in SECTIONS and i + 1 < len(lines) and set(lines[i + 1]) == {"-"}:
            for entry, underline in zip(lines[i + 2 :], [*lines[i + 3 :], ""], strict=True):
                if entry and set(underline) == {"-"}:
                    break  # the next section
                if entry and not entry.startswith(" "):
                    found.append(entry)
    return found


def parameter_entries(doc: str) -> list[tuple[list[str], str]]:
    """(names, type) of each entry of the numpydoc Parameters and Attributes sections."""
    entries = []
    for line in section_lines(doc):
        match = ENTRY.match(line)
        if match:
            entries.append((match.group("names").split(", "), match.group("type") or ""))
    return entries


@pytest.mark.parametrize(
    ("path", "obj"), documented(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_grouped_parameters_share_their_default(path, obj) -> None:
    try:
        signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    except (TypeError, ValueError):
        return
    for names, kind in parameter_entries(obj.__doc__ or ""):
        assert not re.match(r"see\b", kind.strip(), re.I), f"{path}: `{', '.join(names)} : {kind}`"
        known = [n.lstrip("*") for n in names if n.lstrip("*") in signature.parameters]
        defaults = {repr(signature.parameters[n].default) for n in known}
        assert len(defaults) <= 1, (
            f"{path}: `{', '.join(names)}` are documented together but have the defaults "
            f"{sorted(defaults)}: the reference would show the first for all; give each its line"
        )
        choices = re.match(r"\{(.*)\}", kind.strip())
        if choices and len(known) == 1:  # griffe shows the first choice as the default
            default = signature.parameters[known[0]].default
            first = choices.group(1).split(",")[0].strip().strip("'\"")
            assert default is inspect.Parameter.empty or str(default) == first, (
                f"{path}: `{known[0]} : {kind}` would show default {first}; the signature's is "
                f"{default!r}: write the type and list the choices in the description"
            )


@pytest.mark.parametrize(
    ("path", "obj"), documented(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_sections_hold_only_entries(path, obj) -> None:
    """A paragraph inside Parameters or Attributes would be shown as rows of the table."""
    bad = [line for line in section_lines(obj.__doc__ or "") if not ENTRY.match(line)]
    assert not bad, f"{path}: not an entry, but inside a Parameters/Attributes section: {bad[0]!r}"
