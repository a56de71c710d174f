"""Compiled training: the same run as eager training, on every backend with a compiler.

Backends without one (NumPy, array-api-strict, CuPy) check that ``compile=True``
is refused clearly and that "auto" runs eagerly. The compiled tests share one
network shape, batch size and learning rate, so that torch.compile, which
reuses compiled code across runs of the same shapes, compiles once per session.
"""

from __future__ import annotations

import os
import re
import signal

import numpy as np
import pytest
from helpers import read_state_file

import xpnet
from xpnet.backend import compiler_backends, index_dtype, to_numpy
from xpnet.optim import SGD
from xpnet.training import compile as compile_module
from xpnet.training import run as run_module
from xpnet.training.compile import choose_compiler

#: The settings every compiled test uses (one compilation per session on torch).
RUN = dict(batch_size=20, lr=0.5, seed=4, verbose=0)
#: RUN for an optimizer object, which carries its own rate.
OWN_RATE = {k: v for k, v in RUN.items() if k != "lr"}


def blobs(backend, n=600, d=6, c=3, seed=0):
    """A small separable problem with some overlap, so that accuracy is not trivially 1."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=n)
    x = rng.normal(0.0, 0.8, size=(n, d)) + np.eye(c, d)[labels] * 2
    return xpnet.asarray(x, dtype="float32"), xpnet.asarray(
        labels, dtype=index_dtype(backend.xp, backend.device)
    )


def network():
    return xpnet.TwoLayerNet(6, 8, 3, weight_init_std=0.5, seed=1)


def params_of(net):
    return {k: to_numpy(v).copy() for k, v in net.params.items()}


@pytest.fixture
def compiler(backend):
    """The backend's compiler; skips the test on backends without one."""
    if backend.library.compiler is None:
        pytest.skip(f"backend {backend.name!r} has no compiler")
    return backend.library.compiler


# --- choosing --------------------------------------------------------------------------


@pytest.mark.reliability("bad input")
def test_compile_true_without_a_compiler_says_which_backends_have_one(backend) -> None:
    if backend.library.compiler is not None:
        pytest.skip(f"backend {backend.name!r} has a compiler")
    data = blobs(backend, n=60)
    net = network()
    before = params_of(net)
    with pytest.raises(ValueError, match=rf"backend '{backend.name}' has no compiler") as info:
        xpnet.train(net, data, iters=5, compile=True, **RUN)
    assert all(name in str(info.value) for name in compiler_backends())
    assert "jax" in compiler_backends() and "numpy" not in compiler_backends()
    for name, value in before.items():
        np.testing.assert_array_equal(params_of(net)[name], value)
    h = xpnet.train(net, data, iters=5, compile="auto", **RUN)  # "auto": eager, no error
    assert h.compile_seconds == 0.0


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize("value", ["yes", 1, None, "True"])
def test_compile_takes_auto_true_or_false(backend, value) -> None:
    with pytest.raises(ValueError, match=r"`compile` must be 'auto', True or False"):
        xpnet.train(network(), blobs(backend, n=60), iters=5, compile=value, **RUN)


class BookSGD:
    """An optimizer with only the book's update(params, grads): state a compiler cannot see."""

    lr = 0.5

    def update(self, params, grads):
        for key in params:
            params[key] = params[key] - self.lr * grads[key]


@pytest.mark.reliability("bad input")
def test_what_cannot_be_compiled_runs_eagerly_or_is_refused(backend, compiler) -> None:
    data = blobs(backend, n=60)
    for kwargs, message in (
        ({"grad": "numerical"}, "numerical gradient"),
        ({"optimizer": BookSGD()}, r"only the book's update\(params, grads\)"),
    ):
        with pytest.raises(ValueError, match=message):
            settings = OWN_RATE if "optimizer" in kwargs else RUN
            xpnet.train(network(), data, iters=2, compile=True, **kwargs, **settings)
    # "auto" falls back to eager (the numerical gradient is slow on eager JAX: not run here)
    assert choose_compiler("auto", backend, grad="numerical", optimizer=SGD(0.5)) is None
    assert choose_compiler(True, backend, grad="backprop", optimizer=SGD(0.5)) is compiler
    h = xpnet.train(network(), data, iters=2, optimizer=BookSGD(), **OWN_RATE)
    assert len(h.train_loss) == 2 and h.compile_seconds == 0.0


