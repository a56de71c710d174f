"""What every figure shares: a matplotlib Figure without pyplot, its format, its saving."""

from __future__ import annotations

import base64
import io
import os
import sys
import tempfile
from typing import Any

from .._io import atomic_write
from ..errors import NotInstalledError, XpnetValueError

__all__ = ["PAGE_WIDTH", "check_format", "new_figure", "save_figure", "show"]

#: Inches a figure may be wide and still be shown at its size on a page (the
#: docs' column, at 72 dpi): wider ones are scaled down, and their text with them.
PAGE_WIDTH = 10.0


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


def show(fig: Any) -> None:
    """Show a figure of :mod:`xpnet.plot` where the code runs.

    In a Jupyter notebook the figure appears below the cell; with a display,
    in a matplotlib window; without one, it is saved as a PNG file whose
    path is printed. ``XPNET_SHOW=html`` prints it as an HTML ``<img>``, with
    the calling code's ``print`` (how the documentation's pages embed their
    figures).

    Examples
    --------
    >>> from xpnet import plot
    >>> plot.show(plot.optimizer_paths())  # doctest: +SKIP
    """
    if os.environ.get("XPNET_SHOW") == "html":
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=72)
        data = base64.b64encode(buffer.getvalue()).decode()
        # The caller's own `print`: the docs' code runner gives each block one that
        # writes into the page (it does not redirect sys.stdout).
        out = sys._getframe(1).f_globals.get("print", print)
        out(f'<img alt="figure" src="data:image/png;base64,{data}">')
        return
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from IPython.display import display

        display(fig)
        return
    import matplotlib
    import matplotlib.pyplot as plt

    if matplotlib.get_backend().lower() in ("agg", "pdf", "ps", "svg", "cairo", "template"):
        with tempfile.NamedTemporaryFile(suffix=".png", prefix="xpnet-", delete=False) as file:
            fig.savefig(file, format="png", dpi=100)
        print(f"no display: the figure is in {file.name}")
        return
    manager: Any = plt.figure().canvas.manager  # a window, given this figure to draw
    manager.canvas.figure = fig
    fig.set_canvas(manager.canvas)
    plt.show()
