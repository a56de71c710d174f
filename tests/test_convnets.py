"""SimpleConvNet and DeepConvNet: the book's names and shapes, gradients, training eager
and compiled, files, on every backend; and a short real run on MNIST."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_array

import xpnet
from xpnet.backend import float64_available, index_dtype, native, portable, to_numpy
from xpnet.nets import DeepConvNet, SimpleConvNet

SMALL = {"filter_num": 4, "filter_size": 3, "pad": 0, "stride": 1}


def images(backend, n=40, size=8, classes=3, seed=0, dtype="float32"):
    """Blobs in the corners of small images: class k is bright in corner k."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    x = rng.normal(0.0, 0.3, (n, 1, size, size))
    half = size // 2
    for i, k in enumerate(labels):
        row, col = divmod(int(k), 2)
        x[i, 0, row * half : (row + 1) * half, col * half : (col + 1) * half] += 1.0
    return (
        xpnet.asarray(x, dtype=dtype),
        xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device)),
    )


def small_net(**kw):
    return SimpleConvNet((1, 8, 8), SMALL, hidden_size=10, output_size=3, **kw)


def test_the_books_names_and_shapes(backend) -> None:
    net = SimpleConvNet(seed=0)
    assert [(k, tuple(v.shape)) for k, v in net.params.items()] == [
        ("W1", (30, 1, 5, 5)), ("b1", (30,)), ("W2", (4320, 100)), ("b2", (100,)),
        ("W3", (100, 10)), ("b3", (10,)),
    ]  # fmt: skip
    assert_array(net.params["W1"], backend=backend, dtype=backend.xp.float32, shape=(30, 1, 5, 5))
    deep = DeepConvNet(seed=0)
    assert list(deep.params) == [f"{p}{i}" for i in range(1, 9) for p in ("W", "b")]
    assert tuple(deep.params["W7"].shape) == (64 * 4 * 4, 50) and list(deep.buffers) == [
        "dropout_key"
    ]
    np.testing.assert_allclose(  # He initialisation: sqrt(2 / fan-in), fan-in 16 * 3 * 3
        np.std(to_numpy(deep.params["W2"])), np.sqrt(2 / 144), rtol=0.05
    )


def test_the_same_seed_gives_the_same_weights_on_every_backend(backend) -> None:
    host = SimpleConvNet(seed=3, backend="numpy")
    here = SimpleConvNet(seed=3)
    for name, value in here.params.items():
        np.testing.assert_array_equal(to_numpy(value), to_numpy(host.params[name]))


@pytest.mark.parametrize("way", ["portable", "native"])
def test_backpropagation_passes_the_gradient_check(backend, way) -> None:
    if way == "native" and native(backend.xp, "conv2d") is None:
        pytest.skip(f"{backend.name} has no native convolution")
    if not float64_available(backend):
        pytest.skip("needs float64")
    x, t = images(backend, n=6, dtype="float64")
    net = small_net(dtype="float64", seed=1, weight_init_std=0.3)
    with portable() if way == "portable" else _nothing():
        assert net.check_gradient(x, t, mode="fast", seed=0).passed


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


RUN = dict(iters=60, batch_size=10, optimizer="adam", lr=0.02, seed=0, verbose=0)


def test_it_trains(backend) -> None:
    x, t = images(backend)
    h = xpnet.train(small_net(seed=2), (x, t), compile=False, **RUN)
    assert h.train_acc[-1] > 0.8 > h.train_acc[0]


@pytest.mark.slow(reason="torch.compile takes about a minute for a convolutional step on 2 cores")
def test_compiled_training_is_eager_training(backend) -> None:
    if backend.library.compiler is None:
        pytest.skip(f"{backend.name} has no compiler")
    x, t = images(backend)
    h = xpnet.train(small_net(seed=2), (x, t), compile=False, **RUN)
    hc = xpnet.train(small_net(seed=2), (x, t), compile=True, **RUN)
    np.testing.assert_allclose(hc.train_loss[:20], h.train_loss[:20], rtol=1e-3)


