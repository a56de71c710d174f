"""The optimizer base class: the book's ``update`` written once over a pure ``apply``.

A rule is written once, as the book writes it (``v += ...``, ``param -= ...``),
through :class:`Ops`: in a pure step (compiled, or on a library whose arrays
are immutable) each statement makes a new array; in an eager step on a
library that allows it (``Library.in_place``: NumPy, CuPy, PyTorch) it
updates the array in place, as a hand-written loop does, and allocates
nothing. Both give the same numbers, bit for bit.
"""

from __future__ import annotations

from typing import Any

from .._typing import Array, Params
from .._validation import positive_float
from ..backend import asarray, device, namespace
from .schedules import Schedule, as_schedule

__all__ = ["IN_PLACE", "OPTIMIZERS", "PURE", "Ops", "Optimizer", "Spec"]

#: Name -> (shape, dtype name) of arrays, as networks and optimizers describe their state.
Spec = dict[str, tuple[tuple[int, ...], str]]
#: The dtype of the step count: int32 exists on every backend (JAX without x64 too).
STEP_DTYPE = "int32"


class Ops:
    """How a rule's statements update arrays: ``ops.add(a, b)`` is ``a += b`` or ``a + b``.

    Each returns the updated array: in place (`a` itself, changed) for
    :data:`IN_PLACE`, a new array for :data:`PURE`. A rule always uses the
    returned array, so it reads the same either way.
    """

    def __init__(self, in_place: bool) -> None:
        self.in_place = in_place

    def add(self, a: Array, b: Any) -> Array:
        """``a + b``."""
        if self.in_place:
            a += b
            return a
        return a + b

    def sub(self, a: Array, b: Any) -> Array:
        """``a - b``."""
        if self.in_place:
            a -= b
            return a
        return a - b

    def mul(self, a: Array, b: Any) -> Array:
        """``a * b``."""
        if self.in_place:
            a *= b
            return a
        return a * b


#: New arrays at every statement: compiled steps, immutable libraries (JAX).
PURE = Ops(in_place=False)
#: Updates in place, for eager steps on libraries that allow it.
IN_PLACE = Ops(in_place=True)

#: Every optimizer by its lower-case name (``train(optimizer="adam")``, ``--optimizer``):
#: a subclass with a ``name`` registers itself.
OPTIMIZERS: dict[str, type[Optimizer]] = {}


