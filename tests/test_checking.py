"""check_grads and what is built on it: pass on correct gradients, fail on wrong ones.

The mutation check feeds deliberately wrong gradients (one element off by 1e-3
relative, a transposed matrix, the gradient scaled by 1.01, a bias's sign
flipped) on every backend and dtype: full mode must catch every one, fast
mode every one but the single element. Correct gradients must pass, in float32
as in float64, without tuning.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from helpers import dtype_name
from hypothesis import given, settings
from hypothesis import strategies as st

import xpnet
from xpnet.backend import float64_available, to_numpy
from xpnet.checking import check_network_gradient
from xpnet.cli import main
from xpnet.errors import GradientCheckError, XpnetError, XpnetTypeError, XpnetValueError
from xpnet.testing import assert_grads_close

# -- a small layer: f(W, b) = sum(c * tanh(W @ a + b)), W square ----------------------

A = np.array([0.9, -1.3, 0.6, 1.1])
C = np.array([1.2, -0.7, 1.0, 0.8])


def layer_point(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"W": rng.uniform(-0.8, 0.8, (4, 4)), "b": rng.uniform(-0.5, 0.5, 4)}


def layer_loss(xp, p):
    a, c = (
        xpnet.asarray(v, dtype=p["W"].dtype, device=xpnet.backend.device(p["W"])) for v in (A, C)
    )
    return xp.sum(c * xp.tanh(p["W"] @ a + p["b"]))


def layer_grad(host: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The exact gradient, in float64 on the host."""
    d = C * (1 - np.tanh(host["W"] @ A + host["b"]) ** 2)
    return {"W": np.outer(d, A), "b": d}


def one_element(g):
    W = g["W"].copy()
    i = np.unravel_index(np.abs(W).argmax(), W.shape)
    W[i] *= 1 + 1e-3
    return {**g, "W": W}


MUTATIONS = {
    "one element off by 1e-3": one_element,
    "transposed matrix": lambda g: {**g, "W": g["W"].T.copy()},
    "scaled by 1.01": lambda g: {k: 1.01 * v for k, v in g.items()},
    "bias sign flipped": lambda g: {**g, "b": -g["b"]},
}


def on_backend(host: dict[str, np.ndarray], dtype) -> dict:
    return {k: xpnet.asarray(v, dtype=dtype) for k, v in host.items()}


def host_copy(arrays: dict) -> dict[str, np.ndarray]:
    return {k: to_numpy(v).copy() for k, v in arrays.items()}


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_correct_gradient_passes_and_x_is_unchanged(backend, dtype, mode) -> None:
    host = layer_point()
    x = on_backend(host, dtype)
    before = host_copy(x)
    report = xpnet.check_grads(
        lambda p: layer_loss(backend.xp, p),
        x,
        on_backend(layer_grad(host), dtype),
        mode=mode,
        seed=0,
    )
    assert report.passed and report.mode == mode
    assert report.dtype == dtype_name(backend.xp, dtype)
    for name, value in x.items():
        np.testing.assert_array_equal(to_numpy(value), before[name])
    # a second step is taken where the first comparison is not conclusive
    if mode == "full":
        assert set(report.arrays) == {"W", "b"}
        extra = sum(2 * a.compared for a in report.arrays.values() if a.rechecked)
        assert report.evaluations == report.calls == 2 * 20 + 1 + extra
        assert report.arrays["W"].compared == 16 and report.arrays["W"].failures == 0
    else:
        assert set(report.arrays) == {"W+b"} and report.arrays["W+b"].compared == 4
        extra = 2 * 4 if report.arrays["W+b"].rechecked else 0
        assert report.evaluations == 2 * 4 + 1 + extra and report.seed == 0


@pytest.mark.parametrize(
    ("mode", "mutation"),
    # fast mode is not asked to see one element of 20 off by 1e-3; full mode must
    [("full", m) for m in sorted(MUTATIONS)]
    + [("fast", m) for m in sorted(MUTATIONS) if m != "one element off by 1e-3"],
)
def test_wrong_gradients_are_caught(backend, dtype, mode, mutation) -> None:
    host = layer_point()
    x = on_backend(host, dtype)
    wrong = on_backend(MUTATIONS[mutation](layer_grad(host)), dtype)
    for seed in range(5) if mode == "fast" else [None]:
        with pytest.raises(GradientCheckError) as info:
            xpnet.check_grads(lambda p: layer_loss(backend.xp, p), x, wrong, mode=mode, seed=seed)
        report = info.value.report
        assert not report.passed and str(report) in str(info.value)
    if mode == "fast":
        assert "mode='full'" in str(info.value)  # the hint to locate the elements
    elif mutation == "one element off by 1e-3":
        g = layer_grad(host)["W"]
        worst = report.arrays["W"].worst[0]
        assert report.arrays["W"].failures == 1 and report.arrays["b"].passed
        assert worst.index == np.unravel_index(np.abs(g).argmax(), g.shape)
        assert worst.claimed == pytest.approx(g[worst.index] * (1 + 1e-3), rel=1e-6)


