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

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._typing import Array
from ..backend import asarray
from ..errors import CheckpointError, XpnetError
from ..nets._state import Spec, load_state, read_meta, save_state
from .history import History, history_from_arrays

__all__ = [
    "LEGACY_DEFAULTS",
    "Progress",
    "Restored",
    "load_history",
    "read_checkpoint",
    "read_training_meta",
    "write_checkpoint",
]

#: What a checkpoint of an earlier version means by a setting it does not record.
LEGACY_DEFAULTS: dict[str, Any] = {
    "weight_decay": 0.0,
    "validation": None,
    "validation_size": None,
    "eval_samples": None,
    "precision": "highest",
    "sampling": "with-replacement",  # checkpoints written before sampling="epoch" existed
    "drop_last": False,
}


@dataclass
class Progress:
    """Where a run stands: the next iteration, what was measured, the optimizer's state.

    The network's own arrays (parameters and buffers) are the network's;
    `stopped` says a callback ended the run.
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
    """Save the run at `path`, atomically: the network's arrays, the optimizer's, the history."""
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
    arrays.update({f"optim.{k}": v for k, v in progress.opt_state.items()})
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
        # What this run is, checked before any array: a different network or
        # optimizer is one line, not a list of the arrays it would have had.
        spec = _history_spec(where, meta)  # checks the training metadata first
        _check_same_run(where, meta, net, optimizer, settings)
        _check_callback_configs(where, meta["training"], callbacks)
        return {**spec, **extra}

    state = load_state(path, type(net), extra_spec=expected)
    training = state.meta["training"]
    saved = training["settings"]
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


def _check_same_run(
    where: str, meta: dict[str, Any], net: Any, optimizer: Any, settings: dict[str, Any]
) -> None:
    """One line naming what differs between the checkpoint's run and this one."""
    if meta["network"] != net.get_config():
        theirs, ours = meta["network"], net.get_config()
        diff = [k for k in sorted(set(theirs) | set(ours)) if theirs.get(k) != ours.get(k)]
        detail = ", ".join(f"{k}: {theirs.get(k)!r} -> {ours.get(k)!r}" for k in diff)
        raise CheckpointError(f"{where}: the checkpoint holds another network ({detail}).")
    training = meta["training"]
    if training["optimizer"] != optimizer.get_config():
        raise CheckpointError(
            f"{where}: the checkpoint was trained with {training['optimizer']}, "
            f"not {optimizer.get_config()}."
        )
    saved = training["settings"]
    changed = [k for k in settings if saved.get(k, LEGACY_DEFAULTS.get(k)) != settings[k]]
    if changed:
        detail = ", ".join(
            f"{k}: {saved.get(k, LEGACY_DEFAULTS.get(k))!r} -> {settings[k]!r}" for k in changed
        )
        raise CheckpointError(f"{where}: cannot resume with different settings ({detail}).")


def read_training_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A checkpoint's training metadata (settings, optimizer…), read and checked, no arrays."""
    where = os.fspath(path)
    meta = read_meta(path)
    _history_spec(where, meta)  # checks the training metadata
    return meta["training"]


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


def load_history(path: str | os.PathLike[str]) -> History:
    """The :class:`History` stored in a checkpoint written by :func:`xpnet.train`."""
    where = os.fspath(path)
    state = load_state(path, None, extra_spec=lambda meta: _history_spec(where, meta), only=True)
    return _checked_history(where, state.extra, state.meta["training"])
