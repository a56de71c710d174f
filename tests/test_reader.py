"""The reader's own code on every backend: the chapter's in-place trick, one dtype
policy, book-style values and errors a learner understands."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers import assert_array, assert_close, run_bounded

import xpnet
from xpnet.backend import index_dtype, is_writeable, to_numpy
from xpnet.errors import ProbabilityWarning

W_BOOK = [[0.47355232, 0.9977393, 0.84668094], [0.85557411, 0.03563661, 0.69422093]]
DW_BOOK = [[0.21924763, 0.14356247, -0.36281009], [0.32887144, 0.2153437, -0.54421514]]


@pytest.fixture
def f64(backend):
    if not xpnet.backend.float64_available(backend):
        pytest.skip("needs float64")
    return backend.xp.float64


def function_2(x):
    return x[0] ** 2 + x[1] ** 2


def simple_net(dtype="float64"):
    net = xpnet.SimpleNet(xpnet.asarray(W_BOOK, dtype=dtype))
    return net, xpnet.asarray([0.6, 0.9], dtype=dtype), xpnet.asarray([0, 0, 1], dtype=dtype)


# --- the chapter's in-place trick, one rule everywhere ----------------------------------


def test_chapters_trick_works_or_says_why_not(backend, f64) -> None:
    """`lambda W: net.loss(x, t)` gives the book's gradient where W can change, else an error."""
    net, x, t = simple_net()
    before = to_numpy(net.W).copy()
    if is_writeable(net.W):
        dW = xpnet.numerical_gradient(lambda W: net.loss(x, t), net.W)
        assert_close(dW, DW_BOOK, backend=backend, dtype=f64, rtol=1e-6)
    else:
        with pytest.raises(ValueError, match=r"ignores its argument.*immutable.*net\.numerical"):
            xpnet.numerical_gradient(lambda W: net.loss(x, t), net.W)
    np.testing.assert_array_equal(to_numpy(net.W), before)


def test_explicit_form_works_everywhere(backend, f64) -> None:
    net, x, t = simple_net()
    original = net.W
    dW = xpnet.numerical_gradient(net.loss, x, t, wrt="W")
    assert_close(dW, DW_BOOK, backend=backend, dtype=f64, rtol=1e-6)
    assert net.W is original
    two = xpnet.TwoLayerNet(3, 4, 2, weight_init_std=1.0, dtype=f64, seed=0)
    xs = xpnet.asarray(np.random.default_rng(0).random((5, 3)), dtype=f64)
    ts = xpnet.asarray([0, 1, 1, 0, 1], dtype=index_dtype(backend.xp, backend.device))
    params = dict(two.params)
    expected = two.numerical_gradient(xs, ts, method="loop")
    for name in ("W1", "b2"):
        got = xpnet.numerical_gradient(two.loss, xs, ts, wrt=name)
        assert_close(got, to_numpy(expected[name]), backend=backend, dtype=f64, rtol=1e-9)
    assert all(two.params[k] is v for k, v in params.items())


def test_explicit_form_refuses_what_it_cannot_do(backend) -> None:
    net, x, t = simple_net("float32")
    with pytest.raises(
        ValueError, match=r"`wrt` must name a parameter of SimpleNet: 'W'\. Received: 'W1'"
    ):
        xpnet.numerical_gradient(net.loss, x, t, wrt="W1")
    with pytest.raises(TypeError, match="needs a bound method"):
        xpnet.numerical_gradient(lambda x, t: net.loss(x, t), x, t, wrt="W")
    with pytest.raises(TypeError, match="Pass the step as h="):
        xpnet.numerical_gradient(function_2, x, 1e-3)


@pytest.mark.backend_independent
def test_read_only_numpy_array_is_an_error_naming_the_cause() -> None:
    """The issue's case: an array that to_numpy returned from JAX is read-only."""
    W = np.array(W_BOOK)
    W.flags.writeable = False
    net = xpnet.SimpleNet(W)
    x, t = np.array([0.6, 0.9]), np.array([0.0, 0.0, 1.0])
    with pytest.raises(
        ValueError, match=r"read-only NumPy array \(flags.writeable is False"
    ) as err:
        xpnet.numerical_gradient(lambda w: net.loss(x, t), W)
    assert "SimpleNet(W).loss(x, t)" in str(err.value) and "wrt=" in str(err.value)
    # Either fix works on the read-only array, and it stays unchanged.
    dW = xpnet.numerical_gradient(lambda w: xpnet.SimpleNet(w).loss(x, t), W)
    np.testing.assert_allclose(dW, DW_BOOK, rtol=1e-6)
    np.testing.assert_allclose(
        xpnet.numerical_gradient(net.loss, x, t, wrt="W"), DW_BOOK, rtol=1e-6
    )
    np.testing.assert_array_equal(W, np.array(W_BOOK))


