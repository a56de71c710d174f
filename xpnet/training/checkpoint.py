"""Training checkpoints: the network's state file, plus the run's progress.

A checkpoint is the network's file (:mod:`xpnet.nets._state`) of kind
"checkpoint" with the run added: in the metadata the settings a resumed run
must share, the iteration reached, the mini-batch seed and the optimizer's
settings; as arrays the optimizer's state (``optim.*``) and the history
(``history.*``, 8 bytes per loss). Callbacks add their settings and state to
the metadata and their arrays as ``callbacks.<i>.<name>`` (EarlyStopping's
best network). Everything is checked before the network or the optimizer is
changed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._typing import Array
from ..backend import asarray
from ..errors import CheckpointError, XpnetError
from ..nets._state import Spec, load_state, save_state
from .history import History
from .step import split_state

__all__ = [
    "Progress",
    "Restored",
    "history_from_arrays",
    "history_from_dict",
    "load_history",
    "read_checkpoint",
    "write_checkpoint",
]


@dataclass
class Progress:
    """Where a run stands: the next iteration, what was measured, the step's carried state.

    `opt_state` is the optimizer's state plus the network's buffers under
    ``net.`` keys (see :func:`xpnet.training.step.init_state`); `stopped`
    says a callback ended the run.
    """

    iteration: int
    history: History
    opt_state: dict[str, Array]
    stopped: bool = False


@dataclass
class Restored:
    """A checked checkpoint: the run's progress, the network's host arrays, the saved settings."""

    progress: Progress
    network_arrays: dict[str, np.ndarray]
    settings: dict[str, Any]
    callback_arrays: list[dict[str, np.ndarray]] = field(default_factory=list)


def write_checkpoint(
    path: str | os.PathLike[str],
    net: Any,
    optimizer: Any,
    settings: dict[str, Any],
    progress: Progress,
    callbacks: Sequence[Any] = (),
) -> None:
    """Save the run at `path`, atomically (the network's buffers as `net` holds them)."""
    history = progress.history
    training = {
        "settings": settings,
        "iteration": progress.iteration,
        "evaluations": [len(history.eval_iters), len(history.test_acc), len(history.val_acc)],
        "optimizer": optimizer.get_config(),
        "seconds": progress.history.seconds,
        "stopped": progress.stopped,
        "callbacks": [
            {"config": _call(c, "get_config", {}), "state": _call(c, "get_state", {})}
            for c in callbacks
        ],
    }
    arrays = {f"history.{k}": v for k, v in history.to_arrays().items()}
    opt_state, _ = split_state(progress.opt_state)
    arrays.update({f"optim.{k}": v for k, v in opt_state.items()})
    for i, callback in enumerate(callbacks):
        saved = _call(callback, "state_arrays", {})
        arrays.update({f"callbacks.{i}.{k}": v for k, v in saved.items()})
    save_state(
        path, net, kind="checkpoint", meta={"training": training}, arrays=arrays, name="checkpoint"
    )


def _training_meta(where: str, meta: dict[str, Any]) -> dict[str, Any]:
    training = meta.get("training")
    if meta.get("kind") != "checkpoint" or not isinstance(training, dict):
        if meta.get("version") == 1 and meta.get("kind") == "checkpoint":
            raise CheckpointError(
                f"{where}: a checkpoint of xpnet 0.1, which cannot be resumed by this version; "
                "its network loads with TwoLayerNet.load(path)."
            )
        raise CheckpointError(f"{where}: a saved network, not a training checkpoint.")
    try:
        iteration, seconds = training["iteration"], float(training["seconds"])
        ok = isinstance(iteration, int) and iteration >= 0 and np.isfinite(seconds)
        ok = (
            ok
            and isinstance(training["settings"], dict)
            and isinstance(training["optimizer"], dict)
        )
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise CheckpointError(f"{where}: damaged checkpoint metadata.")
    return training


def _history_spec(where: str, meta: dict[str, Any]) -> Spec:
    """The history arrays a checkpoint with `meta` holds."""
    training = _training_meta(where, meta)
    evals = training.get("evaluations")
    if not (
        isinstance(evals, list)
        and len(evals) in (2, 3)
        and all(isinstance(v, int) and v >= 0 for v in evals)
    ):
        raise CheckpointError(f"{where}: damaged checkpoint metadata (evaluations).")
    n_evals, n_test = evals[:2]
    spec: Spec = {
        "history.train_loss": ((training["iteration"],), "float64"),
        "history.eval_iters": ((n_evals,), "int64"),
        "history.train_acc": ((n_evals,), "float64"),
        "history.test_acc": ((n_test,), "float64"),
    }
    if len(evals) == 3:  # checkpoints before validation splits have two counts
        spec["history.val_acc"] = ((evals[2],), "float64")
    return spec


def read_checkpoint(
    path: str | os.PathLike[str],
    net: Any,
    optimizer: Any,
    settings: dict[str, Any],
    iters: int,
    *,
    has_test: bool | None = None,
    callbacks: Sequence[Any] = (),
) -> Restored:
    """Check a checkpoint against this run; return what resuming needs.

    `has_test` says whether this run measures test accuracy (None: not
    checked); a checkpoint made the other way is refused, since its history
    could not continue. Nothing is changed here but the callbacks' state
    (``set_state``), once every other check passed: the caller applies the
    rest.
    """
    where = os.fspath(path)
    net_spec = type(net).state_spec(net.get_config())
    param_spec = {k: v for k, v in net_spec.items() if k in net.params}  # not the buffers
    extra = {f"optim.{k}": v for k, v in optimizer.state_spec(param_spec).items()}
    for i, callback in enumerate(callbacks):
        spec = _call(callback, "state_spec", {}, net_spec)
        extra.update({f"callbacks.{i}.{k}": v for k, v in spec.items()})

    def expected(meta: dict[str, Any]) -> Spec:
        spec = _history_spec(where, meta)  # checks the training metadata first
        _check_callback_configs(where, meta["training"], callbacks)
        return {**spec, **extra}

    state = load_state(path, type(net), extra_spec=expected)
    training = state.meta["training"]
    if state.meta["network"] != net.get_config():
        raise CheckpointError(
            f"{where}: the checkpoint is for {state.meta['network']}, "
            f"not this network ({net.get_config()})."
        )
    saved = training["settings"]
    changed = [k for k in settings if saved.get(k) != settings[k]]
    if changed:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {settings[k]!r}" for k in changed)
        raise CheckpointError(f"{where}: cannot resume with different settings ({detail}).")
    if training["optimizer"] != optimizer.get_config():
        raise CheckpointError(
            f"{where}: the checkpoint was trained with {training['optimizer']}, "
            f"not {optimizer.get_config()}."
        )
    if training["iteration"] > iters:
        raise CheckpointError(
            f"{where}: the run is already at iteration {training['iteration']}, past "
            f"iters={iters}; resume with --iters {training['iteration']} or more."
        )
    history = _checked_history(where, state.extra, training)
    if has_test is not None and history.eval_iters and bool(history.test_acc) != has_test:
        made, now = ("with", "without") if history.test_acc else ("without", "with")
        raise CheckpointError(
            f"{where}: the checkpoint was trained {made} test data; resume it {made} test "
            f"data, not {now}."
        )
    _restore_callbacks(where, training, callbacks)
    b = net.backend
    opt_state = {
        k.removeprefix("optim."): asarray(v, dtype=v.dtype.name, backend=b)
        for k, v in state.extra.items()
        if k.startswith("optim.")
    }
    stopped = training.get("stopped", False) is True
    progress = Progress(training["iteration"], history, opt_state, stopped)
    callback_arrays = [
        {
            k.removeprefix(f"callbacks.{i}."): v
            for k, v in state.extra.items()
            if k.startswith(f"callbacks.{i}.")
        }
        for i in range(len(callbacks))
    ]
    return Restored(progress, state.network, saved, callback_arrays)


def _call(callback: Any, method: str, default: Any, *args: Any) -> Any:
    """``callback.method(*args)`` if the callback has that optional method, else `default`."""
    function = getattr(callback, method, None)
    return default if function is None else function(*args)


def _check_callback_configs(where: str, training: dict[str, Any], callbacks: Sequence[Any]) -> None:
    """An error unless the checkpoint's callbacks have the settings of this run's."""
    saved = training.get("callbacks", [])
    configs = [_call(c, "get_config", {}) for c in callbacks]
    ok = isinstance(saved, list) and all(isinstance(s, dict) for s in saved)
    found = [s.get("config") for s in saved] if ok else saved
    if found != configs:
        raise CheckpointError(
            f"{where}: the checkpoint was trained with callbacks {found}, not {configs}."
        )


def _restore_callbacks(where: str, training: dict[str, Any], callbacks: Sequence[Any]) -> None:
    """Give each callback its saved state (their settings were checked before)."""
    saved = training.get("callbacks", [])
    for callback, entry in zip(callbacks, saved, strict=True):
        try:
            _call(callback, "set_state", None, entry.get("state"))
        except (XpnetError, AttributeError, TypeError) as exc:
            raise CheckpointError(f"{where}: damaged callback state ({exc}).") from None


def _checked_history(where: str, extra: dict[str, np.ndarray], training: dict[str, Any]) -> History:
    arrays = {k.removeprefix("history."): v for k, v in extra.items() if k.startswith("history.")}
    return history_from_arrays(
        where, arrays, iteration=training["iteration"], seconds=float(training["seconds"])
    )


def history_from_arrays(
    where: str,
    arrays: dict[str, np.ndarray],
    *,
    iteration: int | None = None,
    seconds: float = 0.0,
    error: type[XpnetError] = CheckpointError,
) -> History:
    """A :class:`History` from its arrays, refused unless it is one a run could have made.

    One loss per iteration (`iteration`, or as many as there are), all
    finite; one train accuracy per evaluation and as many test accuracies or
    none, all in [0, 1]; evaluations at increasing iterations, the first
    after iteration 0 once any iteration ran.

    Raises
    ------
    `error` (CheckpointError by default)
        "`where`: damaged history (what is wrong)."
    """
    loss, evals = arrays["train_loss"], arrays["eval_iters"]
    train_acc, test_acc = arrays["train_acc"], arrays["test_acc"]
    val_acc = arrays.get("val_acc", np.zeros(0))
    n = len(loss) if iteration is None else iteration
    accs = np.concatenate([train_acc, test_acc, val_acc])
    problems = {
        f"{len(loss)} losses for {n} iterations": loss.shape != (n,),
        "a loss that is NaN or infinite": not np.all(np.isfinite(loss)),
        f"{len(train_acc)} train accuracies for {len(evals)} evaluations": (
            train_acc.shape != evals.shape
        ),
        f"{len(test_acc)} test accuracies for {len(evals)} evaluations": (
            test_acc.shape != (0,) and test_acc.shape != evals.shape
        ),
        f"{len(val_acc)} validation accuracies for {len(evals)} evaluations": (
            val_acc.shape != (0,) and val_acc.shape != evals.shape
        ),
        "an accuracy outside [0, 1]": not np.all((accs >= 0) & (accs <= 1)),
        "evaluations not at increasing iterations of the run": not (
            np.all(np.diff(evals) > 0) and np.all((evals >= 0) & (evals < max(n, 1)))
        ),
        "no evaluation after iteration 0": n > 0 and (len(evals) == 0 or evals[0] != 0),
        f"a training time of {seconds!r} seconds": not (math.isfinite(seconds) and seconds >= 0),
    }
    found = [what for what, bad in problems.items() if bad]
    if found:
        raise error(f"{where}: damaged history ({found[0]}).")
    return History.from_arrays(arrays, seconds=seconds)


def history_from_dict(
    where: str, data: Any, *, error: type[XpnetError] = CheckpointError
) -> History:
    """The inverse of ``History.to_dict()`` for data read from JSON, checked like a checkpoint's.

    Raises `error` naming `where` and the key when `data` is not such a dict:
    a list, null or a string instead, a missing key, a value that is not a
    list of finite numbers (JSON's ``1e400`` reads as infinity), lists whose
    lengths disagree.
    """
    keys = ("train_loss", "eval_iters", "train_acc", "test_acc")
    if not isinstance(data, dict):
        raise error(
            f"{where}: `history` must be an object with keys {', '.join(keys)}. "
            f"Received: {type(data).__name__}."
        )
    arrays = {}
    for key in keys + ("val_acc",) * ("val_acc" in data):  # older summaries have no val_acc
        value = data.get(key)
        if not (
            isinstance(value, list)
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise error(f"{where}: `history.{key}` must be a list of numbers.")
        try:
            array = np.asarray(value, dtype=np.float64)
        except OverflowError:  # an integer beyond float64
            array = np.full(len(value), np.inf)
        if key == "eval_iters":
            if not np.all(np.isfinite(array) & (array == np.round(array))):
                raise error(f"{where}: `history.eval_iters` must be a list of integers.")
            array = array.astype(np.int64)
        arrays[key] = array
    seconds = data.get("seconds", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise error(f"{where}: `history.seconds` must be a number.")
    try:
        seconds = float(seconds)
    except OverflowError:
        seconds = math.inf
    return history_from_arrays(where, arrays, seconds=seconds, error=error)


def load_history(path: str | os.PathLike[str]) -> History:
    """The :class:`History` stored in a checkpoint written by :func:`xpnet.train`."""
    where = os.fspath(path)
    state = load_state(path, None, extra_spec=lambda meta: _history_spec(where, meta))
    return _checked_history(where, state.extra, state.meta["training"])
