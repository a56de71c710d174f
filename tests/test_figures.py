"""Every figure `xpnet plot` can draw fits its titles, labels and legends inside the image.

The figures are taken from the CLI's own list of choices, so a figure added to
`xpnet plot` is checked here without editing this file; one that needs input
files gets them from `INPUTS`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from xpnet import plot
from xpnet.cli import main
from xpnet.cli._parser import build_parser

pytest.importorskip("matplotlib")

HISTORY = {
    "train_loss": [2.3, 1.2, 0.7, 0.5, 0.4],
    "eval_iters": [0, 2, 4],
    "train_acc": [0.1, 0.8, 0.9],
    "test_acc": [0.1, 0.7, 0.85],
    "seconds": 1.0,
}


def _curves_inputs(tmp_path: Path) -> list[str]:
    (tmp_path / "summary.json").write_text(json.dumps({"history": HISTORY}))
    return ["--json", str(tmp_path / "summary.json")]


def _compare_inputs(tmp_path: Path) -> list[str]:
    paths = []
    for name, lr in (("sgd", 0.1), ("adam", 0.001)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"optimizer": name, "lr": lr, "history": HISTORY}))
        paths.append(str(path))
    return ["--json", *paths]


def _sweep_inputs(tmp_path: Path) -> list[str]:
    """A store of four real runs on a small problem: two learning rates by two widths."""
    import numpy as np

    from xpnet.sweep import sweep

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=90)
    x = (rng.normal(0.0, 0.6, size=(90, 6)) + np.eye(3, 6)[labels]).astype(np.float32)
    store = tmp_path / "sweep.db"
    sweep({"lr": [0.1, 1.0], "hidden": [4, 8]}, train_data=(x, labels), store=store,
          client="serial", verbose=0, backend="numpy", iters=20, batch_size=10)  # fmt: skip
    return ["--store", str(store)]


def _conv_inputs(tmp_path: Path) -> list[str]:
    """A convolutional network (untrained: the figures' layout is what is checked)."""
    from xpnet import SimpleConvNet

    SimpleConvNet(seed=1, backend="numpy").save(tmp_path / "conv.npz")
    return ["--checkpoint", str(tmp_path / "conv.npz")]


def _misclassified_inputs(tmp_path: Path) -> list[str]:
    import os

    folder = os.environ.get("XPNET_DATA") or str(Path(__file__).parents[1] / "../shared/data/mnist")
    if not (Path(folder) / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("real MNIST not found: set XPNET_DATA")
    return [*_conv_inputs(tmp_path), "--data-dir", folder]


# Options (beyond --out) for figures that cannot be drawn without input files.
INPUTS: dict[str, Any] = {
    "curves": _curves_inputs,
    "compare": _compare_inputs,
    "sweep": _sweep_inputs,
    "filters": _conv_inputs,
    "misclassified": _misclassified_inputs,
}


def plot_figures() -> list[str]:
    """The figure names `xpnet plot` accepts, read from its parser."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    figure = next(a for a in commands.choices["plot"]._actions if a.dest == "figure")
    return list(figure.choices)


def text_outside(fig: Any) -> list[str]:
    """Each drawn text, and each legend, whose window extent leaves the figure.

    Call it on a figure not drawn before: the first draw is what a saved file
    shows (constrained layout can settle differently on later draws).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.legend import Legend

    renderer = FigureCanvasAgg(fig).get_renderer()
    drawn = []
    draw_text = renderer.draw_text

    def record(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        drawn.append(mtext)
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record  # sees only what is drawn: no tick labels beyond the limits
    fig.draw(renderer)
    assert drawn, "the figure drew no text at all"
    box = fig.bbox
    outside = []
    for artist in [*drawn, *fig.findobj(Legend)]:
        e = artist.get_window_extent(renderer)
        if e.x0 < box.x0 - 0.5 or e.y0 < box.y0 - 0.5 or e.x1 > box.x1 + 0.5 or e.y1 > box.y1 + 0.5:
            what = artist.get_text() if hasattr(artist, "get_text") else type(artist).__name__
            outside.append(f"{what!r} at x {e.x0:.0f}..{e.x1:.0f}, y {e.y0:.0f}..{e.y1:.0f}")
    return outside


@pytest.mark.backend_independent
def test_the_cli_offers_the_chapter_figures() -> None:
    assert {"gradient-field", "descent-path", "curves"} <= set(plot_figures())


@pytest.mark.parametrize("figure", plot_figures())
def test_every_cli_figure_fits_its_text(figure, backend, tmp_path, monkeypatch, capsys) -> None:
    """At its default size, no title, label, tick label or legend leaves the image."""
    saved = []
    monkeypatch.setattr(plot, "save_figure", lambda fig, path: saved.append(fig))
    extra = INPUTS[figure](tmp_path) if figure in INPUTS else []
    status = main(["plot", figure, "--out", str(tmp_path / "figure.png"), *extra])
    err = capsys.readouterr().err
    assert status == 0, (
        f"`xpnet plot {figure}` failed ({err.strip()}); if it needs input files, "
        "add them to INPUTS in tests/test_figures.py"
    )
    assert len(saved) == 1, f"`xpnet plot {figure}` did not save through xpnet.plot.save_figure"
    assert text_outside(saved[0]) == []


@pytest.mark.backend_independent
def test_the_check_sees_a_title_cut_off() -> None:
    """The check itself fails on a figure without a layout whose title is pushed out."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.set_title("a title too long to fit in a figure three inches wide", pad=40)
    ax.legend(handles=ax.plot([0, 1], label="line"), loc="upper left", bbox_to_anchor=(1.0, 1.0))
    outside = text_outside(fig)
    assert any("a title too long" in line for line in outside)
    assert any(line.startswith("'Legend'") for line in outside)


def drawn_font_sizes(fig: Any) -> list[tuple[float, str]]:
    """(font size in points, text) of every text the first draw of `fig` shows."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    sizes = []
    draw_text = renderer.draw_text

    def record(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        sizes.append((prop.get_size_in_points(), s))
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record
    fig.draw(renderer)
    return sizes


@pytest.mark.parametrize("figure", plot_figures())
def test_every_cli_figure_is_readable_at_page_width(figure, backend, tmp_path, monkeypatch) -> None:
    """Shown no wider than a page (PAGE_WIDTH inches at 72 dpi), no text is under 9 px."""
    from xpnet.plot._figure import PAGE_WIDTH

    saved = []
    monkeypatch.setattr(plot, "save_figure", lambda fig, path: saved.append(fig))
    extra = INPUTS[figure](tmp_path) if figure in INPUTS else []
    assert main(["plot", figure, "--out", str(tmp_path / "figure.png"), *extra]) == 0
    fig = saved[0]
    scale = min(1.0, PAGE_WIDTH / fig.get_figwidth())
    small = [(round(size * scale, 1), text) for size, text in drawn_font_sizes(fig)]
    small = [item for item in small if item[0] < 9]
    assert not small, f"`xpnet plot {figure}`: text under 9 px at page width: {small[:5]}"
