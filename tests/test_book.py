"""xpnet book run: book-style scripts (tests/book/) with xpnet's `common` and `dataset`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpnet
import xpnet.book.dataset.mnist as book_mnist
from xpnet.backend import backend_of, index_dtype, to_numpy
from xpnet.book import BookScriptError, book_modules, run
from xpnet.cli import main

BOOK = Path(__file__).parent / "book"


@pytest.fixture
def small_mnist(monkeypatch, backend):
    """The book's load_mnist, on the backend under test, with 300 + 100 random 'images'."""

    def load_mnist(normalize=True, flatten=True, one_hot_label=False):
        rng = np.random.default_rng(0)
        out = []
        for n in (300, 100):
            labels = rng.integers(0, 10, size=n)
            x = rng.random((n, 784)).astype(np.float32) * 0.1
            for k in range(10):  # class k lights up pixels 78k .. 78k+77: easy to learn
                x[labels == k, 78 * k : 78 * (k + 1)] = 1.0
            t = np.eye(10, dtype=np.float32)[labels] if one_hot_label else labels
            dtype = None if one_hot_label else index_dtype(backend.xp, backend.device)
            shape = (n, 784) if flatten else (n, 1, 28, 28)
            out.append((xpnet.asarray(x.reshape(shape)), xpnet.asarray(t, dtype=dtype)))
        return tuple(out)

    monkeypatch.setattr(book_mnist, "load_mnist", load_mnist)


def indexes_like_numpy(backend) -> bool:
    """Whether the backend's arrays take `x[numpy_indices]` and `x[:n]` (the book's indexing)."""
    x = backend.xp.zeros((3, 2))
    try:
        x[np.array([0, 1])], x[:1]
    except IndexError:
        return False
    return True


def test_common_gradient_on_numpy_arrays(backend, capsys) -> None:
    run(BOOK / "ch04" / "simple_net.py", backend=backend)
    assert capsys.readouterr().out.strip() == "(2, 3) True"


def test_the_book_layers_and_numpy_weights_learn(backend, small_mnist, capsys) -> None:
    """Weights made by np.random.randn, data on the backend, the update in place: it learns."""
    if not indexes_like_numpy(backend):
        with pytest.raises(BookScriptError) as caught:
            run(BOOK / "ch05" / "train_layers.py", backend=backend)
        message = str(caught.value)
        assert message.startswith("ch05/train_layers.py:15 `x_batch = x_train[batch_mask]`:")
        assert "--backend numpy" in message and "xpnet.take_rows" in message
        assert "\n" not in message
        return
    run(BOOK / "ch05" / "train_layers.py", backend=backend)
    assert "last loss" in capsys.readouterr().out


def test_optimizers_keep_numbers_numbers_and_save_figures(backend, tmp_path, capsys) -> None:
    saved = run(BOOK / "ch06" / "optimizers_naive.py", backend=backend, figures=tmp_path)
    assert saved == [tmp_path / "optimizers_naive-1.png"] and saved[0].stat().st_size > 1000
    assert capsys.readouterr().out.strip() == "0.02"  # Adam's last x, as the book's code gives


def test_trainer_script_prints_the_book_lines(backend, small_mnist, capsys) -> None:
    if not indexes_like_numpy(backend):
        with pytest.raises(BookScriptError, match=r"ch06/trainer_run.py:11 `x_train, t_train"):
            run(BOOK / "ch06" / "trainer_run.py", backend=backend)
        return
    run(BOOK / "ch06" / "trainer_run.py", backend=backend)
    lines = capsys.readouterr().out.splitlines()
    epochs = [line for line in lines if line.startswith("=== epoch:")]
    assert len(epochs) == 3 and epochs[0].startswith("=== epoch:1, train acc:")
    assert sum(line.startswith("train loss:") for line in lines) == 12
    assert lines[-4:-2] == ["=============== Final Test Accuracy ===============", lines[-3]]
    assert lines[-3].startswith("test acc:") and lines[-2:] == ["3 3 12", "(12,)"]


def test_a_failing_line_is_named_once(backend, small_mnist) -> None:
    with pytest.raises(BookScriptError) as caught:
        run(BOOK / "ch06" / "broken.py", backend=backend)
    assert str(caught.value).startswith(
        "ch06/broken.py:7 `x_train.no_such_method()`: AttributeError:"
    )