# --- same results ----------------------------------------------------------------------


def test_compiled_and_eager_runs_agree(backend, compiler) -> None:
    """Blocks cut chunks anywhere (every 37 iterations); one compiled call per piece."""
    data = blobs(backend)
    runs, nets = [], []
    for mode in (False, True):
        net = network()
        runs.append(xpnet.train(net, data, data, iters=200, eval_every=37, compile=mode, **RUN))
        nets.append(params_of(net))
    eager, compiled = runs
    assert compiled.compile_seconds > 0.0 and eager.compile_seconds == 0.0
    assert compiled.eval_iters == eager.eval_iters
    np.testing.assert_allclose(compiled.train_loss, eager.train_loss, rtol=1e-4)
    np.testing.assert_allclose(compiled.train_acc, eager.train_acc, atol=0.002)
    assert abs(compiled.test_acc[-1] - eager.test_acc[-1]) <= 0.002
    assert 0.8 < compiled.test_acc[-1] < 1.0  # it learned, and accuracy is not trivial
    for name, value in nets[0].items():
        np.testing.assert_allclose(nets[1][name], value, rtol=1e-4, atol=1e-5)


def test_compiling_is_reported_on_the_first_line(backend, compiler, capsys) -> None:
    xpnet.train(network(), blobs(backend), iters=45, compile=True, **{**RUN, "verbose": 2})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("train acc | 0.") for line in lines)
    assert re.fullmatch(
        rf"train acc \| 0\.\d{{4}} \(compiled with {compiler.name} in \d+\.\d s\)", lines[0]
    )
    assert "compiled" not in lines[1] + lines[2]


def test_the_progress_bar_says_compiling(backend, compiler, monkeypatch) -> None:
    """While the first steps compile, the bar's postfix says so; the first evaluation replaces it."""
    postfixes = []

    def record(self, *args, **kwargs):
        postfixes.append(args[0] if args else kwargs)

    import tqdm.auto

    monkeypatch.setattr(tqdm.auto.tqdm, "set_postfix_str", record, raising=False)
    monkeypatch.setattr(tqdm.auto.tqdm, "set_postfix", record, raising=False)
    xpnet.train(network(), blobs(backend), iters=5, compile=True, **{**RUN, "verbose": 1})
    assert postfixes[0] == f"compiling with {compiler.name}..."
    assert isinstance(postfixes[1], dict) and "train_acc" in postfixes[1]


@pytest.mark.reliability("faults")
def test_interrupted_compiled_run_resumes_exactly(backend, compiler, tmp_path, monkeypatch) -> None:
    """Ctrl-C in a compiled run stops at the next compiled call, saves, and resumes exactly."""
    data = blobs(backend)
    settings = dict(iters=700, eval_every=300, compile=True, **RUN)  # chunks: 1, 255, 44, ...
    expected_net = network()
    expected = xpnet.train(expected_net, data, data, **settings)

    record = run_module.Run.record_losses

    def press_ctrl_c_at_400(run, losses):
        record(run, losses)
        if run.progress.iteration >= 400 and not run.pressed:
            run.pressed = True
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(run_module.Run, "pressed", False, raising=False)
    monkeypatch.setattr(run_module.Run, "record_losses", press_ctrl_c_at_400)
    path = tmp_path / "state.npz"
    with pytest.raises(KeyboardInterrupt):
        xpnet.train(network(), data, data, checkpoint=path, **settings)
    monkeypatch.undo()
    meta, _ = read_state_file(path)
    assert 400 <= meta["training"]["iteration"] < 700

    net = xpnet.TwoLayerNet(6, 8, 3, seed=99)  # its weights come from the checkpoint
    resumed = xpnet.train(net, data, data, checkpoint=path, resume=True, **settings)
    assert resumed.train_loss == expected.train_loss
    assert resumed.train_acc == expected.train_acc and resumed.eval_iters == expected.eval_iters
    for name, value in params_of(expected_net).items():
        np.testing.assert_array_equal(params_of(net)[name], value)


