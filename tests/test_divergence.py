"""Training that diverges says so; a finished run continues to more iterations exactly."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
from helpers import read_state_file

import xpnet
from xpnet.backend import index_dtype, to_numpy
from xpnet.cli import main
from xpnet.errors import DivergenceWarning, TrainingDivergedError
from xpnet.training.divergence import DivergenceMonitor


def blobs(backend, n=120, d=6, c=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=n)
    x = rng.normal(0.0, 0.3, size=(n, d)) + np.eye(c, d)[labels] * 2
    t = xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device))
    return xpnet.asarray(x, dtype="float32"), t


def params_of(net):
    return {k: to_numpy(v).copy() for k, v in net.params.items()}


# --- the monitor's rules, on host numbers ------------------------------------------------


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("losses", "accs", "expected"),
    [
        ([2.3] + [12.0] * 20, [0.1, 0.19], "the loss stayed above 4.6"),
        # One lucky batch does not hide the rest; most of the interval below does.
        ([2.3] + [12.0] * 15 + [2.0] + [12.0] * 4, [0.1, 0.19], "the loss stayed above 4.6"),
        ([2.3] + [12.0] * 14 + [2.0] * 6, [0.1, 0.19], None),
        ([2.3] + [12.0] * 5, [0.1], None),  # too short to judge
        ([2.3] + [2.35] * 300, [0.1, 0.1, 0.11, 0.1], "at chance (0.1000"),
        ([2.3] + [2.35] * 299, [0.1, 0.1, 0.11, 0.1], None),  # too short to call
        ([2.3] + [2.29] * 300, [0.1, 0.1, 0.11, 0.1], None),  # too small a lr: the loss falls
        ([2.3] + [2.35] * 300, [0.1, 0.1, 0.5, 0.1], None),  # learnt something once
    ],
)
def test_the_rules(losses, accs, expected) -> None:
    found = DivergenceMonitor.problem(losses, accs, every=10, samples=50, classes=10, batch_size=1)
    assert (found is None) if expected is None else (expected in found), found


# --- in training -----------------------------------------------------------------------


@pytest.mark.reliability("faults")
def test_diverging_run_warns_once_with_the_lr_hint(backend) -> None:
    data = blobs(backend)
    net = xpnet.TwoLayerNet(6, 8, 3, weight_init_std=1.0, seed=0)
    with pytest.warns(DivergenceWarning) as caught:
        xpnet.train(net, data, iters=60, batch_size=10, lr=300.0, seed=0, verbose=0)
    assert len(caught) == 1, [str(w.message) for w in caught]
    message = str(caught[0].message)
    assert (
        "the learning rate lr=300 is probably too large. Try a smaller one, such as 0.1" in message
    )
    assert caught[0].filename == __file__  # it points at the caller's train(...) line


@pytest.mark.reliability("faults")
def test_fail_on_divergence_raises(backend) -> None:
    data = blobs(backend)
    net = xpnet.TwoLayerNet(6, 8, 3, weight_init_std=1.0, seed=0)
    with pytest.raises(TrainingDivergedError, match="Training is diverging: the loss stayed above"):
        xpnet.train(
            net, data, iters=60, batch_size=10, lr=300.0, seed=0, verbose=0, fail_on_divergence=True
        )


def test_a_healthy_run_does_not_warn(backend) -> None:
    data = blobs(backend)
    net = xpnet.TwoLayerNet(6, 8, 3, weight_init_std=0.5, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = xpnet.train(
            net, data, iters=120, batch_size=10, lr=0.5, seed=0, verbose=0, fail_on_divergence=True
        )
    assert h.train_acc[-1] > 0.9


@pytest.mark.mnist
@pytest.mark.slow(reason="1,801 iterations on real MNIST: 27 s of CPU on array-api-strict")
def test_the_chapters_run_does_not_warn(backend, mnist_dir) -> None:
    """Three epochs of the chapter's settings: past every point where the monitor could fire."""
    if backend.name == "jax":
        pytest.skip("1,800 eager JAX iterations take minutes; the monitor reads host numbers only")
    train_data, test_data = xpnet.load_mnist(data_dir=mnist_dir)
    net = xpnet.TwoLayerNet(784, 50, 10, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = xpnet.train(
            net, train_data, test_data, iters=1801, seed=0, verbose=0, fail_on_divergence=True
        )
    assert h.eval_iters == [0, 600, 1200, 1800] and h.test_acc[-1] > 0.85


@pytest.mark.mnist
@pytest.mark.reliability("faults")
def test_cli_lr_50_warns_and_fail_on_divergence_exits_1(backend, mnist_dir, capsys) -> None:
    if backend.name == "jax":
        pytest.skip("the CLI path is backend-independent; eager JAX is slow")
    argv = ["train", "--lr", "50", "--iters", "101", "--eval-every", "100"]
    argv += ["--data-dir", str(mnist_dir), "--backend", backend.name, "--quiet"]
    argv += ["--device", os.environ["XPNET_DEVICE"]] if os.environ.get("XPNET_DEVICE") else []
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.startswith("xpnet: warning: Training is diverging: the loss stayed above"), err
    assert (
        "lr=50 is probably too large" in err and "--fail-on-divergence to make this an error" in err
    )
    assert len(err.strip().splitlines()) == 1
    assert main([*argv, "--fail-on-divergence"]) == 1
    assert capsys.readouterr().err.startswith("xpnet: training failed: Training is diverging")


# --- continuing a finished run -------------------------------------------------------------


def test_300_continued_to_1000_is_the_1000_iteration_run(backend, tmp_path) -> None:
    """Bit for bit: losses, accuracies, the evaluation schedule and the weights."""
    data = blobs(backend)
    settings = dict(batch_size=10, lr=0.5, eval_every=120, seed=5, verbose=0)
    reference = xpnet.TwoLayerNet(6, 8, 3, seed=3)
    expected = xpnet.train(reference, data, data, iters=1000, **settings)

    path = tmp_path / "state.npz"
    net = xpnet.TwoLayerNet(6, 8, 3, seed=3)
    first = xpnet.train(net, data, data, iters=300, checkpoint=path, **settings)
    assert first.eval_iters[-1] == 299  # the finished run's own last evaluation...
    again = xpnet.TwoLayerNet(6, 8, 3, seed=99)  # weights come from the checkpoint
    resumed = xpnet.train(again, data, data, iters=1000, checkpoint=path, resume=True, **settings)
    assert 299 not in resumed.eval_iters  # ...is off the longer run's schedule: dropped
    assert resumed.train_loss == expected.train_loss
    assert resumed.eval_iters == expected.eval_iters
    assert resumed.train_acc == expected.train_acc and resumed.test_acc == expected.test_acc
    for name, value in params_of(reference).items():
        np.testing.assert_array_equal(params_of(again)[name], value)


@pytest.mark.mnist
def test_cli_resume_extends_a_finished_run(backend, mnist_dir, tmp_path, capsys) -> None:
    base = ["train", "--data-dir", str(mnist_dir), "--backend", backend.name, "--eval-every", "40"]
    base += ["--device", os.environ["XPNET_DEVICE"]] if os.environ.get("XPNET_DEVICE") else []
    ckpt, whole = tmp_path / "c.npz", tmp_path / "whole.json"
    assert main([*base, "--iters", "100", "--json", str(whole)]) == 0
    assert main([*base, "--iters", "30", "--checkpoint", str(ckpt)]) == 0
    part = tmp_path / "part.json"
    assert (
        main([*base, "--iters", "100", "--checkpoint", str(ckpt), "--resume", "--json", str(part)])
        == 0
    )
    capsys.readouterr()
    a, b = (json.loads(p.read_text())["history"] for p in (whole, part))
    for key in ("train_loss", "eval_iters", "train_acc", "test_acc"):
        assert a[key] == b[key], key
    meta, _ = read_state_file(ckpt)
    assert meta["training"]["iteration"] == 100


@pytest.mark.mnist
@pytest.mark.slow(reason="1,801 iterations on real MNIST")
def test_lr_10_stays_at_chance_and_warns(backend, mnist_dir) -> None:
    """The second rule on the real thing: lr=10 keeps the loss near 2.3 and accuracy at chance."""
    if backend.name == "jax":
        pytest.skip("1,800 eager JAX iterations take minutes; the monitor reads host numbers only")
    train_data, _ = xpnet.load_mnist(data_dir=mnist_dir)
    net = xpnet.TwoLayerNet(784, 50, 10, seed=0)
    with pytest.warns(DivergenceWarning, match=r"still at chance .* after 3 evaluations"):
        xpnet.train(net, train_data, iters=1801, lr=10.0, seed=0, verbose=0)
