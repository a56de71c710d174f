"""How a run's iterations execute: eagerly, or traced once by the backend's compiler.

Both ways start from the same pure step (:mod:`xpnet.training.step`); a
compiler only wraps it. The unit of work is the *body* of an iteration,
``body(state, x, t, index) -> (state, loss)`` with ``state = (params,
buffers, opt_state)``: gather the mini-batch of row indices `index` from the
whole training set, then take one step. Its shapes never change within a run
(the batch size is fixed), so it compiles once.

* Eagerly, the training loop calls the body once per iteration; where the
  library allows it, the optimizer updates the arrays in place.
* With a compiler that compiles a loop (JAX), one call runs a whole chunk of
  iterations on the device, from a chunk of indices drawn by xpnet's host
  sampler; the run is the same run as on NumPy.
* With a compiler that compiles the step (PyTorch), the loop calls the
  compiled body once per iteration.

Compiled functions are kept, keyed by what they compute (the network's and
the optimizer's settings, the device), so a second run of the same shape
does not compile again.

Evaluations (:meth:`Engine.accuracy`) skip the input checks, which the data
passed once before training, and are compiled too where a compiler is used.

Examples
--------
>>> from xpnet.backend import resolve_backend
>>> choose_compiler("auto", resolve_backend("numpy"), grad="backprop", optimizer=None) is None
True
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any

from .._typing import Array, Trainable
from ..backend import Backend, compiler_backends, native, natives_on
from ..errors import XpnetValueError
from ..optim import FunctionSchedule
from .memory import evaluation_rows
from .step import make_step

__all__ = ["Engine", "State", "choose_compiler"]

#: What the body carries from one iteration to the next: (params, buffers, opt_state).
State = tuple[dict[str, Array], dict[str, Array], dict[str, Array]]
#: Compiled functions kept for later runs of the same shape.
CACHE_SIZE = 16
_compiled: OrderedDict[Any, Any] = OrderedDict()


def choose_compiler(
    choice: str | bool, backend: Backend, *, grad: str, optimizer: Any
) -> Any | None:
    """The compiler a run uses (a :class:`~xpnet.backend._library.Compiler`), or None: eager.

    ``"auto"`` compiles where the backend's compiler pays for itself on the
    chapter's job and the run can be compiled; True compiles or raises an
    error that says why it cannot; False never compiles.
    """
    if choice is False:
        return None
    compiler = backend.library.compiler
    reason = _why_not(compiler, backend, grad, optimizer)
    if compiler is None or reason is not None:
        if choice is True:
            raise XpnetValueError(
                f"`compile=True` is not possible: {reason}. Received: compile=True."
            )
        return None
    return compiler if choice is True or compiler.auto(backend.device) else None


def _why_not(compiler: Any, backend: Backend, grad: str, optimizer: Any) -> str | None:
    if compiler is None:
        have = ", ".join(compiler_backends())
        return (
            f"backend {backend.name!r} has no compiler (the backends with one: {have}); "
            "leave `compile` at 'auto' or choose one of those backends"
        )
    if grad != "backprop":
        return 'the numerical gradient (grad="numerical") runs eagerly only'
    if not getattr(optimizer, "pure", True):
        return (
            "the optimizer has only the book's update(params, grads), which keeps state "
            "a compiler cannot see; give it init(params) and apply(params, grads, state)"
        )
    return None


def _structure(net: Trainable, optimizer: Any, weight_decay: float) -> Any:
    """What a compiled step computes, as a key; None where that cannot be told (a custom lr)."""
    if isinstance(getattr(optimizer, "lr", None), FunctionSchedule):  # its config names no function
        return None
    try:
        described = json.dumps(
            [net.get_config(), optimizer.get_config(), weight_decay],
            sort_keys=True,
        )
    except (TypeError, ValueError, AttributeError):
        return None
    kind = f"{type(net).__module__}.{type(net).__qualname__}"
    return (net.backend.name, str(net.backend.device), natives_on(), kind, described)


def _cached(key: Any, make: Any) -> Any:
    """``make()``, kept under `key` (None: not kept) for later runs."""
    if key is None:
        return make()
    if key not in _compiled:
        _compiled[key] = make()
        while len(_compiled) > CACHE_SIZE:
            _compiled.popitem(last=False)
    _compiled.move_to_end(key)
    return _compiled[key]


class Engine:
    """The body of an iteration and the accuracy of a network, eager or compiled.

    Parameters
    ----------
    net, optimizer, grad, weight_decay
        What :func:`xpnet.training.step.make_step` builds the step from.
    compiler : Compiler or None
        From :func:`choose_compiler`; None runs eagerly.

    Attributes
    ----------
    loop : callable or None
        A whole chunk in one call (see ``Compiler.loop``), or None: call :attr:`step`.
    step : callable
        The body of one iteration, compiled or not.
    """

    def __init__(
        self, net: Trainable, optimizer: Any, grad: str, compiler: Any, weight_decay: float = 0.0
    ) -> None:
        self.compiler, self.device, self.net = compiler, net.backend.device, net
        #: Whether steps update the arrays they are given (eager, on a library that allows it).
        self.in_place = compiler is None and net.backend.library.in_place
        step = make_step(net, optimizer, grad, weight_decay=weight_decay, in_place=self.in_place)
        xp = net.backend.xp
        take = native(xp, "take") or (lambda a, i, axis: xp.take(a, i, axis=axis))

        def body(state: State, x: Array, t: Array, index: Array) -> tuple[State, Array]:
            x_batch, t_batch = take(x, index, 0), take(t, index, 0)  # indices are >= 0
            params, buffers, opt_state, loss = step(*state, x_batch, t_batch)
            return (params, buffers, opt_state), loss

        # Buffers (batch normalisation's statistics) are an argument, not a
        # closure: a compiled function would keep their first values.
        def correct(params: Any, buffers: Any, x: Array, t: Array) -> Array:
            return net.correct(x, t, params=params, buffers=buffers, check_input=False)

        self.loop: Any = None
        self.step: Any = body
        self._correct: Any = correct
        #: Seconds spent in first calls (per shape), which is when compilers compile.
        self.compile_seconds = 0.0
        if compiler is None:
            return
        key = _structure(net, optimizer, weight_decay)
        named = (lambda *what: None) if key is None else (lambda *what: (*key, grad, *what))
        if compiler.function is not None:
            fn = _cached(named("correct"), lambda: compiler.function(correct, self.device))
            self._correct = self._timed(fn, shape_of=2)
        if compiler.loop is not None:
            self.loop = self._timed(
                _cached(named("loop"), lambda: compiler.loop(body, self.device))
            )
        else:
            self.step = self._timed(
                _cached(named("step"), lambda: compiler.step(body, self.device))
            )

    def _timed(self, fn: Any, shape_of: int | None = None) -> Any:
        """`fn`, adding the duration of its first call for each shape of argument `shape_of`."""
        seen: set[Any] = set()

        def call(*args: Any) -> Any:
            key = None if shape_of is None else tuple(args[shape_of].shape)
            if key in seen:
                return fn(*args)
            start = time.perf_counter()
            result = fn(*args)
            self.compile_seconds += time.perf_counter() - start
            seen.add(key)
            return result

        return call

    @property
    def name(self) -> str | None:
        """The compiler's name ("jax.jit"…), None when eager."""
        return None if self.compiler is None else self.compiler.name

    def own(self, state: State) -> State:
        """A state a compiled call returned, safe to keep (see ``Compiler.own``)."""
        return state if self.compiler is None else self.compiler.own(state, self.device)

    def accuracy(self, params: Any, buffers: Any, x: Array, t: Array) -> float:
        """The fraction of (x, t) classified correctly, without checking the data again.

        In chunks of :func:`~xpnet.training.memory.evaluation_rows` samples
        (all of them for the chapter's networks), counted on the device and
        read back once.
        """
        n = x.shape[0]
        rows = evaluation_rows(self.net, n)
        if rows >= n:
            return int(self._correct(params, buffers, x, t)) / n
        hits: Any = 0
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            hits = hits + self._correct(params, buffers, x[start:stop, ...], t[start:stop, ...])
        return int(hits) / n
