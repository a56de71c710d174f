"""A griffe extension for the API reference: Sphinx roles in docstrings become links.

xpnet's docstrings are numpydoc, read in a terminal as well as on the site,
and name other objects with Sphinx roles (:class:`TrainConfig`,
:func:`~xpnet.train`). mkdocstrings does not render roles; this extension
turns each into an optional cross-reference: a link where the object is
documented on the site, its name in code font where it is not. Unqualified
names are resolved from the scope of the docstring's object.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):`(~?)([^`<>]+)`")


def _identifier(obj: Any, name: str) -> str:
    """The full path of `name` as seen from `obj`, or `name` itself."""
    name = name.lstrip(".")
    for scope in (obj, getattr(obj, "parent", None), getattr(obj, "module", None)):
        if scope is None:
            continue
        try:
            return str(scope.resolve(name))
        except Exception:  # not resolvable from there (an external name, a typo)
            continue
    return name


def convert(obj: Any, text: str) -> str:
    """`text` with every role replaced by an optional cross-reference."""

    def replace(match: re.Match[str]) -> str:
        short, name = match.group(1), match.group(2).strip()
        title = name.rsplit(".", 1)[-1] if short else name.lstrip(".")
        identifier = _identifier(obj, name)
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'

    return ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrite the roles of every docstring of a loaded package."""

    def _walk(self, obj: Any, seen: set[int]) -> None:
        if id(obj) in seen or getattr(obj, "is_alias", False):
            return
        seen.add(id(obj))
        if obj.docstring is not None:
            obj.docstring.value = convert(obj, obj.docstring.value)
        for member in obj.members.values():
            self._walk(member, seen)

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        self._walk(pkg, set())

    on_package_loaded = on_package  # griffe's earlier name of the hook
