"""SimpleNet and TwoLayerNet: initialisation, forward, gradients, saving."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from helpers import assert_array, assert_close, dtype_name, read_state_file, write_state_file

import xpnet
from xpnet.backend import float64_available, index_dtype, to_numpy
from xpnet.errors import CheckpointError


@pytest.fixture
def f64(backend):
    if not float64_available(backend):
        pytest.skip("needs float64")
    return backend.xp.float64


def small_problem(backend, dtype, n=6, d=5, c=3, seed=0):
    rng = np.random.default_rng(seed)
    x = xpnet.asarray(rng.random((n, d)), dtype=dtype)
    t = xpnet.asarray(rng.integers(0, c, size=n), dtype=index_dtype(backend.xp, backend.device))
    return x, t


def test_initial_weights_are_the_same_on_every_backend(backend, dtype) -> None:
    """Drawn on the host in the target dtype (float32 directly, no float64 copy), bit for bit."""
    net = xpnet.TwoLayerNet(784, 50, 10, seed=42, dtype=dtype)
    host = np.float64 if dtype_name(backend.xp, dtype) == "float64" else np.float32
    rng = np.random.default_rng(42)
    W1 = rng.standard_normal((784, 50), dtype=host) * host(0.01)
    W2 = rng.standard_normal((50, 10), dtype=host) * host(0.01)
    assert_close(net.params["W1"], W1, backend=backend, dtype=dtype, rtol=0)
    assert_close(net.params["W2"], W2, backend=backend, dtype=dtype, rtol=0)
    assert_close(net.params["b1"], np.zeros(50), backend=backend, dtype=dtype, rtol=0)
    assert_close(net.params["b2"], np.zeros(10), backend=backend, dtype=dtype, rtol=0)


def test_default_dtype_is_float32(backend) -> None:
    net = xpnet.TwoLayerNet(4, 3, 2, seed=0)
    assert_array(net.params["W1"], backend=backend, dtype=backend.xp.float32, shape=(4, 3))


def test_predict_loss_accuracy(backend, dtype) -> None:
    net = xpnet.TwoLayerNet(5, 4, 3, weight_init_std=1.0, seed=0, dtype=dtype)
    x, t = small_problem(backend, dtype)
    probs = net.predict(x)
    assert_close(backend.xp.sum(probs, axis=1), np.ones(6), backend=backend, dtype=dtype, rtol=1e-5)
    ref = to_numpy(probs)
    labels = to_numpy(t)
    expected_loss = -np.mean(np.log(ref[np.arange(6), labels] + 1e-7))
    assert_close(net.loss(x, t), expected_loss, backend=backend, dtype=dtype, rtol=1e-5)
    expected_acc = np.count_nonzero(ref.argmax(axis=1) == labels) / 6
    accuracy = net.accuracy(x, t)
    assert (
        type(accuracy) is float and accuracy == expected_acc
    )  # a Python float, as the book prints
    one_hot = xpnet.asarray(np.eye(3)[labels], dtype=dtype)
    assert net.accuracy(x, one_hot) == expected_acc
    assert_close(net.loss(x, one_hot), expected_loss, backend=backend, dtype=dtype, rtol=1e-5)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_gradcheck_float64(backend, f64, activation) -> None:
    net = xpnet.TwoLayerNet(5, 4, 3, weight_init_std=1.0, activation=activation, seed=3, dtype=f64)
    x, t = small_problem(backend, f64)
    report = xpnet.gradcheck(net, x, t)
    assert set(report) == {"W1", "b1", "W2", "b2"}
    assert all(value < 1e-6 for value in report.values()), report


def test_gradients_keep_backend_and_leave_params_untouched(backend, dtype) -> None:
    net = xpnet.TwoLayerNet(5, 4, 3, weight_init_std=1.0, seed=1, dtype=dtype)
    x, t = small_problem(backend, dtype)
    before = {k: to_numpy(v).copy() for k, v in net.params.items()}
    for grads in (net.gradient(x, t), net.numerical_gradient(x, t)):
        for name, g in grads.items():
            assert_array(g, backend=backend, dtype=dtype, shape=tuple(net.params[name].shape))
    for name, value in net.params.items():
        np.testing.assert_array_equal(to_numpy(value), before[name])


def test_reassigning_and_in_place_updates_both_take_effect(backend, dtype) -> None:
    net = xpnet.TwoLayerNet(5, 4, 3, weight_init_std=1.0, seed=1, dtype=dtype)
    x, _ = small_problem(backend, dtype)
    net.params["b2"] = net.params["b2"] + xpnet.asarray([100.0, 0.0, 0.0], dtype=dtype)
    assert (to_numpy(net.predict(x)).argmax(axis=1) == 0).all()
    if xpnet.backend.is_writeable(net.params["b2"]):
        net.params["b2"][...] = xpnet.asarray([0.0, 0.0, 100.0], dtype=dtype)
        assert (to_numpy(net.predict(x)).argmax(axis=1) == 2).all()


def test_simple_net_chapter_values(backend, f64) -> None:
    W = xpnet.asarray(
        [[0.47355232, 0.9977393, 0.84668094], [0.85557411, 0.03563661, 0.69422093]], dtype=f64
    )
    net = xpnet.SimpleNet(W)
    x = xpnet.asarray([0.6, 0.9], dtype=f64)
    t = xpnet.asarray([0.0, 0.0, 1.0], dtype=f64)
    assert_close(
        net.predict(x), [1.05414809, 0.63071653, 1.1328074], backend=backend, dtype=f64, rtol=1e-7
    )
    # The book prints 0.928068536..., its value without the 1e-7 guard in the log.
    assert_close(net.loss(x, t), 0.9280682857864075, backend=backend, dtype=f64, rtol=1e-9)
    expected = [[0.21924763, 0.14356247, -0.36281009], [0.32887144, 0.2153437, -0.54421514]]
    if xpnet.backend.is_writeable(net.W):
        dW = xpnet.numerical_gradient(lambda w: net.loss(x, t), net.W)  # the chapter's idiom
        assert_close(dW, expected, backend=backend, dtype=f64, rtol=1e-6)
    dW = xpnet.numerical_gradient(lambda w: xpnet.SimpleNet(w).loss(x, t), net.W)
    assert_close(dW, expected, backend=backend, dtype=f64, rtol=1e-6)
    dW = xpnet.numerical_gradient(net.loss, x, t, wrt="W")  # the explicit form
    assert_close(dW, expected, backend=backend, dtype=f64, rtol=1e-6)


def test_simple_net_draws_xpnets_default_float32(backend, f64) -> None:
    host32 = np.random.default_rng(0).standard_normal((2, 3), dtype=np.float32)
    host64 = np.random.default_rng(0).standard_normal((2, 3))
    net = xpnet.SimpleNet(seed=0)
    assert_close(net.W, host32, backend=backend, dtype=backend.xp.float32, rtol=0)
    assert_close(xpnet.SimpleNet(seed=0, dtype="float64").W, host64, backend=backend, dtype=f64)


# --- saving and loading ---------------------------------------------------------


def test_save_and_load_on_every_backend(backend, dtype, tmp_path) -> None:
    net = xpnet.TwoLayerNet(5, 4, 3, weight_init_std=1.0, activation="relu", seed=2, dtype=dtype)
    path = tmp_path / "net.npz"
    net.save(path)
    for target in (backend.name, "numpy"):
        loaded = xpnet.TwoLayerNet.load(path, backend=target)
        assert loaded.get_config() == net.get_config()
        assert loaded.backend.name == target
        for name, value in net.params.items():
            np.testing.assert_array_equal(to_numpy(loaded.params[name]), to_numpy(value))
    # and back: saved on NumPy, loaded on the backend under test
    xpnet.TwoLayerNet.load(path, backend="numpy").save(tmp_path / "np.npz")
    again = xpnet.TwoLayerNet.load(tmp_path / "np.npz")
    assert_close(
        again.params["W1"], to_numpy(net.params["W1"]), backend=backend, dtype=dtype, rtol=0
    )
    assert sorted(os.listdir(tmp_path)) == ["net.npz", "np.npz"]  # no temporary files left


@pytest.mark.reliability("faults")
def test_failed_save_keeps_the_previous_file(backend, tmp_path, monkeypatch) -> None:
    net = xpnet.TwoLayerNet(5, 4, 3, seed=2)
    path = tmp_path / "net.npz"
    net.save(path)
    before = path.read_bytes()

    def broken_savez(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="No space left"):
        xpnet.TwoLayerNet(5, 4, 3, seed=9).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.npz"]


def _tampered(tmp_path, edit):
    net = xpnet.TwoLayerNet(5, 4, 3, seed=2, backend="numpy")
    net.save(tmp_path / "ok.npz")
    meta, arrays = read_state_file(tmp_path / "ok.npz")
    edit(meta, arrays)
    path = tmp_path / "bad.npz"
    write_state_file(path, meta, arrays)
    return path


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda m, a: a.update({"net.W1": np.zeros((4, 5), np.float32)}),
            r"`W1` must be float32 of shape \(5, 4\)",
        ),
        (lambda m, a: a.update({"net.b2": np.zeros(3, np.float64)}), "`b2` must be float32"),
        (lambda m, a: a.pop("net.W2"), r"missing \['net.W2'\]"),
        (lambda m, a: a.update({"net.extra": np.zeros(1)}), r"unexpected \['net.extra'\]"),
        (lambda m, a: m.update({"format": "numpy"}), "not an xpnet file"),
        (lambda m, a: m.update({"version": 99}), "format 99; this xpnet reads format 2"),
        (lambda m, a: m["network"].pop("input_size"), "`input_size` must be an int"),
        (
            lambda m, a: m["network"].update({"hidden_size": 10**9}),
            r"`W1` must be float32 of shape \(5, 1000000000\)",
        ),
        (
            lambda m, a: m["network"].update({"dtype": "int32"}),
            "dtype must be one of float16, float32, float64",
        ),
        (
            lambda m, a: m["network"].update({"class": "MultiLayerNet"}),
            "holds a 'MultiLayerNet', not a TwoLayerNet",
        ),
        (lambda m, a: a.update({"net.b1": np.full(4, np.inf, np.float32)}), "NaN or infinity"),
    ],
)
@pytest.mark.reliability("security")
def test_load_rejects_mismatched_files(tmp_path, edit, message) -> None:
    with pytest.raises(CheckpointError, match=message):
        xpnet.TwoLayerNet.load(_tampered(tmp_path, edit))


@pytest.mark.backend_independent
@pytest.mark.reliability("security")
def test_load_refuses_pickles_and_non_npz(tmp_path) -> None:
    path = tmp_path / "pickle.npz"
    np.savez(path, architecture=np.array([{"class": "TwoLayerNet"}], dtype=object))
    with pytest.raises(CheckpointError, match="holds Python objects"):
        xpnet.TwoLayerNet.load(path)
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError, match="not an xpnet file"):
        xpnet.TwoLayerNet.load(tmp_path / "text.npz")
    with pytest.raises(CheckpointError, match="no such file"):
        xpnet.TwoLayerNet.load(tmp_path / "missing.npz")


@pytest.mark.reliability("data integrity")
def test_files_of_xpnet_0_1_still_load(backend, tmp_path) -> None:
    """Format 1 (xpnet 0.1): a saved network, and the network inside a checkpoint."""
    rng = np.random.default_rng(0)
    params = {
        "W1": rng.random((5, 4)),
        "b1": rng.random(4),
        "W2": rng.random((4, 3)),
        "b2": rng.random(3),
    }
    params = {k: v.astype(np.float32) for k, v in params.items()}
    arch = {"class": "TwoLayerNet", "format_version": 1, "input_size": 5, "hidden_size": 4,
            "output_size": 3, "activation": "relu", "dtype": "float32"}  # fmt: skip
    np.savez(tmp_path / "net.npz", architecture=np.asarray(json.dumps(arch)), **params)
    meta = {"format_version": 1, "architecture": arch, "iteration": 3}
    checkpoint = {f"param.{k}": v for k, v in params.items()}
    np.savez(tmp_path / "ckpt.npz", meta=np.asarray(json.dumps(meta)), **checkpoint)
    for name in ("net.npz", "ckpt.npz"):
        net = xpnet.TwoLayerNet.load(tmp_path / name)
        assert net.activation == "relu" and net.hidden_size == 4
        assert_close(
            net.params["W2"], params["W2"], backend=backend, dtype=backend.xp.float32, rtol=0
        )


def test_a_checkpoint_holds_a_loadable_network(backend, tmp_path) -> None:
    """One state format: TwoLayerNet.load reads the network out of a training checkpoint."""
    x = xpnet.asarray(np.random.default_rng(0).random((20, 5)), dtype="float32")
    t = xpnet.asarray(np.arange(20) % 3, dtype=index_dtype(backend.xp, backend.device))
    net = xpnet.TwoLayerNet(5, 4, 3, seed=2)
    xpnet.train(net, (x, t), iters=4, batch_size=5, checkpoint=tmp_path / "c.npz", verbose=0)
    loaded = xpnet.TwoLayerNet.load(tmp_path / "c.npz")
    for name, value in net.params.items():
        np.testing.assert_array_equal(to_numpy(loaded.params[name]), to_numpy(value))


# --- bad input ----------------------------------------------------------------------


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match=r"`hidden_size` must be positive\. Received: 0"):
        xpnet.TwoLayerNet(784, 0, 10)
    with pytest.raises(TypeError, match="`input_size` must be an int"):
        xpnet.TwoLayerNet(7.5, 5, 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`activation` must be one of 'sigmoid', 'relu'"):
        xpnet.TwoLayerNet(4, 3, 2, activation="tanh")
    with pytest.raises(ValueError, match="`weight_init_std` must be finite"):
        xpnet.TwoLayerNet(4, 3, 2, weight_init_std=float("nan"))


@pytest.mark.reliability("bad input")
def test_bad_batches(backend) -> None:
    net = xpnet.TwoLayerNet(5, 4, 3, seed=0)
    x, t = small_problem(backend, backend.xp.float32)
    with pytest.raises(
        ValueError, match=r"`x` must have shape \(N, 5\) with N > 0. Received: x.shape=\(6, 4\)"
    ):
        net.loss(x[:, :4], t)
    with pytest.raises(TypeError, match="`x` must have the network's dtype"):
        net.predict(xpnet.asarray(np.ones((2, 5)), dtype="int32"))
    with pytest.raises(ValueError, match=r"`t` must have shape \(6,\) \(labels\)"):
        net.loss(x, t[:3])
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        net.gradient(x, t + 3)
    with pytest.raises(ValueError, match=r"`W` must have shape \(2, 3\)"):
        xpnet.SimpleNet(xpnet.asarray(np.ones((3, 3)), dtype="float32"))


@pytest.mark.backend_independent
@pytest.mark.reliability("security")
def test_nothing_in_xpnet_unpickles() -> None:
    """No pickle, no allow_pickle=True, no eval/exec in the package's source."""
    import re
    from pathlib import Path

    source = Path(xpnet.__file__).parent
    pattern = re.compile(
        r"\bimport pickle\b|\bpickle\.|allow_pickle\s*=\s*True|\beval\(|\bexec\(|\bmarshal\b|\bshelve\b"
    )
    offenders = [
        f"{p.name}:{i}"
        for p in source.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
    assert "allow_pickle=False" in (source / "_npz.py").read_text()
