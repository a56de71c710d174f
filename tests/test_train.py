"""The training loop: the chapter's run, agreement across backends, checkpoints."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from helpers import read_state_file, write_state_file

import xpnet
from xpnet.backend import index_dtype, is_writeable, to_numpy
from xpnet.errors import CheckpointError, OutputError
from xpnet.optim import SGD


def blobs(backend, dtype, n=120, d=6, c=3, seed=0):
    """A small separable problem: class k lives around the k-th corner."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=n)
    x = rng.normal(0.0, 0.3, size=(n, d)) + np.eye(c, d)[labels] * 2
    return xpnet.asarray(x, dtype=dtype), xpnet.asarray(
        labels, dtype=index_dtype(backend.xp, backend.device)
    )


def params_of(net):
    return {k: to_numpy(v).copy() for k, v in net.params.items()}


def test_history_shape_and_learning(backend, dtype) -> None:
    data = blobs(backend, dtype)
    net = xpnet.TwoLayerNet(6, 8, 3, weight_init_std=0.5, seed=0, dtype=dtype)
    h = xpnet.train(net, data, data, iters=95, batch_size=20, lr=0.5, seed=0, verbose=0)
    assert len(h.train_loss) == 95 and all(np.isfinite(h.train_loss))
    assert h.eval_iters == [0, 6, 12, 18, 24, 30, 36, 42, 48, 54, 60, 66, 72, 78, 84, 90, 94]
    assert len(h.train_acc) == len(h.test_acc) == 17
    assert h.train_acc[-1] > 0.95 and h.train_acc[-1] == h.test_acc[-1]
    assert np.mean(h.train_loss[-10:]) < np.mean(h.train_loss[:10])
    assert h.seconds > 0
    assert net.params["W1"].dtype == dtype


def test_same_run_as_numpy(backend) -> None:
    """Same seed, same batches and weights: the loss curves agree."""
    runs = []
    for name in ("numpy", backend.name):
        with xpnet.use_backend(name, None if name == "numpy" else backend.device):
            data = blobs(xpnet.get_backend(), "float32")
            net = xpnet.TwoLayerNet(6, 8, 3, weight_init_std=0.5, seed=1)
            runs.append(xpnet.train(net, data, iters=60, batch_size=10, lr=0.5, seed=4, verbose=0))
    np.testing.assert_allclose(runs[1].train_loss, runs[0].train_loss, rtol=1e-4)


def test_numerical_and_backprop_training_agree(backend) -> None:
    if not xpnet.backend.float64_available(backend):
        pytest.skip("needs float64")
    data = blobs(backend, "float64", n=30, d=4)
    results = []
    for grad in ("backprop", "numerical"):
        net = xpnet.TwoLayerNet(4, 3, 3, weight_init_std=0.5, seed=2, dtype="float64")
        h = xpnet.train(net, data, iters=4, batch_size=5, lr=0.5, grad=grad, seed=3, verbose=0)
        results.append((h.train_loss, params_of(net)))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-8)
    for name in results[0][1]:
        np.testing.assert_allclose(results[1][1][name], results[0][1][name], rtol=1e-7, atol=1e-9)


