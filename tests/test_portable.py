"""Portable batching, and the reader-facing code (tutorial, README, examples) on every backend."""

from __future__ import annotations

import os
import re
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_array, assert_close, run_bounded

import xpnet
from xpnet.backend import index_dtype, to_numpy
from xpnet.random import BatchSampler

ROOT = Path(__file__).parents[1]


# --- take_rows, head, minibatches --------------------------------------------------------


def test_take_rows_and_head(backend, dtype) -> None:
    host = np.arange(24.0).reshape(6, 4)
    x = xpnet.asarray(host, dtype=dtype)
    idx = xpnet.asarray([5, 0, 5], dtype=index_dtype(backend.xp, backend.device))
    assert_close(xpnet.take_rows(x, idx), host[[5, 0, 5]], backend=backend, dtype=dtype)
    assert_close(xpnet.take_rows(x, [1, 2]), host[[1, 2]], backend=backend, dtype=dtype)
    assert_close(xpnet.take_rows(x, range(3)), host[:3], backend=backend, dtype=dtype)
    assert_close(xpnet.head(x, 2), host[:2], backend=backend, dtype=dtype)
    assert_close(xpnet.head(x, 100), host, backend=backend, dtype=dtype)
    assert_array(xpnet.head(x, 0), backend=backend, dtype=dtype, shape=(0, 4))
    labels = xpnet.asarray([3, 1, 4], dtype=index_dtype(backend.xp, backend.device))
    np.testing.assert_array_equal(to_numpy(xpnet.head(labels, 2)), [3, 1])
    cube = xpnet.asarray(np.zeros((3, 2, 2)), dtype=dtype)
    assert tuple(xpnet.take_rows(cube, [2]).shape) == (1, 2, 2)


@pytest.mark.reliability("bad input")
def test_take_rows_and_head_refuse_clearly(backend) -> None:
    x = xpnet.asarray(np.zeros((3, 2)), dtype="float32")
    with pytest.raises(ValueError, match=r"`idx` must hold rows in \[0, 3\)\. Received: 3"):
        xpnet.take_rows(x, [0, 3])
    with pytest.raises(ValueError, match="`idx` must be non-negative"):
        xpnet.take_rows(x, [-1])
    with pytest.raises(TypeError, match=r"`idx` must hold integer row numbers"):
        xpnet.take_rows(x, xpnet.asarray([0.0, 1.0], dtype="float32"))
    with pytest.raises(ValueError, match=r"`idx` must be 1-D"):
        xpnet.take_rows(x, xpnet.asarray([[0]], dtype=index_dtype(backend.xp, backend.device)))
    with pytest.raises(TypeError, match=r"for one row, use \[i\]"):
        xpnet.take_rows(x, 1)
    with pytest.raises(ValueError, match="`n` must be non-negative"):
        xpnet.head(x, -1)
    with pytest.raises(ValueError, match="at least one axis of rows"):
        xpnet.head(xpnet.asarray(1.0), 1)
    if backend.name != "numpy":
        with pytest.raises(TypeError, match="one array library"):
            xpnet.take_rows(x, np.array([0]))


def test_minibatches_are_the_samplers_rows_on_every_backend(backend) -> None:
    rng = np.random.default_rng(0)
    host_x, host_t = rng.random((50, 3)), rng.integers(0, 4, 50)
    x = xpnet.asarray(host_x, dtype="float32")
    t = xpnet.asarray(host_t, dtype=index_dtype(backend.xp, backend.device))
    rows = BatchSampler(50, 7, seed=3).indices(0, 300, backend="numpy")
    batches = list(xpnet.minibatches(x, t, batch_size=7, iters=300, seed=3))
    assert len(batches) == 300
    for i in (0, 255, 256, 299):  # across a chunk boundary
        xb, tb = batches[i]
        assert_close(xb, host_x[rows[i]], backend=backend, dtype=x.dtype)
        np.testing.assert_array_equal(to_numpy(tb), host_t[rows[i]])
    later = list(xpnet.minibatches(x, t, batch_size=7, iters=3, seed=3, start=254))
    for k in range(3):
        np.testing.assert_array_equal(to_numpy(later[k][1]), to_numpy(batches[254 + k][1]))


@pytest.mark.reliability("bad input")
def test_minibatches_refuse_clearly(backend) -> None:
    x = xpnet.asarray(np.zeros((5, 2)), dtype="float32")
    with pytest.raises(ValueError, match=r"same number of rows\. Received: 5, 4"):
        xpnet.minibatches(x, xpnet.head(x, 4), batch_size=2, iters=1)
    with pytest.raises(TypeError, match="at least one array"):
        xpnet.minibatches(batch_size=2, iters=1)
    with pytest.raises(ValueError, match="`batch_size` must be positive"):
        xpnet.minibatches(x, batch_size=0, iters=1)