def test_accuracy_in_batches_is_the_accuracy(backend) -> None:
    x, t = images(backend, n=37)
    net = small_net(seed=4)
    assert net.accuracy(x, t, batch_size=5) == net.accuracy(x, t, batch_size=None)
    flat = backend.xp.reshape(x, (37, 64))  # flat images take the network's shape
    assert net.accuracy(flat, t) == net.accuracy(x, t)


def test_save_params_and_load_params(backend, tmp_path) -> None:
    x, _ = images(backend, n=4)
    net, other = small_net(seed=5), small_net(seed=6)
    net.save_params(tmp_path / "p.npz")
    other.load_params(tmp_path / "p.npz")
    np.testing.assert_array_equal(to_numpy(other.predict(x)), to_numpy(net.predict(x)))
    again = SimpleConvNet.load(tmp_path / "p.npz")
    assert again.get_config() == net.get_config()
    deep = DeepConvNet(seed=0)
    deep.save(tmp_path / "d.npz")
    assert DeepConvNet.load(tmp_path / "d.npz").get_config() == deep.get_config()


@pytest.mark.reliability("bad input")
def test_bad_conv_params_are_named(backend) -> None:
    with pytest.raises(xpnet.errors.XpnetValueError, match="`conv_param` must be a dict"):
        SimpleConvNet(conv_param={"filter_num": 3})
    with pytest.raises(xpnet.errors.XpnetTypeError, match="`input_dim` must be"):
        SimpleConvNet(input_dim=(28, 28))


@pytest.mark.slow(reason="300 convolutional iterations and 1,000 evaluations: a minute on a CPU")
@pytest.mark.mnist
def test_300_iterations_reach_090_on_mnist(backend, mnist_dir) -> None:
    """The book's settings (Adam, lr 0.001, batch 100), 300 iterations (slow: minutes on 2 cores).

    On NumPy (the portable im2col path), PyTorch and JAX (their natives, JAX compiled);
    array-api-strict runs the portable path as NumPy does, a minute more for no new code.
    """
    if backend.name == "array_api_strict":
        pytest.skip("the portable path learns in the NumPy session; small shapes cover it here")
    train_data, test_data = xpnet.load_mnist(data_dir=mnist_dir, flatten=False)
    net = SimpleConvNet(seed=0)
    history = xpnet.train(
        net, train_data, test_data, iters=300, optimizer="adam", lr=0.001, seed=0,
        eval_every=300, verbose=0,
    )  # fmt: skip
    assert history.test_acc[-1] >= 0.90
    assert_array(net.params["W1"], backend=backend, dtype=backend.xp.float32, shape=(30, 1, 5, 5))


def test_float16_inference_agrees_with_float32(backend) -> None:
    """Chapter 8's half-float network: the same answers, within float16's rounding."""
    if not hasattr(backend.xp, "float16"):
        pytest.skip(f"{backend.name} has no float16")
    x, t = images(backend, n=30)
    net = small_net(seed=7, weight_init_std=0.3)
    half = net.astype("float16")
    assert half.params["W1"].dtype == backend.xp.float16
    assert net.params["W1"].dtype == backend.xp.float32  # the original is left alone
    np.testing.assert_allclose(
        to_numpy(half.predict(x)).astype(np.float32), to_numpy(net.predict(x)), atol=0.05
    )
    assert abs(half.accuracy(x, t) - net.accuracy(x, t)) <= 2 / 30


@pytest.mark.mnist
def test_the_command_line_trains_a_convnet_and_draws_its_filters(
    backend, mnist_dir, tmp_path
) -> None:
    import os

    from xpnet.cli import main

    device = ["--device", os.environ["XPNET_DEVICE"]] if os.environ.get("XPNET_DEVICE") else []
    ckpt, out = tmp_path / "c.npz", tmp_path / "f.png"
    argv = ["train", "--model", "simple-convnet", "--iters", "5", "--eval-samples", "200",
            "--backend", backend.name, *device, "--data-dir", str(mnist_dir), "--checkpoint",
            str(ckpt), "--json", str(tmp_path / "s.json"), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    import json

    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["model"] == "simple-convnet" and summary["network"]["class"] == "SimpleConvNet"
    assert summary["history"]["eval_iters"] == [0, 4]
    assert main(["plot", "filters", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
