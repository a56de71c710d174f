"""One matmul-precision policy: set by xpnet, per backend, and gradient checks at the highest.

Written once, run on every backend: libraries without a setting (NumPy,
array-api-strict) report None and are left alone; the others report the
level xpnet set inside the block and their own setting after it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import xpnet
from xpnet.backend import PRECISIONS, matmul_precision, precision_of
from xpnet.errors import XpnetValueError


def has_setting(backend) -> bool:
    return backend.library.precision is not None


@pytest.mark.parametrize("level", PRECISIONS)
def test_matmul_precision_sets_the_level_and_restores_the_library_setting(backend, level) -> None:
    before = precision_of(backend)
    with matmul_precision(backend, level):
        assert precision_of(backend) == (level if has_setting(backend) else None)
        other = "high" if level == "highest" else "highest"
        with matmul_precision(backend.name, other):  # by name too; nested
            assert precision_of(backend) == (other if has_setting(backend) else None)
        assert precision_of(backend) == (level if has_setting(backend) else None)
    assert precision_of(backend) == before


def test_matmul_precision_restores_on_error(backend) -> None:
    before = precision_of(backend)
    with pytest.raises(RuntimeError, match="boom"), matmul_precision(backend, "high"):
        raise RuntimeError("boom")
    assert precision_of(backend) == before


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize("level", ["tf32", "HIGH", None, 1])
def test_unknown_levels_are_refused_before_anything_changes(backend, level) -> None:
    before = precision_of(backend)
    with (
        pytest.raises(XpnetValueError, match=r"`precision` must be one of 'highest', 'high'"),
        matmul_precision(backend, level),
    ):
        pass  # pragma: no cover
    assert precision_of(backend) == before


def test_matrix_products_agree_with_float64_at_the_highest(backend, xp, device) -> None:
    """On a GPU with TF32 the float32 product would be off by ~1e-3 relative; never at 'highest'."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((64, 256)), rng.standard_normal((256, 32))
    with matmul_precision(backend, "high"), matmul_precision(backend, "highest"):
        product = xpnet.to_numpy(
            xpnet.asarray(a, dtype="float32", backend=backend)
            @ xpnet.asarray(b, dtype="float32", backend=backend)
        )
    np.testing.assert_allclose(product, a @ b, rtol=2e-4, atol=2e-4)


def test_gradient_checks_run_at_the_highest_precision(backend, xp) -> None:
    """Whatever the caller set, f and the claimed gradient run at 'highest'."""
    seen = []
    x = xpnet.asarray(np.array([0.5, -1.0, 2.0]), dtype="float32", backend=backend)

    def f(w):
        seen.append(precision_of(backend))
        return xp.sum(w * w)

    def grad(w):
        seen.append(precision_of(backend))
        return 2 * w

    with matmul_precision(backend, "high"):
        assert xpnet.check_grads(f, x, grad).passed
        assert xpnet.check_grads(f, x, grad, mode="fast", seed=0).passed
        assert precision_of(backend) == ("high" if has_setting(backend) else None)
    assert seen and set(seen) == {"highest" if has_setting(backend) else None}


def test_network_checks_run_at_the_highest_precision(backend, monkeypatch) -> None:
    net = xpnet.TwoLayerNet(4, 3, 2, weight_init_std=1.0, seed=0, backend=backend)
    x = xpnet.asarray(np.random.default_rng(0).random((5, 4)), dtype="float32", backend=backend)
    t = xpnet.asarray(
        np.array([0, 1, 1, 0, 1]),
        dtype=xpnet.backend.index_dtype(backend.xp, backend.device),
        backend=backend,
    )
    seen = []
    original = type(net).loss_and_gradient

    def recording(self, *args, **kwargs):
        seen.append(precision_of(backend))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(net), "loss_and_gradient", recording)
    with matmul_precision(backend, "high"):  # fast mode: full mode is slow on eager JAX
        net.check_gradient(x, t, mode="fast", directions=2, seed=0)
    assert seen and set(seen) == {"highest" if has_setting(backend) else None}


class Recorder:
    """A callback that records the backend's precision at every evaluation (inside training)."""

    def __init__(self, backend) -> None:
        self.backend, self.seen = backend, []

    def on_evaluation(self, history) -> bool:
        self.seen.append(precision_of(self.backend))
        return False


def small_data(backend):
    rng = np.random.default_rng(0)
    x = xpnet.asarray(rng.random((40, 4)), dtype="float32", backend=backend)
    labels = (rng.random(40) > 0.5).astype(np.int64)
    t = xpnet.asarray(
        labels, dtype=xpnet.backend.index_dtype(backend.xp, backend.device), backend=backend
    )
    return x, t


@pytest.mark.parametrize("level", PRECISIONS)
def test_training_runs_at_the_precision_it_is_given(backend, level) -> None:
    """Whatever the caller had set: 'highest' by default, 'high' when asked; restored after."""
    other = "high" if level == "highest" else "highest"
    net = xpnet.TwoLayerNet(4, 3, 2, seed=0, backend=backend)
    recorder = Recorder(backend)
    with matmul_precision(backend, other):
        xpnet.train(
            net, small_data(backend), iters=6, batch_size=10, eval_every=2, seed=0, verbose=0,
            callbacks=[recorder], **({} if level == "highest" else {"precision": level}),
        )  # fmt: skip
        assert precision_of(backend) == (other if has_setting(backend) else None)
    assert recorder.seen and set(recorder.seen) == {level if has_setting(backend) else None}


@pytest.mark.reliability("bad input")
def test_a_bad_training_precision_is_refused_before_training(backend) -> None:
    net = xpnet.TwoLayerNet(4, 3, 2, seed=0, backend=backend)
    before = {k: xpnet.to_numpy(v).copy() for k, v in net.params.items()}
    with pytest.raises(XpnetValueError, match=r"`precision` must be one of 'highest', 'high'"):
        xpnet.train(net, small_data(backend), iters=2, batch_size=10, precision="tf32", verbose=0)
    for name, value in before.items():
        np.testing.assert_array_equal(xpnet.to_numpy(net.params[name]), value)


@pytest.mark.mnist
@pytest.mark.parametrize("option", [[], ["--precision", "high"]])
def test_cli_records_the_precision_in_its_summary(backend, mnist_dir, tmp_path, option) -> None:
    import json

    from xpnet.cli import main

    out = tmp_path / "run.json"
    argv = ["train", "--backend", backend.name, "--iters", "3", "--eval-every", "3", "--quiet",
            "--data-dir", str(mnist_dir), "--json", str(out), *option]  # fmt: skip
    if os.environ.get("XPNET_DEVICE"):
        argv += ["--device", os.environ["XPNET_DEVICE"]]
    assert main(argv) == 0
    assert json.loads(out.read_text())["precision"] == (option[1] if option else "highest")


@pytest.mark.backend_independent
def test_cli_refuses_an_unknown_precision(capsys) -> None:
    from xpnet.cli import main

    assert main(["train", "--precision", "tf32"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--precision: invalid choice: 'tf32'" in err