def test_chapter_lines_without_the_bar(backend, capsys) -> None:
    data = blobs(backend, "float32")
    net = xpnet.TwoLayerNet(6, 8, 3, seed=0)
    xpnet.train(net, data, data, iters=13, batch_size=20, seed=0, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # after iterations 0, 6 and 12 (the last)
    assert all(line.startswith("train acc, test acc | 0.") for line in lines)


# NumPy warns about the overflow on its way to the error; that is expected here.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.reliability("faults")
def test_diverging_loss_names_the_iteration(backend) -> None:
    data = blobs(backend, "float32")
    net = xpnet.TwoLayerNet(6, 8, 3, weight_init_std=1.0, activation="relu", seed=0)
    with pytest.raises(FloatingPointError, match=r"at iteration \d+: the learning rate lr=1e\+30"):
        xpnet.train(net, data, iters=20, batch_size=20, lr=1e30, seed=0, verbose=0)


# --- checkpoints --------------------------------------------------------------------


class InterruptAt(SGD):
    """SGD that presses Ctrl-C (a real SIGINT) during update number `at`."""

    def __init__(self, lr: float, at: int) -> None:
        super().__init__(lr)
        self.calls, self.at = 0, at

    def apply(self, params, grads, state):
        result = super().apply(params, grads, state)
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return result


@pytest.mark.parametrize("stop_at", [7, 12, 13])
@pytest.mark.reliability("faults")
def test_interrupt_and_resume_is_exact(backend, tmp_path, stop_at) -> None:
    data = blobs(backend, "float32")
    # InterruptAt acts in Python at every step: the eager loop (test_compile.py covers compiled).
    settings = dict(iters=40, batch_size=10, eval_every=6, seed=5, verbose=0, compile=False)
    reference = xpnet.TwoLayerNet(6, 8, 3, seed=3)
    expected = xpnet.train(reference, data, data, lr=0.5, **settings)

    path = tmp_path / "state.npz"
    net = xpnet.TwoLayerNet(6, 8, 3, seed=3)
    with pytest.raises(KeyboardInterrupt):
        xpnet.train(
            net, data, data, optimizer=InterruptAt(0.5, stop_at), checkpoint=path, **settings
        )
    assert path.exists() and os.listdir(tmp_path) == ["state.npz"]

    fresh = xpnet.TwoLayerNet(6, 8, 3, seed=99)  # its weights come from the checkpoint
    never = InterruptAt(0.5, at=-1)  # the same optimizer, as resuming requires
    resumed = xpnet.train(
        fresh, data, data, optimizer=never, checkpoint=path, resume=True, **settings
    )
    assert resumed.train_loss == expected.train_loss
    assert resumed.train_acc == expected.train_acc and resumed.eval_iters == expected.eval_iters
    for name, value in params_of(reference).items():
        np.testing.assert_array_equal(params_of(fresh)[name], value)


def _small_checkpoint(tmp_path, backend):
    """Train a small network 5 iterations with a checkpoint; return the data and its path."""
    data = blobs(backend, "float32")
    path = tmp_path / "state.npz"
    net = xpnet.TwoLayerNet(6, 8, 3, seed=3)
    xpnet.train(net, data, iters=5, batch_size=10, seed=1, checkpoint=path, verbose=0)
    return data, path


@pytest.mark.reliability("security")
def test_resume_refuses_other_settings(backend, tmp_path) -> None:
    data, path = _small_checkpoint(tmp_path, backend)
    net = xpnet.TwoLayerNet(6, 8, 3, seed=3)
    before = params_of(net)
    with pytest.raises(ValueError, match=r"different settings \(batch_size: 10 -> 20"):
        xpnet.train(
            net, data, iters=5, batch_size=20, seed=1, checkpoint=path, resume=True, verbose=0
        )
    with pytest.raises(ValueError, match=r"holds another network \(hidden_size: 8 -> 9\)"):
        xpnet.train(
            xpnet.TwoLayerNet(6, 9, 3),
            data,
            iters=5,
            batch_size=10,
            seed=1,
            checkpoint=path,
            resume=True,
            verbose=0,
        )
    for name, value in before.items():
        np.testing.assert_array_equal(params_of(net)[name], value)


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch_size": 0}, ValueError, "`batch_size` must be positive"),
        ({"batch_size": 121}, ValueError, "at most the 120 training samples"),
        ({"iters": 0}, ValueError, "`iters` must be positive"),
        ({"lr": 0.0}, ValueError, "`lr` must be a finite positive number"),
        ({"lr": float("nan")}, ValueError, "`lr` must be a finite positive number"),
        ({"grad": "adjoint"}, ValueError, "`grad` must be one of 'backprop', 'numerical'"),
        ({"eval_every": -1}, ValueError, "`eval_every` must be positive"),
        ({"resume": True}, ValueError, "needs a `checkpoint` path"),
        ({"checkpoint": "/no/such/dir/state.npz"}, OutputError, "does not exist"),
    ],
)
@pytest.mark.reliability("bad input")
def test_bad_arguments_change_nothing(backend, kwargs, error, message) -> None:
    data = blobs(backend, "float32")
    net = xpnet.TwoLayerNet(6, 8, 3, seed=0)
    before = params_of(net)
    with pytest.raises(error, match=message):
        xpnet.train(net, data, **{"iters": 3, "batch_size": 10, "verbose": 0, **kwargs})
    for name, value in before.items():
        np.testing.assert_array_equal(params_of(net)[name], value)


@pytest.mark.reliability("bad input")
def test_bad_data(backend) -> None:
    x, t = blobs(backend, "float32")
    net = xpnet.TwoLayerNet(6, 8, 3, seed=0)
    run = dict(iters=2, batch_size=10, verbose=0)
    with pytest.raises(ValueError, match=r"images` must have shape \(N, 6\)"):
        xpnet.train(net, (x[:, :5], t), **run)
    with pytest.raises(TypeError, match="network's dtype"):
        xpnet.train(net, (xpnet.asarray(np.ones((20, 6)), dtype="int32"), t[:20]), **run)
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        xpnet.train(net, (x, t * 2), **run)
    with pytest.raises(ValueError, match=r"labels` must have shape \(120,\)"):
        xpnet.train(net, (x, t[:5]), **run)
    with pytest.raises(TypeError, match=r"pair \(x, t\)"):
        xpnet.train(net, x, **run)
    if backend.name != "numpy":
        with pytest.raises(TypeError, match="one array library"):
            xpnet.train(net, (to_numpy(x), to_numpy(t)), **run)