def test_the_command_line_and_python_m(backend, tmp_path, capsys) -> None:
    script = str(BOOK / "ch06" / "optimizers_naive.py")
    assert main(["book", "run", script, "--backend", backend.name, "--figures", str(tmp_path)]) == 0
    assert "figure saved to" in capsys.readouterr().out
    assert main(["book", "run", str(BOOK / "ch06" / "broken.py")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xpnet: error: ch06/broken.py:") and "\n" not in err
    assert main(["book", "run", str(tmp_path / "missing.py")]) == 2
    assert "must be a Python file" in capsys.readouterr().err


@pytest.mark.backend_independent
def test_python_m_xpnet_book(tmp_path) -> None:
    env = {**os.environ, "XPNET_BACKEND": "numpy", "MPLBACKEND": "Agg"}
    script = BOOK / "ch04" / "simple_net.py"
    done = subprocess.run(
        [sys.executable, "-m", "xpnet.book", "run", str(script)],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 3) True"


@pytest.mark.backend_independent
def test_imports_are_xpnet_and_undone(tmp_path) -> None:
    """A folder `common` on sys.path loses to xpnet's; the script's own modules are forgotten."""
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "__init__.py").write_text("raise ImportError('the real book')\n")
    chapter = tmp_path / "ch09"
    chapter.mkdir()
    (chapter / "helper.py").write_text("VALUE = 1\n")
    (chapter / "main.py").write_text(
        "import sys, os\nsys.path.append(os.pardir)\nimport helper\n"
        "from common.layers import Affine\nimport xpnet.layers\n"
        "assert issubclass(Affine, xpnet.layers.Affine) and os.getcwd().endswith('ch09')\n"
    )
    cwd, path = os.getcwd(), list(sys.path)
    run(chapter / "main.py", backend="numpy")
    assert os.getcwd() == cwd and "helper" not in sys.modules and "common" not in sys.modules
    assert [p for p in sys.path if p != os.pardir] == [p for p in path if p != os.pardir]
    assert xpnet.layers.LAYERS["Affine"] is xpnet.layers.Affine  # the registry is untouched


def test_mixed_arrays_go_to_the_backend(backend) -> None:
    with book_modules():
        from common.functions import cross_entropy_error, softmax
        from common.layers import Affine, Relu

    x = xpnet.asarray(np.ones((4, 3), dtype=np.float32))
    W, b = np.full((3, 2), 0.5), np.zeros(2)
    layer = Affine(W, b)
    out = layer.forward(x)
    assert backend_of(out) == backend
    if xpnet.backend.float64_available(backend):
        assert out.dtype == backend.xp.float64  # float32 data, float64 weights: NumPy's promotion
    np.testing.assert_allclose(to_numpy(out), np.full((4, 2), 1.5))
    W -= 0.5  # in place, as the book's update: the layer sees it
    np.testing.assert_allclose(to_numpy(layer.forward(x)), np.zeros((4, 2)))
    dx = layer.backward(np.ones((4, 2)))
    assert backend_of(dx) == backend  # the data's gradient on the backend,
    assert isinstance(layer.dW, np.ndarray) and layer.dW.dtype == W.dtype  # W's where W is
    relu = Relu()
    relu.forward(xpnet.asarray(np.array([-1.0, 2.0], dtype=np.float32)))
    assert to_numpy(relu.mask).tolist() == [True, False]  # the book's: where x <= 0
    y = softmax(xpnet.asarray(np.array([[0.0, 0.0]], dtype=np.float32)))
    loss = cross_entropy_error(y, np.array([[1.0, 0.0]]))
    assert backend_of(loss) == backend and abs(float(to_numpy(loss)) - np.log(2)) < 1e-5


def test_book_networks_set_their_layers_arrays(backend) -> None:
    """The book's load_params: ``self.layers[key].W = self.params["W1"]`` (and gamma, beta)."""
    with book_modules():
        from common.layers import Affine, BatchNormalization, Convolution

    x = xpnet.asarray(np.ones((1, 1, 3, 3), dtype=np.float32))
    conv = Convolution(np.zeros((2, 1, 2, 2)), np.zeros(2))
    conv.W, conv.b = np.ones((2, 1, 2, 2)), np.full(2, 0.5)  # what load_params does
    out = conv.forward(x)
    assert backend_of(out) == backend and tuple(out.shape) == (1, 2, 2, 2)
    np.testing.assert_allclose(to_numpy(out), np.full((1, 2, 2, 2), 4.5))
    affine = Affine(np.zeros((3, 2)), np.zeros(2))
    affine.W = np.ones((3, 2))
    assert affine.params["W"] is affine.W
    assert float(to_numpy(affine.forward(x[0, 0, ...])).sum()) == 18
    bn = BatchNormalization(np.ones(3), np.zeros(3))
    bn.gamma, bn.beta = np.full(3, 2.0), np.full(3, 1.0)
    assert bn.params["gamma"] is bn.gamma and bn.params["beta"] is bn.beta
    assert bn.running_mean is None  # no forward yet: no buffer
    bn.running_mean = np.zeros(3)
    assert bn.buffers["running_mean"] is bn.running_mean


def test_book_optimizer_updates_arrays_in_place(backend) -> None:
    with book_modules():
        from common.optimizer import Momentum

    W = np.ones(3)
    params = {"W": W}
    grad = xpnet.asarray(np.full(3, 2.0, dtype=np.float32))  # the backend's, a NumPy parameter
    Momentum(lr=0.1).update(params, {"W": grad})
    assert params["W"] is W and np.allclose(W, 0.8)


def test_trainer_runs_the_book_loop_for_a_network_of_its_own(backend, small_mnist, capsys) -> None:
    """Not an xpnet network: the book's loop, its update in place, the same printed lines."""
    try:  # the script's own accuracy reads the network's output with np.asarray
        np.asarray(xpnet.asarray(np.zeros(1), backend=backend))
    except (RuntimeError, TypeError, ValueError):
        pytest.skip(f"{backend.name} on {backend.device}: np.asarray cannot read its arrays")
    run(BOOK / "ch07" / "trainer_own_net.py", backend=backend)
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("=== epoch:") for line in lines) == 2
    assert sum(line.startswith("train loss:") for line in lines) == 12
    assert lines[-1] == "2 12 True"