def test_a_transposed_non_square_gradient_is_refused_by_shape(backend) -> None:
    x = xpnet.asarray(np.ones((2, 3)), dtype="float32")
    with pytest.raises(XpnetValueError, match=r"`grad` must have the shape of `x`, \(2, 3\)"):
        wrong = backend.xp.ones((3, 2), dtype=x.dtype, device=backend.device)
        xpnet.check_grads(lambda w: backend.xp.sum(w**2), x, wrong)


# -- correct gradients pass: 200 examples, both dtypes, both modes ----------------------

FUNCTIONS = {
    "x sin x": (lambda xp, x: xp.sum(xp.sin(x) * x), lambda x: np.sin(x) + x * np.cos(x)),
    "x**3 / 3": (lambda xp, x: xp.sum(x**3) / 3, lambda x: x**2),
    "log-sum-exp": (
        lambda xp, x: xp.log(xp.sum(xp.exp(x))),
        lambda x: np.exp(x) / np.exp(x).sum(),
    ),
    "sigmoid": (
        lambda xp, x: xp.sum(xpnet.sigmoid(3 * x)),
        lambda x: 3 / (2 + np.exp(3 * x) + np.exp(-3 * x)),
    ),
}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    kind=st.sampled_from([*sorted(FUNCTIONS), "layer"]),
    size=st.sampled_from([1, 3, 5]),  # few shapes: JAX compiles each once
    seed=st.integers(0, 2**16),
    dtype_name=st.sampled_from(["float32", "float64"]),
    mode=st.sampled_from(["full", "fast"]),
    order=st.sampled_from([2, 4]),
)
def test_correct_gradients_pass(backend, kind, size, seed, dtype_name, mode, order) -> None:
    if dtype_name == "float64" and not float64_available(backend):
        dtype_name = "float32"
    xp, rng = backend.xp, np.random.default_rng(seed)
    if kind == "layer":
        host = layer_point(seed)
        x, grad = on_backend(host, dtype_name), on_backend(layer_grad(host), dtype_name)
        f = lambda p: layer_loss(xp, p)  # noqa: E731
    else:
        func, derivative = FUNCTIONS[kind]
        host = rng.uniform(-2, 2, size)
        x = xpnet.asarray(host, dtype=dtype_name)
        grad = xpnet.asarray(derivative(to_numpy(x).astype(np.float64)), dtype=dtype_name)
        f = lambda w: func(xp, w)  # noqa: E731
    xpnet.check_grads(f, x, grad, mode=mode, order=order, seed=seed)


# -- the report, batched f, order 4, the seed ------------------------------------------


def test_order_4_and_batched_agree_and_count_evaluations(backend, dtype) -> None:
    xp = backend.xp
    host = np.array([[0.5, -1.0], [2.0, 0.3]])
    x = xpnet.asarray(host, dtype=dtype)
    grad = xpnet.asarray(np.sin(host) + host * np.cos(host), dtype=dtype)

    def batched_f(points):  # (B, 2, 2) -> (B,)
        return xp.sum(xp.sin(points) * points, axis=(1, 2))

    one = xpnet.check_grads(lambda w: xp.sum(xp.sin(w) * w), x, grad, order=4)
    stacked = xpnet.check_grads(batched_f, x, grad, order=4, batched=True)
    assert not one.arrays["x"].rechecked and not stacked.arrays["x"].rechecked
    assert one.evaluations == one.calls == 4 * 4 + 1
    assert stacked.evaluations == 4 * 4 + 1 and stacked.calls == 3  # f(x), D(h), D(2h)
    assert stacked.engine == "batched central differences"
    fast = xpnet.check_grads(batched_f, x, grad, mode="fast", batched=True, seed=1)
    assert not fast.arrays["x"].rechecked
    assert fast.calls == 1 + 4 and fast.evaluations == 1 + 2 * 4
    # Each report ranks its worst elements by error, and near-equal errors may rank
    # differently on another device: compare the same elements, matched by index.
    stacked_at = {e.index: e for e in stacked.arrays["x"].worst}
    assert set(stacked_at) == {e.index for e in one.arrays["x"].worst}
    for a in one.arrays["x"].worst:
        assert abs(a.numerical - stacked_at[a.index].numerical) <= a.tolerance


