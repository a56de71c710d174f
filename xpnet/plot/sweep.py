"""A sweep's accuracy, as a heat map over two settings or a line over one."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import XpnetValueError
from ._figure import new_figure

__all__ = ["sweep_accuracy"]


def _sweep_axis(values: list[Any]) -> tuple[list[Any], bool]:
    """Distinct values of a setting, sorted, and whether they are numbers on a log scale."""
    from ..sweep.report import format_value

    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not numeric:
        return sorted(set(map(format_value, values))), False
    distinct = sorted(set(values))
    return distinct, min(distinct) > 0 and max(distinct) >= 100 * min(distinct)


def _sweep_heat_map(fig: Any, done: list[Any], names: list[str], key: str, label: str) -> None:
    from ..sweep.report import format_value

    rows, _ = _sweep_axis([r.settings.get(names[0]) for r in done])
    cols, _ = _sweep_axis([r.settings.get(names[1]) for r in done])
    sums, counts = np.zeros((len(rows), len(cols))), np.zeros((len(rows), len(cols)))
    for r in done:
        i = [format_value(v) for v in rows].index(format_value(r.settings.get(names[0])))
        j = [format_value(v) for v in cols].index(format_value(r.settings.get(names[1])))
        sums[i, j] += getattr(r, key)
        counts[i, j] += 1
    mean = np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)
    ax = fig.subplots()
    image = ax.imshow(mean, cmap="viridis", origin="lower", aspect="auto")
    fig.colorbar(image, ax=ax, label=label)
    middle = np.nanmean(mean)
    for (i, j), value in np.ndenumerate(mean):
        text = "failed" if np.isnan(value) else f"{value:.3f}"
        color = "black" if value > middle else "white"  # readable on viridis' yellows
        ax.text(j, i, text, ha="center", va="center", color=color, fontsize=9)
    ax.set_xticks(range(len(cols)), [format_value(v) for v in cols])
    ax.set_yticks(range(len(rows)), [format_value(v) for v in rows])
    ax.set(xlabel=names[1], ylabel=names[0], title=f"{label} (mean over other settings)")


def sweep_accuracy(runs: Any) -> Any:
    """Accuracy against each swept setting; a heat map when exactly two settings form a grid.

    Runs are scored on validation accuracy when they have it, else test, else
    training accuracy. Failed runs (diverged) are drawn as red crosses at 0.

    Parameters
    ----------
    runs : path or list of RunRecord
        A store written by :func:`xpnet.sweep.sweep` (``xpnet sweep``), or its runs.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..sweep import read_runs
    from ..sweep.report import axes, format_value, metric

    records = read_runs(runs) if isinstance(runs, str | os.PathLike) else list(runs)
    done = [r for r in records if r.status == "done"]
    failed = [r for r in records if r.status == "failed"]
    names = axes(records)
    if not done or not names:
        raise XpnetValueError(
            "`runs`: a sweep figure needs finished runs whose settings differ. Received: "
            f"{len(done)} finished runs, varying settings {names}."
        )
    label = metric(done).replace("_acc", " accuracy")
    key = f"final_{metric(done)}"
    grid = [len(_sweep_axis([r.settings.get(n) for r in done])[0]) for n in names]
    if len(names) == 2 and max(grid) <= 12:
        fig = new_figure(figsize=(7, 5), layout="constrained")
        _sweep_heat_map(fig, done, names, key, label)
        return fig
    fig = new_figure(figsize=(4.5 * len(names), 4), layout="constrained")
    for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
        values, log = _sweep_axis([r.settings.get(name) for r in done + failed])
        numeric = not values or not isinstance(values[0], str)

        def position(value: Any, values: list[Any] = values, numeric: bool = numeric) -> Any:
            return value if numeric else values.index(format_value(value))

        ax.scatter([position(r.settings.get(name)) for r in done],
                   [getattr(r, key) for r in done], alpha=0.7)  # fmt: skip
        if failed:
            ax.scatter([position(r.settings.get(name)) for r in failed], [0.0] * len(failed),
                       marker="x", color="red", label="failed")  # fmt: skip
            ax.legend(loc="lower right")
        if log:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(values)), values)
        ax.set(xlabel=name, ylabel=label, ylim=(-0.05, 1.0))
    return fig