def test_own_loop_is_xpnet_train(backend) -> None:
    """The chapter's loop written with minibatches gives xpnet.train's run, bit for bit.

    Eagerly: JAX's compiled training (its default) agrees to float rounding only.
    """
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 90)
    x = xpnet.asarray(rng.normal(0, 0.3, (90, 5)) + np.eye(3, 5)[labels], dtype="float32")
    t = xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device))
    net = xpnet.TwoLayerNet(5, 6, 3, weight_init_std=0.5, seed=0)
    losses = []
    for x_batch, t_batch in xpnet.minibatches(x, t, batch_size=9, iters=20, seed=2):
        losses.append(float(net.loss(x_batch, t_batch)))
        grad = net.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] = net.params[key] - 0.5 * grad[key]
    reference = xpnet.TwoLayerNet(5, 6, 3, weight_init_std=0.5, seed=0)
    h = xpnet.train(
        reference, (x, t), iters=20, batch_size=9, lr=0.5, seed=2, verbose=0, compile=False
    )
    assert losses == h.train_loss
    for key, value in reference.params.items():
        np.testing.assert_array_equal(to_numpy(net.params[key]), to_numpy(value))


# --- the tutorial, the README and the examples ----------------------------------------------

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
#: The tutorial's MNIST runs, shortened for the test.
SHORTER = {"iters=10000,": "iters=100,", "iters_num, learning_rate = 1200, 0.1": "iters_num, learning_rate = 100, 0.1"}  # fmt: skip


def _python_blocks(path: Path, fence: str) -> str:
    return "\n".join(re.findall(fence + r"[^\n]*\n(.*?)```", path.read_text(), flags=re.S))


def _run(code: str, cwd: Path, mnist_dir: Path | None = None) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("JAX_ENABLE_X64", "XPNET_BACKEND", "XPNET_DEVICE")
    }
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if mnist_dir is not None:
        env["XPNET_DATA"] = str(mnist_dir)
    done = run_bounded(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, within=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@cache
def tutorial_output(name: str, device: str | None, mnist_dir: Path, cwd: Path) -> str:
    code = _python_blocks(ROOT / "docs" / "tutorial.md", '```python exec="on"')
    chosen = f"xpnet.set_backend({name!r}, {device!r})"
    for old, new in {'xpnet.set_backend("numpy")': chosen, **SHORTER}.items():
        assert code.count(old) == 1, old  # the tutorial still reads as this test expects
        code = code.replace(old, new)
    # Figures print no numbers, and xpnet.plot is tested on every backend in test_plot.py;
    # drawing them here would double the run on eager JAX.
    code, figures = re.subn(r"^plot\.show\(plot\..*\)$", "pass", code, flags=re.M)
    assert figures == 3
    out = _run(code, cwd, mnist_dir)
    return re.sub(r"\d+(\.\d+)? s\b", "", out)  # wall-clock times differ


def numbers(text: str) -> list[float]:
    return [float(n) for n in NUMBER.findall(text)]


@pytest.mark.mnist
def test_tutorial_prints_numpys_numbers_on_every_backend(
    backend, mnist_dir, tmp_path_factory
) -> None:
    """The tutorial, switched only by its set_backend line; JAX without JAX_ENABLE_X64."""
    cwd = tmp_path_factory.getbasetemp()
    reference = tutorial_output("numpy", None, mnist_dir, cwd)
    assert "MSE 0.0975   cross-entropy 0.5108" in reference  # the chapter's values
    assert "MSE 0.5975   cross-entropy 2.3026" in reference
    assert "[[ 0.21924757  0.14356243 -0.36281   ]" in reference
    if backend.name == "numpy":
        return
    device = os.environ.get("XPNET_DEVICE") if backend.name == "array_api_strict" else None
    output = tutorial_output(backend.name, device, mnist_dir, cwd)
    expected, got = numbers(reference), numbers(output)
    assert len(got) == len(expected), (output, reference)
    # float64 values agree to ~1e-12; float32 losses and accuracies to a few ulps of
    # the last printed digit; gradcheck's differences (~1e-10) are rounding noise.
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-6, err_msg=output)


@pytest.mark.mnist
def test_readme_python_example_runs_on_array_api_strict(backend, mnist_dir, tmp_path) -> None:
    if backend.name not in ("numpy", "array_api_strict"):
        pytest.skip("runs in the NumPy and array-api-strict sessions")
    code = _python_blocks(ROOT / "README.md", "```python")
    code = code.replace('xpnet.set_backend("numpy")', 'xpnet.set_backend("array_api_strict")')
    code = code.replace("iters=10000,", "iters=30,")
    out = _run(code, tmp_path, mnist_dir)
    lines = out.splitlines()
    assert lines[-2].startswith("0.51082"), out
    assert lines[-1] == "[6. 8.]", out
    assert (tmp_path / "net.npz").exists()


EXAMPLES = {
    "gradient_descent.py": [],
    "simple_net.py": [],
    "train_mnist.py": ["--dry-run"],
    "own_loop.py": ["--dry-run"],
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_run_on_array_api_strict(backend, name, tmp_path) -> None:
    if backend.name != "array_api_strict" or os.environ.get("XPNET_DEVICE") not in (
        None,
        "",
        "cpu",
    ):
        pytest.skip("runs in the array-api-strict (cpu) session")
    argv = ["--backend", "array_api_strict", *EXAMPLES[name]]
    if "--dry-run" in argv:
        mnist = os.environ.get("XPNET_DATA")
        if not mnist:
            pytest.skip("needs real MNIST (XPNET_DATA)")
        argv += ["--data-dir", mnist]
    code = f"import runpy, sys; sys.argv = {[name, *argv]!r}; runpy.run_path({str(ROOT / 'examples' / name)!r}, run_name='__main__')"
    out = _run(code, tmp_path)
    assert out.strip(), name
    if name == "simple_net.py":
        assert "loss:   0.92806" in out