def test_batched_dict_stacks_every_array(backend) -> None:
    xp = backend.xp
    host = layer_point(3)
    x = on_backend(host, "float32")
    seen = []

    def f(p):  # a stack of points: W (B, 4, 4), b (B, 4)
        seen.append((tuple(p["W"].shape), tuple(p["b"].shape)))
        a, c = (xpnet.asarray(v, dtype="float32") for v in (A, C))
        return xp.sum(c * xp.tanh(xp.sum(p["W"] * a, axis=-1) + p["b"]), axis=1)

    report = xpnet.check_grads(f, x, on_backend(layer_grad(host), "float32"), batched=True)
    assert report.passed and seen[0] == ((1, 4, 4), (1, 4))
    assert all(w[0] == b[0] > 1 for w, b in seen[1:])


def test_fast_mode_is_reproducible_from_the_reported_seed(backend) -> None:
    xp = backend.xp
    x = xpnet.asarray(np.linspace(-1, 1, 6), dtype="float32")
    wrong = xpnet.asarray(
        np.cos(np.linspace(-1, 1, 6)), dtype="float32"
    )  # sin x + x cos x is right
    with pytest.raises(GradientCheckError) as first:
        xpnet.check_grads(lambda w: xp.sum(xp.sin(w) * w), x, wrong, mode="fast")
    seed = first.value.report.seed
    with pytest.raises(GradientCheckError) as again:
        xpnet.check_grads(lambda w: xp.sum(xp.sin(w) * w), x, wrong, mode="fast", seed=seed)
    assert again.value.report.arrays == first.value.report.arrays


def test_the_error_is_an_assertion_with_the_report(backend) -> None:
    xp = backend.xp
    x = xpnet.asarray([0.5, -1.0, 2.0], dtype="float32")
    with pytest.raises(GradientCheckError) as info:
        xpnet.check_grads(lambda w: xp.sum(w**3), x, 2 * x**2)  # 3 x**2 is right
    err = info.value
    assert isinstance(err, XpnetError) and isinstance(err, AssertionError)
    text = str(err)
    assert text.startswith("Gradient check FAILED (mode='full', order=2, float32")
    assert "x[2]" in text and "claimed  8.000000e+00  numerical  1.2000" in text
    assert "3 of 3  FAILED" in text
    data = err.report.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["arrays"]["x"]["failures"] == 3 and data["passed"] is False


def test_nan_is_never_within_tolerance(backend) -> None:
    xp = backend.xp
    x = xpnet.asarray([1.0, 2.0], dtype="float32")
    nan_grad = xpnet.asarray([float("nan"), 4.0], dtype="float32")
    with pytest.raises(GradientCheckError) as info:
        xpnet.check_grads(lambda w: xp.sum(w**2), x, nan_grad)
    assert info.value.report.arrays["x"].failures == 1
    assert (
        json.loads(json.dumps(info.value.report.to_dict()))["arrays"]["x"]["max_abs_error"] == "nan"
    )


def test_x_is_unchanged_when_f_raises(backend) -> None:
    x = xpnet.asarray([1.0, 2.0, 3.0], dtype="float32")
    calls = []

    def f(w):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return backend.xp.sum(w**2)

    with pytest.raises(RuntimeError, match="boom"):
        xpnet.check_grads(f, x, 2 * x)
    np.testing.assert_array_equal(to_numpy(x), [1.0, 2.0, 3.0])


