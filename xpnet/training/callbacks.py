"""Callbacks: code the training loop calls at every evaluation, and that may stop it.

The protocol is one method, ``on_evaluation(history) -> bool``: called after
each evaluation with the run's :class:`~xpnet.training.History`; returning
True stops training there. A callback may also define any of

* ``on_train_begin(net)`` — before the first iteration (and before a resumed
  run restores the callback's state);
* ``on_train_end(stopped)`` — when the run ends, stopped by a callback or not;
* ``check_metrics(available)`` — raise an :class:`~xpnet.errors.XpnetError`
  before training if it needs a metric the run does not record;
* ``get_config()``, ``get_state()`` / ``set_state(state)`` (JSON-able dicts)
  and ``state_spec(net_spec)`` / ``state_arrays()`` / ``set_state_arrays(arrays)``:
  what checkpoints save, so that a resumed run continues the callback exactly.

:class:`Callback` implements them all as no-ops, to subclass.

Examples
--------
>>> from xpnet.training import History
>>> stop = EarlyStopping(patience=2, monitor="train_acc", restore_best=False)
>>> h, stops = History(), []
>>> for acc in (0.5, 0.7, 0.69, 0.7):
...     h.train_acc.append(acc)
...     h.eval_iters.append(len(h.eval_iters))
...     stops.append(stop.on_evaluation(h))
>>> stops
[False, False, False, True]
>>> stop.best, stop.best_iteration, stop.stopped_iteration
(0.7, 1, 3)
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .._typing import Array
from .._validation import finite_float, non_negative_int, one_of, positive_int
from ..backend import asarray, namespace
from ..errors import XpnetTypeError, XpnetValueError
from .history import History

__all__ = ["METRICS", "Callback", "EarlyStopping", "TrainingCallback", "check_callbacks"]

#: The accuracies a run records, each "higher is better".
METRICS = ("val_acc", "train_acc", "test_acc")

Spec = dict[str, tuple[tuple[int, ...], str]]


@runtime_checkable
class TrainingCallback(Protocol):
    """What :func:`xpnet.train` needs from a callback: ``on_evaluation(history) -> stop?``."""

    def on_evaluation(self, history: History) -> bool: ...


class Callback:
    """A callback that does nothing: subclass it and override what you need."""

    def on_train_begin(self, net: Any) -> None:
        """Called before the first iteration with the network being trained."""

    def on_evaluation(self, history: History) -> bool:
        """Called after every evaluation; return True to stop training."""
        return False

    def on_train_end(self, stopped: bool) -> None:
        """Called when the run ends (`stopped`: a callback asked for it)."""

    def check_metrics(self, available: tuple[str, ...]) -> None:
        """Raise an XpnetError if the callback needs a metric not in `available`."""

    def get_config(self) -> dict[str, Any]:
        """Settings, JSON-able; a checkpoint resumes only with equal settings."""
        return {"class": type(self).__name__}

    def get_state(self) -> dict[str, Any]:
        """What the callback has learnt so far, JSON-able (saved in checkpoints)."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state`'s result; raise XpnetValueError if it is damaged."""

    def state_spec(self, net_spec: Spec) -> Spec:
        """Name -> (shape, dtype) of the arrays :meth:`state_arrays` returns."""
        return {}

    def state_arrays(self) -> dict[str, Array]:
        """Arrays to save in checkpoints (on any backend)."""
        return {}

    def set_state_arrays(self, arrays: dict[str, Any]) -> None:
        """Restore :meth:`state_arrays`' result (host arrays, checked against the spec)."""