def test_torch_tensor_that_requires_grad_is_left_as_it_was(backend) -> None:
    """An nn.Parameter: no autograd error, no tape, requires_grad/.grad/_version unchanged.

    On the torch backend's device (a GPU in scripts/gpu_check.sh), else on the CPU.
    """
    torch = pytest.importorskip("torch")
    dev = backend.device if backend.name == "torch" else "cpu"
    f64 = torch.float64

    def tensor(values):
        return torch.tensor(values, dtype=f64, device=dev)

    W = torch.nn.Parameter(tensor(W_BOOK))
    x, t = tensor([0.6, 0.9]), tensor([0.0, 0.0, 1.0])
    net = xpnet.SimpleNet(W)
    loss = net.loss(x, t)  # a graph that saved W, backpropagated after the perturbations
    W.grad = torch.full_like(W, 7.0)
    version = W._version
    dW = xpnet.numerical_gradient(lambda w: net.loss(x, t), W)
    np.testing.assert_allclose(to_numpy(dW), DW_BOOK, rtol=1e-6)
    assert not dW.requires_grad and dW.grad_fn is None and dW.device == W.device
    assert W.requires_grad and W.is_leaf and W._version == version
    assert torch.equal(W.grad, torch.full_like(W, 7.0))
    assert torch.equal(W.detach(), tensor(W_BOOK))
    loss.backward()  # the saved graph is intact: W's version did not change
    np.testing.assert_allclose(to_numpy(W.grad - 7.0), DW_BOOK, rtol=1e-6)
    dW = xpnet.numerical_gradient(net.loss, x, t, wrt="W")  # the explicit form, too
    np.testing.assert_allclose(to_numpy(dW), DW_BOOK, rtol=1e-6)
    assert net.W is W and W._version == version


@pytest.mark.reliability("bad input")
def test_a_function_of_nothing_is_not_a_silent_zero(backend) -> None:
    """Writable x that f never reads: a warning (the zero is true, the code is probably not)."""
    x = xpnet.asarray([1.0, 2.0], dtype="float32")
    other = xpnet.asarray([1.0, 2.0], dtype="float32")
    if is_writeable(x):
        with pytest.warns(RuntimeWarning, match="does not depend on `x`"):
            xpnet.numerical_gradient(lambda w: backend.xp.sum(other**2), x)
    else:
        with pytest.raises(ValueError, match="ignores its argument"):
            xpnet.numerical_gradient(lambda w: backend.xp.sum(other**2), x)


# --- what f returns -------------------------------------------------------------------


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize(
    ("f", "error", "message"),
    [
        (lambda x: None, TypeError, r"returned None: did you forget `return`"),
        (lambda x: x**2, ValueError, r"one number.*Received: an array of shape \(2,\).*xp\.sum"),
        (lambda x: "loss", TypeError, r"must return a number or a 0-d array\. Received: 'loss'"),
        (lambda x: 1.0 / (x[0] - x[0]), ValueError, r"not finite near `x`: at element \(0,\)"),
    ],
    ids=["None", "vector", "str", "inf"],
)
def test_what_f_returns_is_checked(backend, f, error, message) -> None:
    x = xpnet.asarray([3.0, 4.0], dtype="float32")
    before = to_numpy(x).copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's own divide-by-zero note
        with pytest.raises(error, match=message):
            xpnet.numerical_gradient(f, x)
    np.testing.assert_array_equal(to_numpy(x), before)
    if message.startswith("returned None"):
        with pytest.raises(error, match=message):
            xpnet.numerical_diff(lambda v: None, 1.0)
        with pytest.raises(error, match=message):
            xpnet.numerical_gradient(f, x, batched=True)


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize("h", [0.0, -1e-4, float("nan"), float("inf")])
def test_bad_steps_and_learning_rates(backend, h) -> None:
    x = xpnet.asarray([3.0, 4.0], dtype="float32")
    with pytest.raises(ValueError, match=r"`h` must be a finite positive number"):
        xpnet.numerical_gradient(function_2, x, h=h)
    with pytest.raises(ValueError, match=r"`h` must be a finite positive number"):
        xpnet.numerical_diff(math.exp, 1.0, h)
    with pytest.raises(ValueError, match=r"`lr` must be a finite positive number"):
        xpnet.gradient_descent(function_2, x, lr=h)


