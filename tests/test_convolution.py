"""Chapter 7's layers on every backend: im2col/col2im against loops, Convolution and
Pooling against a direct convolution, their gradients against finite differences and
the autodiff oracle, and the libraries' natives against the portable path."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import xpnet
from xpnet.backend import float64_available, native, portable, to_numpy
from xpnet.layers import Convolution, Pooling, col2im, im2col

#: (stride, pad) of the cases, and the shapes: batch, channels, height, width, filters, size.
CASES = [(1, 0), (1, 1), (2, 0), (2, 1), (3, 2)]
N, C, H, W, FN, FS = 2, 3, 7, 6, 4, 3


@pytest.fixture
def f64(backend):
    if not float64_available(backend):
        pytest.skip("needs float64")
    return backend.xp.float64


def random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


# -- oracles: loops over every sample and pixel, in NumPy ------------------------------


def im2col_loops(x, fh, fw, stride, pad):
    n, _, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    rows = []
    for i in range(n):
        for y in range(oh):
            for x_ in range(ow):
                patch = xp[i, :, y * stride : y * stride + fh, x_ * stride : x_ * stride + fw]
                rows.append(patch.reshape(-1))
    return np.array(rows)


def convolve_loops(x, W, b, stride, pad):
    n, _, h, w = x.shape
    fn, _, fh, fw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    out = np.zeros((n, fn, oh, ow))
    for i in range(n):
        for f in range(fn):
            for y in range(oh):
                for x_ in range(ow):
                    patch = xp[i, :, y * stride : y * stride + fh, x_ * stride : x_ * stride + fw]
                    out[i, f, y, x_] = np.sum(patch * W[f]) + b[f]
    return out


def pool_loops(x, ph, pw, stride):
    n, c, h, w = x.shape
    oh, ow = (h - ph) // stride + 1, (w - pw) // stride + 1
    out = np.zeros((n, c, oh, ow))
    for y in range(oh):
        for x_ in range(ow):
            window = x[:, :, y * stride : y * stride + ph, x_ * stride : x_ * stride + pw]
            out[:, :, y, x_] = window.max(axis=(2, 3))
    return out


# -- im2col and col2im ---------------------------------------------------------------------


@pytest.mark.parametrize(("stride", "pad"), CASES)
def test_im2col_matches_the_loops(backend, f64, stride, pad) -> None:
    x = random((N, C, H, W))
    col = im2col(xpnet.asarray(x, dtype=f64), FS, FS, stride, pad)
    assert_close(col, im2col_loops(x, FS, FS, stride, pad), backend=backend, dtype=f64)


@pytest.mark.parametrize(("stride", "pad"), CASES)
def test_col2im_is_the_adjoint_of_im2col(backend, f64, stride, pad) -> None:
    """<im2col(x), c> = <x, col2im(c)>: col2im is im2col's backward."""
    x = random((N, C, H, W), seed=1)
    expected_col = im2col_loops(x, FS, FS, stride, pad)
    c = random(expected_col.shape, seed=2)
    back = col2im(xpnet.asarray(c, dtype=f64), x.shape, FS, FS, stride, pad)
    assert tuple(back.shape) == x.shape
    np.testing.assert_allclose(np.sum(to_numpy(back) * x), np.sum(expected_col * c), rtol=1e-12)


# -- Convolution ---------------------------------------------------------------------------


def conv_arrays(f64, seed=0):
    x, w, b = random((N, C, H, W), seed), random((FN, C, FS, FS), seed + 1), random(FN, seed + 2)
    return (x, w, b), [xpnet.asarray(a, dtype=f64) for a in (x, w, b)]


@pytest.mark.parametrize(("stride", "pad"), CASES)
@pytest.mark.parametrize("way", ["portable", "native"])
def test_convolution_matches_a_direct_convolution(backend, f64, stride, pad, way) -> None:
    if way == "native" and native(backend.xp, "conv2d") is None:
        pytest.skip(f"{backend.name} has no native convolution")
    (x, w, b), (xa, wa, ba) = conv_arrays(f64)
    layer = Convolution(wa, ba, stride=stride, pad=pad)
    with portable() if way == "portable" else _nothing():
        out = layer.forward(xa)
    assert_close(out, convolve_loops(x, w, b, stride, pad), backend=backend, dtype=f64)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize(("stride", "pad"), CASES[:4])
@pytest.mark.parametrize("way", ["portable", "native"])
def test_convolution_gradients_pass_the_check(backend, f64, stride, pad, way) -> None:
    if way == "native" and native(backend.xp, "conv2d") is None:
        pytest.skip(f"{backend.name} has no native convolution")
    _, (x, w, b) = conv_arrays(f64, seed=3)
    dout_shape = Convolution(w, b, stride, pad).forward(x).shape
    dout = xpnet.asarray(random(tuple(dout_shape), seed=9), dtype=f64)
    xp = backend.xp

    def objective(p):
        return xp.sum(Convolution(p["W"], p["b"], stride, pad).forward(p["x"]) * dout)

    with portable() if way == "portable" else _nothing():
        layer = Convolution(w, b, stride, pad)
        layer.forward(x)
        claimed = {"x": layer.backward(dout), "W": layer.dW, "b": layer.db}
        assert xpnet.check_grads(objective, {"x": x, "W": w, "b": b}, claimed).passed


