"""The notebook view: History as a small table, and examples/tutorial.ipynb run in a real kernel.

The notebook itself runs in `nox -s notebook` (which sets XPNET_RUN_NOTEBOOK
and installs `xpnet[notebook]`), on NumPy and array-api-strict, with
XPNET_TUTORIAL_ITERS iterations of training; its executed copy is kept under
build/notebook/.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest
from helpers import bound

from xpnet.training import History

ROOT = Path(__file__).parents[1]
NOTEBOOK = ROOT / "examples" / "tutorial.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.mark.backend_independent
def test_history_shows_as_a_small_table() -> None:
    h = History(
        train_loss=[2.3, 1.0, 0.5], eval_iters=[0, 2], train_acc=[0.1, 0.8],
        test_acc=[0.1, 0.79], seconds=1.5,
    )  # fmt: skip
    html = h._repr_html_()
    assert "<caption>History: 3 iterations in 1.5 s, last loss 0.5000</caption>" in html
    assert re.findall(r"<th>(.*?)</th>", html) == ["iteration", "train acc", "test acc"]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html)
    assert cells == ["0", "0.1000", "0.1000", "2", "0.8000", "0.7900"]


@pytest.mark.backend_independent
def test_a_long_history_shows_its_first_and_last_evaluations() -> None:
    n = 50
    h = History(
        train_loss=[1.0] * n, eval_iters=list(range(n)), train_acc=[i / n for i in range(n)]
    )
    html = h._repr_html_()
    rows = re.findall(r"<tr>(.*?)</tr>", html)[1:]  # after the header
    assert len(rows) == 21 and "…" in rows[10] and "test acc" not in html
    assert ">0<" in rows[0] and f">{n - 1}<" in rows[-1]


@pytest.mark.backend_independent
def test_ipython_prints_a_history_in_one_line() -> None:
    class Printer:
        def __init__(self) -> None:
            self.out = ""

        def text(self, s: str) -> None:
            self.out += s

    p = Printer()
    History(train_loss=[0.5] * 1000, eval_iters=[0, 999], train_acc=[0.1, 0.9])._repr_pretty_(
        p, False
    )
    assert p.out == "History(1000 iterations, 2 evaluations, train_acc=0.9000, seconds=0.0)"


@pytest.mark.mnist
@pytest.mark.skipif(
    not os.environ.get("XPNET_RUN_NOTEBOOK"), reason="the notebook runs in `nox -s notebook`"
)
def test_tutorial_notebook_runs(backend, mnist_dir, monkeypatch) -> None:
    """Every cell runs; figures inline, History as a table, the progress bar a widget."""
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's own paths, no warning
    monkeypatch.setenv("XPNET_DATA", str(mnist_dir))
    monkeypatch.setenv("XPNET_BACKEND", backend.name)
    iters = int(os.environ.setdefault("XPNET_TUTORIAL_ITERS", "300"))
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    out = ROOT / "build" / "notebook"
    out.mkdir(parents=True, exist_ok=True)
    client = nbclient.NotebookClient(
        nb,
        timeout=int(bound(600)),
        kernel_name="python3",
        resources={"metadata": {"path": str(out)}},
    )
    try:
        client.execute()
    finally:
        nbformat.write(nb, out / f"tutorial-{backend.name}.ipynb")  # the CI artifact
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    data = [o.get("data", {}) for o in outputs]
    assert any(backend.name in d.get("text/plain", "") for d in data), "backend not chosen"
    assert sum("image/png" in d for d in data) == 3, "the three figures are not inline"
    tables = [d["text/html"] for d in data if "<caption>History" in d.get("text/html", "")]
    assert len(tables) == 1 and f"History: {iters} iterations" in tables[0]
    if importlib.util.find_spec("ipywidgets"):
        assert any(WIDGET in d for d in data), "no progress-bar widget"
    else:  # tqdm.auto falls back to text
        assert any(f"{iters}/{iters}" in o.get("text", "") for o in outputs)
