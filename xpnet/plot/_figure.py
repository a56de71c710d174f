"""What every figure shares: a matplotlib Figure without pyplot, its format, its saving."""

from __future__ import annotations

import os
from typing import Any

from .._io import atomic_write
from ..errors import NotInstalledError, XpnetValueError

__all__ = ["check_format", "new_figure", "save_figure"]


def new_figure(**kwargs: Any) -> Any:
    # Constrained layout keeps titles, labels and legends inside the figure;
    # figures of fixed-aspect panels ask for "compressed" instead.
    kwargs.setdefault("layout", "constrained")
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise NotInstalledError(
            f"Plotting needs matplotlib, which is not installed ({exc}). "
            "Install it with: pip install 'xpnet[plot]'"
        ) from exc
    return Figure(**kwargs)


def check_format(path: str | os.PathLike[str], name: str = "path") -> str:
    """The figure format named by `path`'s suffix, or an error listing those matplotlib writes.

    Also fails, with the install hint, when matplotlib is missing: call it
    before a long computation whose figure would otherwise be lost.
    """
    supported = new_figure().canvas.get_supported_filetypes()
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower() if "." in os.fspath(path) else ""
    if suffix not in supported:
        raise XpnetValueError(
            f"`{name}`: cannot tell the figure format from {os.fspath(path)!r}. "
            f"End the name with one of: {', '.join('.' + s for s in sorted(supported))}."
        )
    return suffix


def save_figure(fig: Any, path: str | os.PathLike[str]) -> None:
    """Write `fig` to `path` (format from the suffix), atomically."""
    suffix = check_format(path)
    atomic_write(path, lambda f: fig.savefig(f, format=suffix, dpi=100))
