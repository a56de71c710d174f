"""Compiled training's contract with the device, checked where CI runs: on the CPU.

What a GPU would show (a loop predicate read back at every iteration, a
transfer per step, a second compilation, a CUDA graph overwriting what an
earlier call returned) is caught here from what the CPU can tell: the
compiled program's loop has a known trip count, a compiled chunk runs under
JAX's transfer guard, compilations are counted, and what a compiled call
returned is read again after the next call.
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pytest
from test_compile import RUN, blobs, network

import xpnet
from xpnet.backend import to_numpy
from xpnet.optim import SGD
from xpnet.random import BatchSampler
from xpnet.training import compile as compile_module
from xpnet.training import run as run_module
from xpnet.training.compile import Engine


@pytest.fixture
def compiler(backend):
    if backend.library.compiler is None:
        pytest.skip(f"backend {backend.name!r} has no compiler")
    return backend.library.compiler


def only_jax(backend) -> None:
    if backend.name != "jax":
        pytest.skip("inspects JAX's compiled loop")


def chunk(backend, n=600):
    """An engine over `blobs`, its starting state and a chunk of mini-batch indices."""
    x, t = blobs(backend, n=n)
    net, optimizer = network(), SGD(RUN["lr"])
    compiler = backend.library.compiler
    engine = Engine(net, optimizer, "backprop", compiler)
    batches = BatchSampler(n, RUN["batch_size"], 0).indices(0, BatchSampler.CHUNK, backend=backend)
    return engine, (net.params, net.buffers, optimizer.init(net.params)), x, t, batches


def test_the_compiled_loop_has_a_known_trip_count(backend, compiler) -> None:
    """XLA knows how often every loop of a compiled chunk runs: no predicate read per iteration."""
    only_jax(backend)
    engine, state, x, t, batches = chunk(backend)
    run = compiler.loop(engine.step, backend.device)
    losses = xpnet.asarray(np.zeros(batches.shape[0]), dtype="float32")
    bounds = xpnet.asarray(np.array([0, 0, 1]), dtype="int32")
    text = run.jitted.lower(state, x, t, batches, losses, bounds).compile().as_text()
    loops = [line for line in text.splitlines() if re.search(r"\bwhile\(", line)]
    for line in loops:  # none at all: XLA unrolled the window, which reads nothing back either
        assert re.search(r'"known_trip_count":\{"n":"\d+"\}', line), line


def test_a_compiled_chunk_moves_nothing_implicitly(backend, compiler, monkeypatch) -> None:
    """Under JAX's transfer guard, whole runs: only explicit transfers (the bounds) happen."""
    only_jax(backend)
    import jax

    def guarded(body, device):
        run = compiler.loop(body, device)

        def call(*args):
            with jax.transfer_guard("disallow"):
                return jax.block_until_ready(run(*args))

        return call

    strict = dataclasses.replace(compiler, loop=guarded)
    monkeypatch.setattr(run_module, "choose_compiler", lambda *args, **kwargs: strict)
    data = blobs(backend)
    h = xpnet.train(network(), data, data, iters=300, eval_every=37, compile=True, **RUN)
    assert len(h.train_loss) == 300 and h.compile_seconds > 0.0


def test_jax_compiles_once_whatever_the_inputs_placement(backend, compiler, caplog) -> None:
    """Arrays JAX has not committed to a device and those a compiled call returns: one program."""
    only_jax(backend)
    import jax

    compile_module._compiled.clear()  # compiled functions kept from earlier tests
    net = network()
    net.params = {k: jax.numpy.asarray(to_numpy(v)) for k, v in net.params.items()}  # uncommitted
    data = blobs(backend)
    with jax.log_compiles(True), caplog.at_level("WARNING", logger="jax"):
        xpnet.train(net, data, data, iters=300, eval_every=100, compile=True, **RUN)
    compiled = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Compiling")]
    assert len([m for m in compiled if m.startswith("Compiling jit(run)")]) == 1, compiled
    assert len([m for m in compiled if m.startswith("Compiling jit(correct)")]) == 1, compiled


def run_rows(engine, state, x, t, batches, rows):
    """Rows ``rows[0] .. rows[1]-1`` of `batches`: one call of a compiled loop, or steps."""
    if engine.loop is not None:
        return engine.loop(state, x, t, batches, *rows)
    for i in range(*rows):
        state, loss = engine.step(state, x, t, batches[i, ...])
    return state, loss