@pytest.mark.parametrize(("first", "then"), [(True, False), (False, True)])
def test_a_checkpoint_resumes_in_the_other_mode(backend, compiler, tmp_path, first, then) -> None:
    data = blobs(backend)
    path = tmp_path / "state.npz"
    settings = dict(eval_every=50, checkpoint=path, **RUN)
    xpnet.train(network(), data, iters=100, compile=first, **settings)
    net = xpnet.TwoLayerNet(6, 8, 3, seed=99)
    h = xpnet.train(net, data, iters=200, resume=True, compile=then, **settings)
    reference = xpnet.train(network(), data, iters=200, compile=first, **RUN, eval_every=50)
    assert len(h.train_loss) == 200 and h.eval_iters == reference.eval_iters
    np.testing.assert_allclose(h.train_loss, reference.train_loss, rtol=1e-4)
    np.testing.assert_allclose(h.train_acc, reference.train_acc, atol=0.002)


def test_jax_compiles_one_loop_per_run(backend, compiler, caplog) -> None:
    """The last partial chunk and blocks cut by evaluations reuse the compiled loop."""
    if backend.name != "jax":
        pytest.skip("counts JAX's compilations")
    import jax

    data = blobs(backend)
    compile_module._compiled.clear()  # compiled functions kept from earlier tests
    with jax.log_compiles(True), caplog.at_level("WARNING", logger="jax"):
        xpnet.train(network(), data, data, iters=1000, eval_every=77, compile=True, **RUN)
    compiled = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Compiling")]
    assert len([m for m in compiled if m.startswith("Compiling jit(run)")]) == 1, compiled
    assert len(compiled) <= 3, compiled  # and the accuracy, once: train and test sets alike
    caplog.clear()
    with jax.log_compiles(True), caplog.at_level("WARNING", logger="jax"):
        xpnet.train(network(), data, data, iters=300, eval_every=77, compile=True, **RUN)
    again = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Compiling")]
    assert again == []  # a second run of the same shapes compiles nothing


# --- the chapter's job -----------------------------------------------------------------


@pytest.mark.mnist
@pytest.mark.slow(reason="two 10,000-iteration MNIST runs, compiled and eager")
def test_compiled_chapter_run_agrees_with_eager_on_mnist(backend, compiler, mnist_dir) -> None:
    train_data, test_data = xpnet.load_mnist(data_dir=mnist_dir)
    runs = []
    for mode, iters in ((True, 10000), (False, 10000)):
        net = xpnet.TwoLayerNet(784, 50, 10, seed=0)
        runs.append(xpnet.train(net, train_data, test_data, iters=iters, seed=0, compile=mode))
    compiled, eager = runs
    np.testing.assert_allclose(compiled.train_loss[:1000], eager.train_loss[:1000], rtol=1e-4)
    assert abs(compiled.test_acc[-1] - eager.test_acc[-1]) <= 0.002
    assert compiled.test_acc[-1] >= 0.94


def test_auto_compiles_where_the_backend_says_it_pays(backend) -> None:
    compiler = backend.library.compiler
    h = xpnet.train(network(), blobs(backend, n=60), iters=3, **RUN)
    expected = compiler is not None and compiler.auto(backend.device)
    assert (h.compile_seconds > 0.0) == expected
    if backend.name == "jax":
        assert expected  # JAX compiles by default: eager JAX is 10x slower than NumPy
    if backend.name == "torch" and backend.device.type == "cpu":
        assert not expected  # a minute of torch.compile does not pay on 10,000 steps


def test_cli_compile_flag_is_checked_before_loading_data(backend, tmp_path, capsys) -> None:
    from xpnet.cli import main

    argv = ["train", "--backend", "numpy", "--compile", "--data-dir", str(tmp_path / "none")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "backend 'numpy' has no compiler" in err