class EarlyStopping(Callback):
    """Stop when a metric has not improved for `patience` evaluations; restore the best network.

    Parameters
    ----------
    patience : int
        Evaluations without improvement before stopping.
    monitor : {"val_acc", "train_acc", "test_acc"}
        The accuracy watched (higher is better). "val_acc" needs a
        ``validation`` split; watching "test_acc" tunes on the test set.
    min_delta : float
        How much the metric must rise to count as an improvement (>= 0).
    restore_best : bool
        When stopping, give the network back its parameters and buffers from
        the best evaluation (Keras' ``restore_best_weights``). Kept on the
        network's device; checkpoints save them.

    Attributes
    ----------
    best, best_iteration : float and int, or None
        The best value seen and the iteration after which it was measured.
    stopped_iteration : int or None
        The iteration after which training stopped, if it did.
    """

    def __init__(
        self,
        patience: int = 5,
        monitor: str = "val_acc",
        min_delta: float = 0.0,
        restore_best: bool = True,
    ) -> None:
        self.patience = positive_int(patience, "patience")
        self.monitor = one_of(monitor, "monitor", METRICS)
        self.min_delta = finite_float(min_delta, "min_delta")
        if self.min_delta < 0:
            raise XpnetValueError(f"`min_delta` must be >= 0. Received: {min_delta!r}.")
        if not isinstance(restore_best, bool):
            raise XpnetTypeError(
                f"`restore_best` must be True or False. Received: {restore_best!r}."
            )
        self.restore_best = restore_best
        self.network: Any = None
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_iteration: int | None = None
        self.wait = 0
        self.stopped_iteration: int | None = None
        self.best_arrays: dict[str, Array] = {}

    def on_train_begin(self, net: Any) -> None:
        self.network = net
        self._reset()
        if self.restore_best:
            self.best_arrays = self._snapshot()

    def check_metrics(self, available: tuple[str, ...]) -> None:
        if self.monitor not in available:
            hint = {
                "val_acc": "pass `validation=` (a fraction or an (x, t) pair)",
                "test_acc": "pass test data",
            }.get(self.monitor, "")
            raise XpnetValueError(
                f"EarlyStopping(monitor={self.monitor!r}): the run does not record "
                f"{self.monitor}; {hint}. Recorded: {', '.join(available)}."
            )

    def on_evaluation(self, history: History) -> bool:
        value = getattr(history, self.monitor)[-1]
        if self.best is None or value > self.best + self.min_delta:
            self.best, self.best_iteration, self.wait = value, history.eval_iters[-1], 0
            if self.restore_best:
                self.best_arrays = self._snapshot()
            return False
        self.wait += 1
        if self.wait < self.patience:
            return False
        self.stopped_iteration = history.eval_iters[-1]
        return True

    def on_train_end(self, stopped: bool) -> None:
        if stopped and self.restore_best and self.best_iteration is not None:
            self.network.set_state_arrays(self.best_arrays)

    def _snapshot(self) -> dict[str, Array]:
        arrays = self.network.state_arrays()
        return {k: namespace(v).asarray(v, copy=True) for k, v in arrays.items()}

    # -- checkpoints -------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        return {
            "class": "EarlyStopping",
            "patience": self.patience,
            "monitor": self.monitor,
            "min_delta": self.min_delta,
            "restore_best": self.restore_best,
        }

    def get_state(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_iteration": self.best_iteration,
            "wait": self.wait,
            "stopped_iteration": self.stopped_iteration,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        try:
            best = None if state["best"] is None else finite_float(state["best"], "best")
            iteration = state["best_iteration"]
            iteration = None if iteration is None else non_negative_int(iteration, "iteration")
            wait = non_negative_int(state["wait"], "wait")
            stopped = state["stopped_iteration"]
            stopped = None if stopped is None else non_negative_int(stopped, "stopped")
        except (KeyError, TypeError, XpnetValueError, XpnetTypeError) as exc:
            raise XpnetValueError(f"damaged EarlyStopping state ({exc})") from None
        self.best, self.best_iteration, self.wait = best, iteration, wait
        self.stopped_iteration = stopped

    def state_spec(self, net_spec: Spec) -> Spec:
        return dict(net_spec) if self.restore_best else {}

    def state_arrays(self) -> dict[str, Array]:
        return dict(self.best_arrays)

    def set_state_arrays(self, arrays: dict[str, Any]) -> None:
        net = self.network
        spec = type(net).state_spec(net.get_config()) if self.restore_best else {}
        self.best_arrays = {
            name: asarray(arrays[name], dtype=dtype, backend=net.backend)
            for name, (_, dtype) in spec.items()
        }


def check_callbacks(callbacks: Any) -> list[Any]:
    """`callbacks` as a list, each with ``on_evaluation``; a type error otherwise."""
    if callbacks is None:
        return []
    items = [callbacks] if isinstance(callbacks, TrainingCallback) else list(callbacks)
    for item in items:
        if not callable(getattr(item, "on_evaluation", None)):
            raise XpnetTypeError(
                f"Each callback must have on_evaluation(history) -> bool. Received: {item!r}."
            )
    return items