def test_what_a_compiled_call_returns_stays_the_callers(backend, compiler) -> None:
    """The first call's parameters, state and losses read the same after two more calls."""
    engine, state, x, t, batches = chunk(backend)
    first, loss = run_rows(engine, state, x, t, batches, (0, 3))
    snapshot = [{k: to_numpy(v).copy() for k, v in tree.items()} for tree in first]
    loss = to_numpy(loss).copy()
    second, _ = run_rows(engine, first, x, t, batches, (3, 7))
    run_rows(engine, second, x, t, batches, (7, 9))  # a CUDA graph would reuse memory again
    assert any(not np.array_equal(to_numpy(second[0][k]), v) for k, v in snapshot[0].items())
    for tree, saved in zip(first, snapshot, strict=True):
        for name, value in saved.items():
            np.testing.assert_array_equal(to_numpy(tree[name]), value)


def test_the_cuda_graph_step_hands_back_copies(backend) -> None:
    """torch's CUDA-graph wrapper, around a stand-in that reuses its outputs' memory, on the CPU."""
    if backend.name != "torch":
        pytest.skip("torch's CUDA-graph step")
    import torch

    from xpnet.backend._torch import _replayed

    out = {"W": torch.zeros(3), "m.W": torch.zeros(3), "loss": torch.zeros(())}

    def replay(state, x, t, index):  # as a CUDA graph: the same output memory
        params, _, opt_state = state
        out["W"].copy_(params["W"] + 1)
        out["m.W"].copy_(opt_state["m.W"] + 2)
        out["loss"].copy_(params["W"].sum())
        return ({"W": out["W"]}, {}, {"m.W": out["m.W"]}), out["loss"]

    step = _replayed(replay)
    (params, _, state), loss = step(
        ({"W": torch.zeros(3)}, {}, {"m.W": torch.zeros(3)}), *[None] * 3
    )
    (later_params, _, later_state), later_loss = step((params, {}, state), None, None, None)
    assert params["W"].tolist() == [1.0] * 3 and state["m.W"].tolist() == [2.0] * 3
    assert float(loss) == 0.0 and float(later_loss) == 3.0
    assert later_params["W"].tolist() == [2.0] * 3 and later_state["m.W"].tolist() == [4.0] * 3
    assert params["W"].data_ptr() != out["W"].data_ptr() != later_params["W"].data_ptr()


@pytest.mark.backend_independent
def test_inductors_tf32_advice_never_reaches_users() -> None:
    """xpnet sets the precision itself; torch.compile's one-time TF32 advice is filtered."""
    pytest.importorskip("torch")
    from xpnet.backend._torch import _quiet

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _quiet():
            warnings.warn(
                "TensorFloat32 tensor cores for float32 matrix multiplication available but not "
                "enabled. Consider setting `torch.set_float32_matmul_precision('high')` for "
                "better performance.",
                UserWarning,
                stacklevel=1,
            )


def test_eager_jax_natives_move_nothing(backend, xp) -> None:
    """softmax and sigmoid, called eagerly as the eager step calls them: no implicit transfer."""
    only_jax(backend)
    import jax

    from xpnet.functions import sigmoid, softmax

    x = xpnet.asarray(np.linspace(-3, 3, 30).reshape(3, 10), dtype="float32")
    softmax(x), sigmoid(x)  # compiled on first use
    with jax.transfer_guard("disallow"):
        y, s = softmax(x), sigmoid(x)
    np.testing.assert_allclose(to_numpy(xp.sum(y, axis=1)), 1.0, rtol=1e-6)
    assert y.dtype == s.dtype == xp.float32


@pytest.mark.xfail(
    strict=True,
    reason="the layers (1.0 - out, + 1e-7, / N) and SGD (lr * grad) pass Python numbers, each a "
    "host-to-device transfer in eager JAX (9 per step); the loop indexes batches[row] per step",
)
def test_an_eager_jax_step_moves_nothing(backend) -> None:
    """Eager JAX (compile=False): every Python number in the step is a transfer to the device."""
    only_jax(backend)
    import jax

    engine, state, x, t, batches = chunk(backend)
    engine = Engine(network(), SGD(RUN["lr"]), "backprop", None)  # eager
    engine.step(state, x, t, batches[0, ...])
    index = batches[1, ...]
    with jax.transfer_guard("disallow"):
        jax.block_until_ready(engine.step(state, x, t, index))
