"""check_grads is not fooled by an `f` that changes its argument, names `f` when it returns
nonsense, and says what a check costs before paying it (issue 22, items 3, 11, 16)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from helpers import assert_close

import xpnet
from xpnet.backend import float64_available, is_writeable, to_numpy
from xpnet.checking import _calls
from xpnet.errors import GradientCheckError, XpnetTypeError, XpnetValueError

#: Claimed gradients this many times the truth, which every check must fail.
WRONG_BY = (2, 8, 16, 32)


def float_name(backend) -> str:
    return "float64" if float64_available(backend) else "float32"


def scaling(xp):
    """f(z) = sum(z**2), computed after doubling z in place; gradient 2z."""

    def f(z):
        z *= 2.0
        return xp.sum(z**2) / 4.0

    return f, lambda x: 2.0 * x


def guarded_logsumexp(xp):
    """log(sum(exp(z))) with the usual guard, ``z -= max(z)``, in place; gradient softmax(z)."""

    def f(z):
        m = xp.max(z)
        z -= m
        return xp.log(xp.sum(xp.exp(z))) + m

    def gradient(x):
        e = xp.exp(x - xp.max(x))
        return e / xp.sum(e)

    return f, gradient


def point(backend):
    return xpnet.asarray([0.5, -1.0, 2.0, 0.25, -0.75], dtype=float_name(backend))


def skip_immutable(backend) -> None:
    if not is_writeable(point(backend)):
        pytest.skip(f"{backend.name} arrays are immutable: `f` cannot change its argument in place")


@pytest.mark.reliability("gradient checks")
@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize("make", [scaling, guarded_logsumexp], ids=["z *= 2", "z -= max(z)"])
def test_an_f_that_changes_its_argument_in_place_fools_no_check(backend, make, mode) -> None:
    """An `f` that changes its argument in place: the true gradient passes, 2x to 32x off fail."""
    skip_immutable(backend)
    x = point(backend)
    before = to_numpy(x).copy()
    f, gradient = make(backend.xp)
    true = gradient(x)
    report = xpnet.check_grads(f, x, true, mode=mode, seed=0)
    assert report.passed and report.evaluations == (11 if mode == "full" else 9)
    for k in WRONG_BY:
        with pytest.raises(GradientCheckError):
            xpnet.check_grads(f, x, k * true, mode=mode, seed=0)
    assert_close(x, before, backend=backend, dtype=x.dtype, rtol=0)  # x itself untouched


@pytest.mark.reliability("gradient checks")
@pytest.mark.parametrize("mode", ["full", "fast"])
def test_a_dict_f_that_changes_its_arguments_fools_no_check(backend, mode) -> None:
    """The same with a dict of arrays, each changed in place by `f`."""
    skip_immutable(backend)
    xp = backend.xp
    x = {"W": point(backend), "b": xpnet.asarray([1.5, -0.5], dtype=float_name(backend))}

    def f(p):
        p["W"] *= 2.0
        p["b"] -= 1.0
        return xp.sum(p["W"] ** 2) / 4.0 + xp.sum((p["b"] + 1.0) ** 3)

    true = {"W": 2.0 * x["W"], "b": 3.0 * x["b"] ** 2}
    assert xpnet.check_grads(f, x, true, mode=mode, seed=1).passed
    for k in WRONG_BY:
        with pytest.raises(GradientCheckError):
            xpnet.check_grads(f, x, {n: k * g for n, g in true.items()}, mode=mode, seed=1)


@pytest.mark.reliability("gradient checks")
def test_batched_calls_that_write_into_their_views_are_refused(backend) -> None:
    """batched=True: the arrays not being perturbed are views; an `f` writing into them fails."""
    skip_immutable(backend)
    xp = backend.xp
    x = {"a": point(backend), "b": xpnet.asarray([1.0, 2.0], dtype=float_name(backend))}

    def f(p):
        p["b"][0, ...] *= 2.0  # the first stacked point only: a view of the point itself
        return xp.sum(p["a"] ** 2, axis=-1) + xp.sum(p["b"] ** 2, axis=-1)

    for k in (1, *WRONG_BY):
        claimed = {n: 2.0 * k * a for n, a in x.items()}
        # NumPy's broadcast views are read-only (its own ValueError); others' are not (ours)
        with pytest.raises(ValueError, match=r"read-only|`f` changed the arrays it was given"):
            xpnet.check_grads(f, x, claimed, batched=True)

    def g(z):  # changes only its own stack of points: harmless
        z *= 2.0
        return xp.sum(z**2, axis=-1) / 4.0

    a = x["a"]
    assert xpnet.check_grads(g, a, 2.0 * a, batched=True).passed
    for k in WRONG_BY:
        with pytest.raises(GradientCheckError):
            xpnet.check_grads(g, a, 2.0 * k * a, batched=True)


@pytest.mark.reliability("gradient checks")
@pytest.mark.parametrize("returned", [None, "loss", [1.0]], ids=["None", "str", "list"])
@pytest.mark.parametrize("mode", ["full", "fast", "batched"])
def test_an_f_that_returns_no_number_is_named(backend, returned, mode) -> None:
    """`f` returning None, text or a list: an XpnetTypeError naming `f`, in every mode."""
    x = point(backend)
    options = {"batched": True} if mode == "batched" else {"mode": mode}
    with pytest.raises(XpnetTypeError, match=r"`f` (returned None|must return)"):
        xpnet.check_grads(lambda z: returned, x, 2.0 * x, **options)


@pytest.mark.reliability("gradient checks")
def test_a_full_check_too_long_to_finish_is_refused_up_front(backend) -> None:
    """A full check planning more than max_evaluations is refused before `f` runs."""
    xp = backend.xp
    calls = []

    def f(z):
        calls.append(1)
        return xp.sum(z**2)

    x = xp.ones((150_000,), dtype=xp.float32, device=backend.device)
    with pytest.raises(XpnetValueError, match=r"would evaluate `f` 300,001 times .*mode='fast'"):
        xpnet.check_grads(f, x, 2.0 * x)
    with pytest.raises(XpnetValueError, match=r"more than max_evaluations=10"):
        xpnet.check_grads(f, x[:5], 2.0 * x[:5], max_evaluations=10)
    with pytest.raises(XpnetValueError, match=r"2 per direction, 100 directions"):
        xpnet.check_grads(f, x, 2.0 * x, mode="fast", directions=100, max_evaluations=50)
    assert calls == []
    report = xpnet.check_grads(f, x[:5], 2.0 * x[:5], max_evaluations=11)
    assert report.passed and report.evaluations == 11
    assert xpnet.check_grads(f, x[:5], 2.0 * x[:5], max_evaluations=None).passed
    report = xpnet.check_grads(f, x, 2.0 * x, mode="fast", seed=0)  # fine at any size
    assert report.passed and report.evaluations == 9


@pytest.mark.reliability("gradient checks")
def test_long_checks_show_progress_on_a_terminal(backend, monkeypatch) -> None:
    """A check of many evaluations shows a progress bar on a terminal, and none elsewhere."""
    xp = backend.xp

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    x = xpnet.asarray(np.linspace(-1.0, 1.0, 6), dtype=float_name(backend))
    monkeypatch.setattr(_calls, "PROGRESS_FROM", 10)
    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr("sys.stderr", stream)
        xpnet.check_grads(lambda z: xp.sum(z**2), x, 2.0 * x)
        assert ("check_grads" in stream.getvalue() and "13/13" in stream.getvalue()) == shown
    assert math.isclose(float(xp.sum(x**2)), float(np.sum(np.linspace(-1.0, 1.0, 6) ** 2)))