def test_natives_agree_with_the_portable_path(backend, f64) -> None:
    """Every backend with a native convolution or pooling: forward and backward, to rounding."""
    if native(backend.xp, "conv2d") is None:
        pytest.skip(f"{backend.name} has no natives for chapter 7")
    _, (x, w, b) = conv_arrays(f64, seed=5)
    results = {}
    for way in ("native", "portable"):
        with portable() if way == "portable" else _nothing():
            conv, pool = Convolution(w, b, 1, 1), Pooling(2, 2, stride=2)
            out = pool.forward(conv.forward(x))
            dout = xpnet.asarray(random(tuple(out.shape), seed=7), dtype=f64)
            dx = conv.backward(pool.backward(dout))
            results[way] = [to_numpy(a) for a in (out, dx, conv.dW, conv.db)]
    for got, reference in zip(results["native"], results["portable"], strict=True):
        np.testing.assert_allclose(got, reference, rtol=1e-10, atol=1e-12)


def test_convolution_matches_the_autodiff_oracle(backend, f64) -> None:
    _, (x, w, b) = conv_arrays(f64, seed=11)
    dout = xpnet.asarray(random((N, FN, H, W), seed=12), dtype=f64)
    params = {"x": x, "W": w, "b": b}
    xp = backend.xp

    def objective(p):
        with portable():  # the oracle differentiates xpnet's portable forward
            return xp.sum(Convolution(p["W"], p["b"], 1, 1).forward(p["x"]) * dout)

    if backend.name == "torch":
        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        objective(leaves).backward()
        oracle = {k: v.grad for k, v in leaves.items()}
    elif backend.name == "jax":
        import jax

        oracle = jax.grad(objective)(params)
    else:
        pytest.skip("no autodiff oracle on this backend (torch and jax sessions have one)")
    layer = Convolution(w, b, 1, 1)
    layer.forward(x)
    got = {"x": layer.backward(dout), "W": layer.dW, "b": layer.db}
    for name, value in got.items():
        assert_close(value, to_numpy(oracle[name]), backend=backend, dtype=f64, rtol=1e-10,
                     atol=1e-12)  # fmt: skip


# -- Pooling ---------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "stride"), [(2, 2), (3, 1), (2, 1)])
@pytest.mark.parametrize("way", ["portable", "native"])
def test_pooling_takes_each_windows_maximum(backend, f64, size, stride, way) -> None:
    if way == "native" and native(backend.xp, "max_pool2d") is None:
        pytest.skip(f"{backend.name} has no native pooling")
    x = random((N, C, H, W), seed=4)
    with portable() if way == "portable" else _nothing():
        out = Pooling(size, size, stride=stride).forward(xpnet.asarray(x, dtype=f64))
    assert_close(out, pool_loops(x, size, size, stride), backend=backend, dtype=f64)


@pytest.mark.parametrize("way", ["portable", "native"])
def test_pooling_gradient_passes_the_check(backend, f64, way) -> None:
    if way == "native" and native(backend.xp, "max_pool2d") is None:
        pytest.skip(f"{backend.name} has no native pooling")
    x = xpnet.asarray(random((N, C, 6, 6), seed=6), dtype=f64)  # no ties: a gradient exists
    dout = xpnet.asarray(random((N, C, 3, 3), seed=8), dtype=f64)
    xp = backend.xp
    with portable() if way == "portable" else _nothing():
        layer = Pooling(2, 2, stride=2)
        layer.forward(x)
        dx = layer.backward(dout)
        check = xpnet.check_grads(
            lambda p: xp.sum(Pooling(2, 2, stride=2).forward(p) * dout), x, dx
        )
    assert check.passed


def test_the_book_layers_keep_their_attributes(backend, f64) -> None:
    _, (x, w, b) = conv_arrays(f64)
    conv = Convolution(w, b, stride=1, pad=0)
    out = conv.forward(x)
    assert tuple(out.shape) == (N, FN, H - FS + 1, W - FS + 1)
    conv.backward(backend.xp.ones_like(out))
    assert tuple(conv.dW.shape) == (FN, C, FS, FS) and tuple(conv.db.shape) == (FN,)
    assert conv.W is w and conv.stride == 1 and conv.pad == 0


@pytest.mark.reliability("bad input")
def test_bad_shapes_are_named(backend) -> None:
    with pytest.raises(xpnet.errors.XpnetValueError, match="images of shape \\(C, H, W\\)"):
        xpnet.Sequential([Convolution(filters=2, size=3), xpnet.layers.Affine(units=2)], (784,))
    with pytest.raises(xpnet.errors.XpnetValueError, match="does not fit 4x4 images"):
        xpnet.Sequential([Convolution(filters=2, size=5), xpnet.layers.Affine(units=2)], (1, 4, 4))
    with pytest.raises(xpnet.errors.XpnetValueError, match="Pooling needs images of shape"):
        xpnet.Sequential([Pooling(2, 2), xpnet.layers.Affine(units=2)], (784,))
    with pytest.raises(xpnet.errors.XpnetValueError, match="Pooling: a 5x5 window does not fit"):
        xpnet.Sequential([Pooling(5, 5), xpnet.layers.Affine(units=2)], (1, 4, 4))
    with pytest.raises(xpnet.errors.XpnetTypeError, match="Convolution\\(filters=FN, size=FH\\)"):
        Convolution(np.ones((3, 3)), np.ones(3))