def test_explicit_tolerances_are_used_as_given(backend) -> None:
    xp = backend.xp
    x = xpnet.asarray([0.5, 1.5], dtype="float64" if float64_available(backend) else "float32")
    slightly_off = 2 * x * 1.001
    report = xpnet.check_grads(lambda w: xp.sum(w**2), x, slightly_off, rtol=1e-2, atol=0.0)
    assert report.arrays["x"].rtol == 1e-2 and report.arrays["x"].atol == 0.0
    with pytest.raises(GradientCheckError):
        xpnet.check_grads(lambda w: xp.sum(w**2), x, slightly_off, rtol=1e-4, atol=0.0)


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"mode": "slow"},
            XpnetValueError,
            "`mode` must be one of 'full', 'fast'. Received: 'slow'",
        ),
        ({"order": 3}, XpnetValueError, "`order` must be one of 2, 4. Received: 3"),
        ({"directions": 0}, XpnetValueError, "`directions` must be positive"),
        ({"h": -1e-3}, XpnetValueError, "`h` must be a finite positive number"),
        ({"rtol": -1.0}, XpnetValueError, "`rtol` must be non-negative"),
        ({"atol": float("nan")}, XpnetValueError, "`atol` must be finite"),
        ({"seed": -1}, XpnetValueError, "`seed` must be non-negative"),
        ({"batched": "yes"}, XpnetTypeError, "`batched` must be True or False"),
        ({"grad": {"x": 1}}, XpnetTypeError, "`grad` must be an array"),
        ({"grad": "ones((3,))"}, XpnetValueError, r"`grad` must have the shape of `x`, \(2,\)"),
        ({"f": "not callable"}, XpnetTypeError, "`f` must be callable"),
        ({"x": "ints"}, XpnetTypeError, "`x` must be a real floating-point array"),
        ({"x": {}}, XpnetValueError, "`x` is an empty dict"),
        ({"f": "vector"}, XpnetValueError, r"`f` must return a scalar .*Received: shape \(2,\)"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(backend, kwargs, error, message) -> None:
    xp = backend.xp
    calls = []

    def f(w):
        calls.append(1)
        return xp.sum(w**2)

    args = {"f": f, "x": xpnet.asarray([1.0, 2.0], dtype="float32")}
    args["grad"] = 2 * args["x"]
    special = {
        "ones((3,))": xp.ones((3,), dtype=args["x"].dtype, device=backend.device),
        "ints": xpnet.asarray([1, 2], dtype="int32"),
        "vector": lambda w: w * 2,
    }
    args.update({k: special.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()})
    with pytest.raises(error, match=message):
        xpnet.check_grads(args.pop("f"), args.pop("x"), args.pop("grad"), **args)
    assert len(calls) == 0


def test_dict_keys_must_match(backend) -> None:
    x = on_backend(layer_point(), "float32")
    with pytest.raises(XpnetValueError, match=r"`grad` must have the keys of `x`: \['W', 'b'\]"):
        xpnet.check_grads(lambda p: layer_loss(backend.xp, p), x, {"W": x["W"]})


# -- networks --------------------------------------------------------------------------


def small_net(backend, dtype, activation="sigmoid"):
    """The shapes of test_nets.py's networks (JAX compiles each shape once per session)."""
    net = xpnet.TwoLayerNet(
        5, 4, 3, weight_init_std=0.8, activation=activation, seed=2, dtype=dtype
    )
    rng = xpnet.random.default_rng(4)
    x = rng.normal((6, 5), dtype=dtype, backend=backend)
    t = rng.integers(3, (6,), backend=backend)
    return net, x, t


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("mode", ["full", "fast"])
def test_network_check_passes_and_leaves_params_alone(backend, dtype, mode, activation) -> None:
    net, x, t = small_net(backend, dtype, activation)
    before = host_copy(net.params)
    report = net.check_gradient(x, t, mode=mode, seed=0)
    assert report.passed
    if mode == "full":
        assert report.engine == "TwoLayerNet.numerical_gradient" and report.calls == 0
        assert set(report.arrays) == {"W1", "b1", "W2", "b2"}
    for name, value in net.params.items():
        np.testing.assert_array_equal(to_numpy(value), before[name])


def forgetful_sigmoid(self, params, cache, dout, ctx, input_grad=True):
    """sigmoid's backward without the (1 - out) of its derivative out * (1 - out)."""
    return dout * cache["out"], {}


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_network_check_catches_a_broken_backward(backend, dtype, mode, monkeypatch) -> None:
    net, x, t = small_net(backend, dtype)
    # sigmoid's derivative is out * (1 - out); forgetting the (1 - out) is a classic slip
    monkeypatch.setattr(xpnet.layers.Sigmoid, "pure_backward", forgetful_sigmoid)
    with pytest.raises(GradientCheckError) as info:
        net.check_gradient(x, t, mode=mode, seed=0)
    failed = {name for name, a in info.value.report.arrays.items() if not a.passed}
    assert failed == ({"W1", "b1"} if mode == "full" else {"W1+b1+W2+b2"})


def test_network_check_without_a_step_option_perturbs_each_parameter(backend, dtype) -> None:
    net, x, t = small_net(backend, dtype)

    class Wrapped:  # a Trainable whose numerical_gradient takes no h=
        params = net.params

        def loss_and_gradient(self, x, t, *, params=None, check_input=True):
            return net.loss_and_gradient(x, t, params=params, check_input=check_input)

        def numerical_gradient(self, x, t):
            return net.numerical_gradient(x, t)

    report = check_network_gradient(Wrapped(), x, t)
    assert report.engine == "central differences" and report.evaluations == 2 * 39 + 1


def test_old_gradcheck_is_a_thin_wrapper(backend, dtype) -> None:
    net, x, t = small_net(backend, dtype)
    values = xpnet.gradcheck(net, x, t)
    report = net.check_gradient(x, t)
    assert values == {name: a.max_rel_error for name, a in report.arrays.items()}
    bp, num = net.gradient(x, t), net.numerical_gradient(x, t)
    for name, value in values.items():
        b, n = to_numpy(bp[name]), to_numpy(num[name])
        assert value == pytest.approx(np.abs(b - n).max() / max(np.abs(b).max(), np.abs(n).max()))


# -- xpnet.testing ---------------------------------------------------------------------


def test_assert_grads_close_reads_well(backend) -> None:
    xp = backend.xp
    x = xpnet.asarray([0.5, -1.0, 2.0], dtype="float32")
    assert_grads_close(lambda w: xp.sum(xp.sin(w)), x, xp.cos(x))
    with pytest.raises(AssertionError) as info:
        assert_grads_close(lambda w: xp.sum(xp.sin(w)), x, -xp.cos(x), err_msg="sin's backward")
    lines = str(info.value).splitlines()
    assert lines[0] == "Gradients differ from their finite differences. sin's backward"
    assert lines[1].startswith("Gradient check FAILED")
    assert any(line.strip().startswith("x[2]") and "claimed" in line for line in lines)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# -- the command line ------------------------------------------------------------------


def cli_backend(backend) -> list[str]:
    device = os.environ.get("XPNET_DEVICE")
    return ["--backend", backend.name, *(["--device", device] if device else [])]


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_cli_gradcheck_exit_status(backend, mode, monkeypatch, tmp_path, capsys) -> None:
    out = tmp_path / "report.json"
    dtype = "float64" if float64_available(backend) else "float32"  # as test_cli.py
    argv = ["gradcheck", "--mode", mode, "--dtype", dtype, *cli_backend(backend)]
    assert main([*argv, "--json", str(out)]) == 0
    assert json.loads(out.read_text())["passed"] is True
    monkeypatch.setattr(xpnet.layers.Sigmoid, "pure_backward", forgetful_sigmoid)
    assert main([*argv, "--json", str(out)]) == 1
    summary = json.loads(out.read_text())
    assert summary["passed"] is False and summary["mode"] == mode
    assert summary["backend"] == backend.name
    assert "Gradient check FAILED" in capsys.readouterr().out


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
@pytest.mark.parametrize(
    "options",
    [
        ["--mode", "slow"],
        ["--order", "3"],
        ["--directions", "0"],
        ["--json", "/no/such/dir/r.json"],
    ],
)
def test_cli_gradcheck_bad_options_exit_2(options, capsys, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(xpnet.TwoLayerNet, "check_gradient", lambda *a, **k: calls.append(1))
    assert main(["gradcheck", *options]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1 and not calls


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_empty_arrays_have_nothing_to_compare(backend, mode) -> None:
    xp = backend.xp
    empty = xp.zeros((0, 3), dtype=xp.float32, device=backend.device)
    x = {"W": empty, "b": xpnet.asarray([1.0, 2.0], dtype="float32")}
    report = xpnet.check_grads(
        lambda p: xp.sum(p["W"]) + xp.sum(p["b"] ** 2),
        x,
        {"W": x["W"], "b": 2 * x["b"]},
        mode=mode,
        seed=0,
    )
    assert report.passed
    if mode == "full":
        assert report.arrays["W"].compared == 0 and report.arrays["b"].compared == 2
    none = {"W": x["W"]}
    assert xpnet.check_grads(lambda p: xp.sum(p["W"]), none, none, mode=mode).passed


# -- relu networks on MNIST-like data: fast mode in float32 ---------------------------
# The old fast step moved every parameter by about h at once (s = h sqrt(n)); sums over
# 784 inputs then crossed relu kinks and failed correct networks about half the time.


def mnist_like(backend, dtype, seed, rows=100):
    """Images like MNIST's: 784 pixels in [0, 1], four in five of them 0."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0, 1, (rows, 784)) * (rng.uniform(0, 1, (rows, 784)) < 0.2)
    return xpnet.asarray(pixels, dtype=dtype), xpnet.asarray(rng.integers(0, 10, rows))


@pytest.mark.parametrize("seed", range(4))
def test_fast_mode_passes_correct_relu_networks_in_float32(backend, seed) -> None:
    x, t = mnist_like(backend, "float32", seed)
    two = xpnet.TwoLayerNet(784, 50, 10, activation="relu", weight_init_std="he", seed=seed,
                            dtype="float32")  # fmt: skip
    assert two.check_gradient(x, t, mode="fast", seed=seed).passed
    deep = xpnet.MultiLayerNet(784, [40, 40], 10, seed=seed, dtype="float32")
    assert deep.check_gradient(x, t, mode="fast", seed=seed).passed


def test_fast_mode_catches_a_broken_relu_backward_in_float32(backend, monkeypatch) -> None:
    x, t = mnist_like(backend, "float32", 0)
    net = xpnet.TwoLayerNet(784, 50, 10, activation="relu", weight_init_std="he", seed=0,
                            dtype="float32")  # fmt: skip
    # the gradient let through everywhere, as if relu were the identity
    monkeypatch.setattr(
        xpnet.layers.Relu, "pure_backward", lambda self, p, cache, dout, ctx, dx=True: (dout, {})
    )
    # float32 rounding allows about 10% of a directional derivative here: 16 directions
    for seed in range(3):
        with pytest.raises(GradientCheckError, match="mode='full'"):
            net.check_gradient(x, t, mode="fast", directions=16, seed=seed)


@pytest.mark.mnist
def test_fast_mode_passes_relu_networks_on_real_mnist(backend, mnist_dir) -> None:
    (x_train, t_train), _ = xpnet.load_mnist(data_dir=mnist_dir, dtype="float32")
    x, t = xpnet.head(x_train, 100), xpnet.head(t_train, 100)
    for seed in range(3):
        net = xpnet.TwoLayerNet(784, 50, 10, activation="relu", weight_init_std="he", seed=seed,
                                dtype="float32")  # fmt: skip
        assert net.check_gradient(x, t, mode="fast", seed=seed).passed
    deep = xpnet.MultiLayerNet(784, [100, 100], 10, seed=0, dtype="float32")
    assert deep.check_gradient(x, t, mode="fast", seed=0).passed


# -- MultiLayerNet(Extend).check_gradient ------------------------------------------------


@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize("extend", ["batchnorm", "dropout", "both"])
def test_multi_layer_check_gradient_with_batchnorm_and_dropout(
    backend, dtype, mode, extend
) -> None:
    # sigmoid: dropping every input of a relu unit leaves it at its bias, 0, right on the kink
    net = xpnet.MultiLayerNetExtend(
        5, [4, 4], 3, activation="sigmoid", use_batchnorm=extend != "dropout", use_dropout=extend != "batchnorm",
        dropout_ration=0.3, seed=1, dtype=dtype,
    )  # fmt: skip
    rng = xpnet.random.default_rng(3)
    x = rng.normal((6, 5), dtype=dtype, backend=backend)
    t = rng.integers(3, (6,), backend=backend)
    net.gradient(x, t)  # one training pass: the dropout key moves, as in training
    before = host_copy(net.params)
    report = net.check_gradient(x, t, mode=mode, seed=0)
    assert report.passed and report.mode == mode
    if mode == "full":
        assert set(report.arrays) == set(net.params)
        assert report.engine == "MultiLayerNetExtend.numerical_gradient"
    for name, value in net.params.items():
        np.testing.assert_array_equal(to_numpy(value), before[name])


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_multi_layer_check_gradient_catches_a_broken_backward(
    backend, dtype, mode, monkeypatch
) -> None:
    net = xpnet.MultiLayerNet(5, [4], 3, activation="sigmoid", seed=1, dtype=dtype)
    rng = xpnet.random.default_rng(3)
    x = rng.normal((6, 5), dtype=dtype, backend=backend)
    t = rng.integers(3, (6,), backend=backend)
    real = net.loss_and_gradient

    def wrong(*args, **kwargs):
        loss, grads = real(*args, **kwargs)
        return loss, {**grads, "b1": -grads["b1"]}

    monkeypatch.setattr(net, "loss_and_gradient", wrong)
    with pytest.raises(GradientCheckError):
        net.check_gradient(x, t, mode=mode, seed=0)