def test_runaway_descent_names_the_learning_rate(backend) -> None:
    x = xpnet.asarray([-3.0, 4.0], dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow note
        with pytest.raises(ValueError, match=r"step \d+: `f` is not finite.*lr=1e\+06 is probably"):
            xpnet.gradient_descent(lambda v: -backend.xp.sum(backend.xp.exp(v)), x, lr=1e6)


def test_a_step_lost_to_rounding_is_an_error(backend) -> None:
    """The book's 1e-50 lesson, caught: x + h == x would give a silently zero derivative."""
    x = xpnet.asarray([1.0, 3e8], dtype="float32")
    with pytest.raises(ValueError, match=r"h=0.00492157 vanishes next to x\[1\] = 3.*float32"):
        xpnet.numerical_gradient(function_2, x)


def test_numerical_diff_takes_its_step_from_the_dtype(backend) -> None:
    """float32: the same step as numerical_gradient, so the same number (issue: 10.01 vs 9.9997)."""
    x = xpnet.asarray(5.0, dtype="float32")
    diff = xpnet.numerical_diff(lambda v: v**2, x)
    grad = xpnet.numerical_gradient(lambda v: v[0] ** 2, xpnet.asarray([5.0], dtype="float32"))
    assert float(diff) == float(grad[0])
    assert abs(float(diff) - 10.0) < 1e-3
    assert xpnet.numerical_diff(lambda v: 0.01 * v**2 + 0.1 * v, 5.0) == pytest.approx(
        0.2, abs=1e-9
    )


# --- Python scalars, probabilities, axes ------------------------------------------------


def test_a_python_label_is_accepted(backend, dtype) -> None:
    y = xpnet.asarray([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0], dtype=dtype)
    expected = xpnet.cross_entropy_error(
        y, xpnet.asarray(2, dtype=index_dtype(backend.xp, backend.device))
    )
    assert_close(xpnet.cross_entropy_error(y, 2), to_numpy(expected), backend=backend, dtype=dtype)
    batch = backend.xp.stack([y, y])
    assert_close(
        xpnet.cross_entropy_error(batch, [2, 7]),
        0.5 * (-np.log(0.6 + 1e-7) - np.log(0.1 + 1e-7)),
        backend=backend,
        dtype=dtype,
    )
    one_hot = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert_close(xpnet.mean_squared_error(y, one_hot), 0.0975, backend=backend, dtype=dtype)


@pytest.mark.reliability("bad input")
def test_python_data_where_arrays_are_expected(backend) -> None:
    with pytest.raises(
        TypeError, match=r"Expected arrays\. Received: list\. Convert .* xpnet\.asarray"
    ):
        xpnet.softmax([1.0, 2.0])
    with pytest.raises(TypeError, match=r"xpnet\.asarray"):
        xpnet.numerical_gradient(function_2, [3.0, 4.0])
    y = xpnet.asarray([0.5, 0.5], dtype="float32")
    with pytest.raises(TypeError, match=r"`t` must be an array, a label \(int\).*Received: '2'"):
        xpnet.cross_entropy_error(y, "2")


@pytest.mark.reliability("bad input")
def test_probabilities_that_are_not_warn_naming_softmax(backend) -> None:
    scores = xpnet.asarray([[2.0, -1.0, 0.5]], dtype="float32")
    with pytest.warns(ProbabilityWarning, match=r"smallest entry is -1.*softmax\(scores\)"):
        xpnet.cross_entropy_error(scores, [0])
    unnormalised = xpnet.asarray([[0.5, 0.7, 0.3]], dtype="float32")
    with pytest.warns(ProbabilityWarning, match=r"rows sum to between 1\.5 and 1\.5, not 1"):
        xpnet.cross_entropy_error(unnormalised, [0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # softmax output: no warning
        xpnet.cross_entropy_error(xpnet.softmax(scores), [0])


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize("axis", [5, -3, 2])
def test_softmax_axis_out_of_range(backend, axis) -> None:
    x = xpnet.asarray([[1.0, 2.0], [3.0, 4.0]], dtype="float32")
    with pytest.raises(ValueError, match=rf"`axis` must be in \[-2, 2\) .* Received: axis={axis}"):
        xpnet.softmax(x, axis=axis)
    with pytest.raises(TypeError, match="`axis` must be an int"):
        xpnet.softmax(x, axis=1.0)


# --- one dtype policy -------------------------------------------------------------------


def test_float32_is_the_default_everywhere(backend) -> None:
    f32 = backend.xp.float32
    assert xpnet.asarray([1.0, 2.0]).dtype == f32
    assert xpnet.asarray(2.5).dtype == f32
    assert xpnet.random.default_rng(0).normal((2,)).dtype == f32
    assert xpnet.SimpleNet(seed=0).W.dtype == f32
    assert xpnet.TwoLayerNet(2, 3, 2, seed=0).params["W1"].dtype == f32
    if xpnet.backend.float64_available(backend):  # typed data keeps its dtype
        assert xpnet.asarray(np.array([1.0])).dtype == backend.xp.float64


def test_networks_cast_floating_inputs_like_keras(backend, f64) -> None:
    """The issue's case: NumPy's float64 data into a float32 network."""
    net = xpnet.TwoLayerNet(784, 10, 10, seed=0)
    host = np.random.default_rng(0).random((3, 784))
    t = xpnet.asarray([1, 2, 3])
    as64, as32 = xpnet.asarray(host), xpnet.asarray(host, dtype="float32")
    assert as64.dtype == f64
    assert float(net.loss(as64, t)) == float(net.loss(as32, t))
    assert_array(net.predict(as64), backend=backend, dtype=backend.xp.float32, shape=(3, 10))
    assert net.accuracy(as64, t) == net.accuracy(as32, t)
    grads = net.gradient(as64, t)
    assert grads["W1"].dtype == backend.xp.float32
    simple, x, t3 = simple_net("float32")
    assert float(simple.loss(xpnet.asarray([0.6, 0.9], dtype="float64"), t3)) == float(
        simple.loss(x, t3)
    )
    with pytest.raises(TypeError, match="network's dtype"):
        net.loss(xpnet.asarray(np.ones((3, 784)), dtype="int32"), t)
    deep = xpnet.MultiLayerNetExtend(784, [10], 10, use_batchnorm=True, seed=0)
    assert deep.accuracy(as64, t) == deep.accuracy(as32, t)
    assert float(deep.loss(as64, t)) == float(deep.loss(as32, t))
    assert deep.gradient(as64, t)["W1"].dtype == backend.xp.float32


def test_training_casts_float64_data_once(backend, f64) -> None:
    rng = np.random.default_rng(0)
    host, labels = rng.random((40, 4)), rng.integers(0, 2, 40)
    t = xpnet.asarray(labels)
    runs = []
    for dtype in ("float64", "float32"):
        net = xpnet.TwoLayerNet(4, 5, 2, weight_init_std=0.5, seed=0)
        h = xpnet.train(
            net, (xpnet.asarray(host, dtype=dtype), t), iters=8, batch_size=4, seed=0, verbose=0
        )
        runs.append(h.train_loss)
    assert runs[0] == runs[1]


# --- book-style values ------------------------------------------------------------------


def test_accuracy_and_history_are_python_floats(backend) -> None:
    rng = np.random.default_rng(0)
    x = xpnet.asarray(rng.random((30, 4)), dtype="float32")
    t = xpnet.asarray(rng.integers(0, 3, 30))
    net = xpnet.TwoLayerNet(4, 5, 3, seed=0)
    acc = net.accuracy(x, t)
    assert type(acc) is float and 0 <= acc <= 1 and round(acc * 30) == acc * 30
    h = xpnet.train(net, (x, t), (x, t), iters=5, batch_size=5, seed=0, verbose=0)
    for values in (h.train_loss, h.train_acc, h.test_acc):
        assert values and all(type(v) is float for v in values)
    assert all(type(i) is int for i in h.eval_iters)
    assert "train acc" in repr(h) and len(repr(h)) < 300


# --- JAX without JAX_ENABLE_X64 ------------------------------------------------------------

JAX_SCRIPT = """
import json, xpnet
out = {}
for name in ("numpy", "jax"):
    xpnet.set_backend(name)
    x = xpnet.asarray([3.0, 4.0], dtype="float64")
    g = xpnet.numerical_gradient(lambda v: v[0] ** 2 + v[1] ** 2, x)
    d = xpnet.gradient_descent(lambda v: v[0] ** 2 + v[1] ** 2, x, lr=1e-10)
    w = xpnet.SimpleNet(seed=0, dtype="float64").W
    out[name] = [str(g.dtype), str(w.dtype), xpnet.to_numpy(g).tolist(), xpnet.to_numpy(d).tolist()]
print(json.dumps(out))
"""


def _run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_bounded([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_jax_has_float64_without_the_flag(backend) -> None:
    if backend.name != "jax":
        pytest.skip("runs in the JAX session")
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")])
    done = _run_python(JAX_SCRIPT, env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["jax"][:2] == ["float64", "float64"], out
    np.testing.assert_allclose(out["jax"][2], out["numpy"][2], rtol=1e-12)
    np.testing.assert_allclose(out["jax"][3], out["numpy"][3], rtol=1e-15)  # lr=1e-10 moves it
    done = _run_python(JAX_SCRIPT, {**env, "JAX_ENABLE_X64": "0"})  # the user's explicit choice
    assert done.returncode == 1 and "JAX_ENABLE_X64=0" in done.stderr.splitlines()[-1], done.stderr
    info = run_bounded(
        [sys.executable, "-m", "xpnet", "info"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert "jax: 64-bit types (x64) on, turned on by xpnet" in info.stdout, info.stdout