class Optimizer:
    """Base class: the book's ``update`` written once on top of the pure ``apply``.

    A subclass names its per-parameter state arrays in :attr:`slots` (``"v"``
    makes ``v.W1``, ``v.b1``, …, zeros like the parameters) and implements
    :meth:`rule`, the update of one parameter. The step count (``step``, an
    int32 array of shape (1,)) is kept when the rule needs it
    (:attr:`counts_steps`, Adam) or the learning rate is a schedule. A
    subclass with a :attr:`name` is listed in :data:`OPTIMIZERS`.

    Parameters
    ----------
    lr : float, Schedule or callable
        The learning rate: a finite positive number; a schedule such as
        :class:`~xpnet.optim.StepDecay`; or any callable ``step -> lr``, called
        inside the step with the number of updates made so far as an array
        of shape (1,) in the parameters' dtype (so use array operations, not
        ``if``: reading it back would synchronise a GPU at every step).
    """

    #: Its name in :data:`OPTIMIZERS` (lower case), or None for a base class.
    name: str | None = None
    #: Names of the state arrays kept per parameter.
    slots: tuple[str, ...] = ()
    #: Whether the rule needs the step count even with a constant learning rate.
    counts_steps: bool = False

    lr: float | Schedule
    state: dict[str, Array] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            OPTIMIZERS[cls.name] = cls  # type: ignore[index]

    def __init__(self, lr: Any = 0.01) -> None:
        if isinstance(lr, Schedule) or (callable(lr) and not isinstance(lr, type)):
            self.lr = as_schedule(lr)
        else:
            self.lr = positive_float(lr, "lr")
        self.state = None

    # -- the pure interface ---------------------------------------------------------

    def _keeps_step(self) -> bool:
        return self.counts_steps or isinstance(self.lr, Schedule)

    def init(self, params: Params) -> dict[str, Array]:
        """The state before the first step: zeros like each parameter per slot, and the count."""
        state = {}
        for slot in self.slots:
            for key, value in params.items():
                state[f"{slot}.{key}"] = namespace(value).zeros_like(value)
        if self._keeps_step() and params:
            first = next(iter(params.values()))
            xp = namespace(first)
            state["step"] = xp.zeros((1,), dtype=getattr(xp, STEP_DTYPE), device=device(first))
        return state

    def apply(
        self, params: Params, grads: Params, state: dict[str, Array], *, in_place: bool = False
    ) -> tuple[Params, dict[str, Array]]:
        """One step: new parameters and new state. Nothing is read back to the host.

        Only parameters with a gradient in `grads` move; the others are
        passed through. By default the inputs are not changed (a pure step);
        ``in_place=True`` updates the parameter and state arrays themselves,
        where their library allows it (see :class:`Ops`), and returns them.
        """
        ops = IN_PLACE if in_place else PURE
        new_params, new_state = dict(params), dict(state)
        rates: dict[Any, Any] = {}
        for key, grad in grads.items():
            if grad.dtype not in rates:
                rates[grad.dtype] = self.rate(state, grad)
            slots = {slot: state[f"{slot}.{key}"] for slot in self.slots}
            new_params[key], slots = self.rule(params[key], grad, slots, rates[grad.dtype], ops)
            new_state.update({f"{slot}.{key}": value for slot, value in slots.items()})
        if "step" in state:
            new_state["step"] = state["step"] + 1
        return new_params, new_state

    def rate(self, state: dict[str, Array], like: Array) -> Any:
        """The step's learning rate: a float, or an array of shape (1,) in `like`'s dtype."""
        if not isinstance(self.lr, Schedule):
            return self.lr
        return self.lr(self.step_count(state, like))

    @staticmethod
    def step_count(state: dict[str, Array], like: Array) -> Array:
        """The updates made so far, as a 0-d array in `like`'s dtype (kept as shape (1,))."""
        xp = namespace(like)
        return xp.reshape(xp.astype(state["step"], like.dtype), ())

    def rule(
        self, param: Array, grad: Array, slots: dict[str, Array], lr: Any, ops: Ops
    ) -> tuple[Array, dict[str, Array]]:
        """The update of one parameter: its new value and new slot arrays.

        Written as the book writes it, with `ops` for each statement that
        updates an array (``ops.sub(param, lr * grad)`` is ``param -= lr * grad``).
        """
        raise NotImplementedError

    # -- the book's interface -------------------------------------------------------

    def update(self, params: Params, grads: Params) -> None:
        """The book's call: replace each ``params[key]`` by its updated value.

        Python numbers (the book's naive comparison on ``x**2 / 20 + y**2``
        keeps its two coordinates as floats) are taken as float64 NumPy
        scalars.
        """
        params.update({k: _scalar(v) for k, v in params.items() if _is_number(v)})
        grads = {k: _scalar(v) if _is_number(v) else v for k, v in grads.items()}
        if self.state is None:
            self.state = self.init(params)
        new, self.state = self.apply(params, grads, self.state)
        params.update(new)

    # -- settings and saved state ---------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The class name and settings, JSON-able (saved in checkpoints)."""
        lr = self.lr.get_config() if isinstance(self.lr, Schedule) else self.lr
        return {"class": type(self).__name__, "lr": lr, **self.settings()}

    def settings(self) -> dict[str, Any]:
        """The subclass's hyper-parameters other than the learning rate."""
        return {}

    def state_spec(self, params: Spec) -> Spec:
        """Name -> (shape, dtype name) of the state arrays for parameters described by `params`."""
        spec: Spec = {
            f"{slot}.{key}": (tuple(shape), dtype)
            for slot in self.slots
            for key, (shape, dtype) in params.items()
        }
        if self._keeps_step() and params:
            spec["step"] = ((1,), STEP_DTYPE)
        return spec

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "class")
        return f"{type(self).__name__}({settings})"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar(value: float) -> Array:
    return asarray(value, dtype="float64", backend="numpy")