# --- real MNIST ---------------------------------------------------------------------


@pytest.mark.mnist
def test_first_300_losses_agree_with_numpy_on_mnist(backend, mnist_dir) -> None:
    curves = []
    for b in ("numpy", backend):
        train_data, _ = xpnet.load_mnist(data_dir=mnist_dir, backend=b)
        net = xpnet.TwoLayerNet(784, 50, 10, seed=0, backend=b)
        curves.append(xpnet.train(net, train_data, iters=300, seed=0, verbose=0).train_loss)
    np.testing.assert_allclose(curves[1], curves[0], rtol=1e-4)


@pytest.mark.mnist
@pytest.mark.slow(reason="the chapter's 10,000 iterations on real MNIST")
def test_chapter_training_reaches_094(backend, mnist_dir) -> None:
    if backend.name == "jax":
        pytest.skip("10,000 eager JAX iterations take minutes; agreement is tested above")
    train_data, test_data = xpnet.load_mnist(data_dir=mnist_dir)
    net = xpnet.TwoLayerNet(784, 50, 10, seed=0)
    h = xpnet.train(net, train_data, test_data, seed=0, verbose=0)
    assert len(h.eval_iters) == 18 and h.eval_iters[-1] == 9999
    assert h.test_acc[-1] >= 0.94, h.test_acc
    assert net.accuracy(*test_data) == h.test_acc[-1]
    assert is_writeable(net.params["W1"]) or backend.name == "jax"


def _tampered_checkpoint(tmp_path, backend, edit):
    data, path = _small_checkpoint(tmp_path, backend)
    meta, arrays = read_state_file(path)
    edit(meta, arrays)
    write_state_file(path, meta, arrays)
    return data, path


@pytest.mark.reliability("security")
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda m, a: a.update({"net.W1": a["net.W1"].astype(np.float64)}),
            "`W1` must be float32",
        ),
        (
            lambda m, a: a.update({"net.b1": np.zeros(9, np.float32)}),
            r"`b1` must be float32 of shape \(8,\)",
        ),
        (lambda m, a: a.pop("net.W2"), r"missing \['net.W2'\]"),
        (lambda m, a: a.update({"net.W3": np.zeros(1, np.float32)}), r"unexpected \['net.W3'\]"),
        (lambda m, a: a.update({"evil": np.zeros(1)}), r"unexpected \['evil'\]"),
        (lambda m, a: m.update({"format": "other"}), "not an xpnet file"),
        (lambda m, a: m["training"].update({"iteration": -1}), "damaged checkpoint metadata"),
        (lambda m, a: a.update({"net.W1": a["net.W1"] * np.nan}), "NaN or infinity"),
        (lambda m, a: m.pop("training"), "a saved network, not a training checkpoint"),
    ],
)
def test_resume_rejects_tampered_checkpoints(backend, tmp_path, edit, message) -> None:
    data, path = _tampered_checkpoint(tmp_path, backend, edit)
    net = xpnet.TwoLayerNet(6, 8, 3, seed=3)
    before = params_of(net)
    with pytest.raises(CheckpointError, match=message):
        xpnet.train(
            net, data, iters=5, batch_size=10, seed=1, checkpoint=path, resume=True, verbose=0
        )
    for name, value in before.items():
        np.testing.assert_array_equal(params_of(net)[name], value)


@pytest.mark.reliability("faults")
def test_a_run_without_a_seed_resumes_with_the_seed_it_drew(backend, tmp_path) -> None:
    data = blobs(backend, "float32")
    path = tmp_path / "state.npz"
    settings = dict(batch_size=10, lr=0.5, eval_every=6, checkpoint=path, verbose=0)
    first = xpnet.TwoLayerNet(6, 8, 3, seed=3)
    xpnet.train(first, data, iters=7, **settings)
    saved_seed = read_state_file(path)[0]["training"]["settings"]["seed"]
    resumed = xpnet.train(
        xpnet.TwoLayerNet(6, 8, 3, seed=3), data, iters=20, resume=True, **settings
    )
    reference = xpnet.train(xpnet.TwoLayerNet(6, 8, 3, seed=3), data, iters=20, seed=saved_seed,
                            batch_size=10, lr=0.5, eval_every=6, verbose=0)  # fmt: skip
    assert resumed.train_loss == reference.train_loss
