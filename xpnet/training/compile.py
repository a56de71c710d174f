"""How a run's iterations execute: eagerly, or traced once by the backend's compiler.

Both ways start from the same pure step (:mod:`xpnet.training.step`) and the
same network methods; a compiler only wraps them. The unit of work is the
*body* of an iteration, ``body(params, opt_state, x, t, index) -> (params,
opt_state, loss)``: gather the mini-batch of row indices `index` from the
whole training set, then take one step. Its shapes never change within a run
(the batch size is fixed), so it compiles once.

* Eagerly, the training loop calls the body once per iteration.
* With a compiler that compiles a loop (JAX), one call runs a whole chunk of
  iterations on the device, from a chunk of indices drawn by xpnet's host
  sampler; the run is the same run as on NumPy.
* With a compiler that compiles the step (PyTorch), the loop calls the
  compiled body once per iteration.

Evaluations (:meth:`Engine.accuracy`) skip the input checks, which the data
passed once before training, and are compiled too where a compiler is used.

Examples
--------
>>> from xpnet.backend import resolve_backend
>>> choose_compiler("auto", resolve_backend("numpy"), grad="backprop", optimizer=None) is None
True
"""

from __future__ import annotations

import time
from typing import Any

from .._typing import Array, Params, Trainable
from ..backend import Backend, compiler_backends, native
from ..errors import XpnetValueError
from .step import buffers_of, make_step

__all__ = ["COMPILE_CHOICES", "Engine", "check_compile", "choose_compiler"]

#: What ``train(compile=...)`` accepts.
COMPILE_CHOICES = ("auto", True, False)


def check_compile(choice: Any) -> str | bool:
    """`choice` if it is one of :data:`COMPILE_CHOICES` (1 is not True), else an error."""
    if isinstance(choice, bool) or (isinstance(choice, str) and choice == "auto"):
        return choice
    raise XpnetValueError(f"`compile` must be 'auto', True or False. Received: {choice!r}.")


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


class Engine:
    """The body of an iteration and the accuracy of a network, eager or compiled.

    Parameters
    ----------
    net, optimizer, grad
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
        xp = net.backend.xp
        step = make_step(net, optimizer, grad, weight_decay=weight_decay)
        take = native(xp, "take") or (lambda a, i, axis: xp.take(a, i, axis=axis))

        def body(
            params: Params, opt_state: dict[str, Array], x: Array, t: Array, index: Array
        ) -> tuple[Params, dict[str, Array], Array]:
            x_batch, t_batch = take(x, index, 0), take(t, index, 0)  # indices are >= 0
            return step(params, opt_state, x_batch, t_batch)

        # A network's buffers (BatchNormalization's running statistics) are an
        # argument, not a closure: a compiled function would keep their first values.
        buffered = bool(buffers_of(net))

        def correct(params: Params, buffers: dict[str, Array], x: Array, t: Array) -> Array:
            extra = {"buffers": buffers} if buffered else {}
            return net.correct(x, t, params=params, check_input=False, **extra)

        self.loop: Any = None
        self.step: Any = body
        self._correct: Any = correct
        #: Seconds spent in first calls (per shape), which is when compilers compile.
        self.compile_seconds = 0.0
        if compiler is not None:
            if compiler.function is not None:
                self._correct = self._timed(compiler.function(correct, self.device), shape_of=3)
            if compiler.loop is not None:
                self.loop = self._timed(compiler.loop(body, self.device))
            else:
                self.step = self._timed(compiler.step(body, self.device))

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

    def own(self, tree: dict[str, Array]) -> dict[str, Array]:
        """Arrays a compiled call returned, safe to keep (see ``Compiler.own``)."""
        return tree if self.compiler is None else self.compiler.own(tree, self.device)

    def accuracy(self, params: Params, x: Array, t: Array) -> float:
        """The fraction of (x, t) classified correctly, without checking the data again."""
        return int(self._correct(params, buffers_of(self.net), x, t)) / x.shape[0]
