"""Figures: each renders to a valid PNG of plausible size, from Python and the CLI."""

from __future__ import annotations

import json
import struct
import sys

import pytest

import xpnet
from xpnet import plot
from xpnet.cli import main

pytest.importorskip("matplotlib")


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_gradient_field_and_descent_path(backend, tmp_path) -> None:
    plot.save_figure(plot.gradient_field(backend=backend), tmp_path / "field.png")
    plot.save_figure(plot.descent_path(backend=backend), tmp_path / "path.png")
    assert png_size(tmp_path / "field.png") == (600, 600)
    width, height = png_size(tmp_path / "path.png")
    assert (width, height) == (1000, 373)  # three panels side by side, a page wide
    assert (tmp_path / "field.png").stat().st_size > 20_000


def test_learning_curves_from_a_training_run(backend, tmp_path) -> None:
    x = xpnet.asarray([[0.0, 1.0], [1.0, 0.0]] * 10, dtype="float32")
    t = xpnet.asarray([1, 0] * 10, dtype=xpnet.backend.index_dtype(backend.xp, backend.device))
    net = xpnet.TwoLayerNet(2, 3, 2, seed=0)
    history = xpnet.train(net, (x, t), (x, t), iters=30, batch_size=5, lr=1.0, seed=0, verbose=0)
    plot.save_figure(plot.learning_curves(history), tmp_path / "curves.png")
    assert png_size(tmp_path / "curves.png") == (1000, 400)


@pytest.mark.usefixtures("backend")  # the gradient field is computed on the current backend
def test_cli_plots(tmp_path, capsys) -> None:
    for figure in ("gradient-field", "descent-path"):
        assert main(["plot", figure, "--out", str(tmp_path / f"{figure}.png")]) == 0
        assert png_size(tmp_path / f"{figure}.png")[0] >= 600
    history = {
        "train_loss": [2.3, 1.2, 0.7],
        "eval_iters": [0, 2],
        "train_acc": [0.1, 0.8],
        "test_acc": [0.1, 0.7],
        "seconds": 1.0,
    }
    (tmp_path / "s.json").write_text(json.dumps({"history": history}))
    assert (
        main(
            ["plot", "curves", "--json", str(tmp_path / "s.json"), "--out", str(tmp_path / "c.png")]
        )
        == 0
    )
    assert png_size(tmp_path / "c.png") == (1000, 400)
    x = xpnet.asarray([[0.0, 1.0], [1.0, 0.0]] * 5, dtype="float32", backend="numpy")
    t = xpnet.asarray([1, 0] * 5, dtype="int64", backend="numpy")
    net = xpnet.TwoLayerNet(2, 3, 2, seed=0, backend="numpy")
    xpnet.train(
        net, (x, t), iters=4, batch_size=5, seed=0, verbose=0, checkpoint=tmp_path / "ck.npz"
    )
    assert (
        main(
            [
                "plot",
                "curves",
                "--checkpoint",
                str(tmp_path / "ck.npz"),
                "--out",
                str(tmp_path / "k.png"),
            ]
        )
        == 0
    )
    assert png_size(tmp_path / "k.png") == (1000, 400)


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_cli_plot_errors(tmp_path, capsys) -> None:
    assert main(["plot", "curves", "--out", str(tmp_path / "c.png")]) == 2
    assert "exactly one of --json FILE or --checkpoint FILE" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{}")
    assert (
        main(
            [
                "plot",
                "curves",
                "--json",
                str(tmp_path / "bad.json"),
                "--out",
                str(tmp_path / "c.png"),
            ]
        )
        == 2
    )
    assert "not a summary written by" in capsys.readouterr().err
    assert (
        main(
            [
                "plot",
                "curves",
                "--checkpoint",
                str(tmp_path / "bad.json"),
                "--out",
                str(tmp_path / "c.png"),
            ]
        )
        == 2
    )
    assert main(["plot", "gradient-field", "--out", str(tmp_path / "no" / "f.png")]) == 2
    assert not (tmp_path / "c.png").exists()


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_missing_matplotlib_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'xpnet\[plot\]'"):
        plot.learning_curves({"train_loss": [], "eval_iters": [], "train_acc": [], "test_acc": []})


@pytest.mark.backend_independent
def test_compare_names_runs_by_the_settings_that_differ(tmp_path, monkeypatch) -> None:
    """A batch-norm or weight-init comparison can be read from its legend."""
    from matplotlib.figure import Figure

    history = {"train_loss": [2.3, 1.0], "eval_iters": [0, 1], "train_acc": [0.1, 0.5],
               "test_acc": [0.1, 0.4], "seconds": 1.0}  # fmt: skip
    base = {"optimizer": "adam", "lr": 0.001, "hidden": [100, 100], "weight_init": "he",
            "batch_norm": False, "history": history}  # fmt: skip
    runs = {"a": base, "b": {**base, "batch_norm": True}, "c": {**base, "weight_init": "0.01"}}
    paths = []
    for name, summary in runs.items():
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(summary))
    shown = {}
    monkeypatch.setattr(plot, "compare_curves", lambda r: shown.update(r) or Figure())
    monkeypatch.setattr(plot, "save_figure", lambda fig, path: None)
    assert main(["plot", "compare", "--json", *map(str, paths), "--out", "c.png"]) == 0
    assert list(shown) == [
        "init he, no batch norm",
        "init he, batch norm",
        "init 0.01, no batch norm",
    ]
    # The same settings twice: the files tell them apart; nothing differs: the files name them.
    paths[1].write_text(json.dumps(base))
    paths[2].write_text(json.dumps(base))
    shown.clear()
    assert main(["plot", "compare", "--json", *map(str, paths), "--out", "c.png"]) == 0
    assert list(shown) == ["a", "b", "c"]


@pytest.mark.backend_independent
def test_show_embeds_or_saves(monkeypatch, capsys, tmp_path) -> None:
    """plot.show: an <img> for the docs' pages, a PNG file where there is no display."""
    import tempfile
    from pathlib import Path

    import matplotlib

    fig = plot.descent_path(lr=0.1)
    monkeypatch.setenv("XPNET_SHOW", "html")
    plot.show(fig)
    assert capsys.readouterr().out.startswith('<img alt="figure" src="data:image/png;base64,')
    page: list[str] = []  # the docs' runner gives each code block a `print` of its own
    exec("plot.show(fig)", {"plot": plot, "fig": fig, "print": page.append})
    assert page[0].startswith('<img alt="figure"') and capsys.readouterr().out == ""
    monkeypatch.delenv("XPNET_SHOW")
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "agg")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    plot.show(fig)
    out = capsys.readouterr().out.strip()
    assert out.startswith("no display: the figure is in ") and out.endswith(".png")
    saved = Path(out.rsplit(" ", 1)[-1])
    assert saved.parent == tmp_path and saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
