"""Resuming: the settings a run was not given come from its checkpoint.

A resumed run must be the run that was interrupted. So every setting that
shapes its numbers is compared with the checkpoint's, defaults included:

* a setting the caller gave differently is refused, in one line naming both
  values (what reading the checkpoint compares again);
* a setting the caller did not give is taken from the checkpoint, and a
  :class:`~xpnet.errors.ResumeWarning` says which.

What cannot be taken from a checkpoint (the data, its size) is only compared.
"""

from __future__ import annotations

import warnings
from typing import Any

from ..errors import CheckpointError, ResumeWarning
from ..optim import from_config
from .checkpoint import LEGACY_DEFAULTS
from .config import TrainConfig

__all__ = ["reconcile"]

#: Settings a checkpoint records under the same name as TrainConfig's field.
#: (sampling and drop_last before eval_every, whose default they change.)
SIMPLE = (
    "batch_size", "grad", "weight_decay", "sampling", "drop_last", "eval_every", "eval_samples",
    "precision",
)  # fmt: skip


def reconcile(
    config: TrainConfig,
    training: dict[str, Any],
    current: dict[str, Any],
    optimizer: Any,
    where: str,
) -> TrainConfig:
    """`config` with the checkpoint's values for every run-shaping setting it was not given.

    `training` is the checkpoint's training metadata; `current` the settings
    this run would have (``Run.settings()``, the evaluation interval as
    computed); `optimizer` the one it would use. Says what it took in one
    :class:`ResumeWarning`.
    """
    saved = training.get("settings", {})
    given = config.given or frozenset()
    changes: dict[str, Any] = {}
    refused = []
    for name in SIMPLE:
        theirs = saved.get(name, LEGACY_DEFAULTS.get(name))
        ours = current[name]
        if name == "eval_every":  # as computed, after the batch size is settled
            ours = config.replace(**changes).eval_interval(current["train_size"])
        if theirs is None or theirs == ours:
            continue
        if name in given:
            refused.append(f"{name}: {theirs!r} -> {ours!r}")
        else:
            changes[name] = theirs
    if refused:
        raise CheckpointError(
            f"{where}: cannot resume with different settings ({', '.join(refused)})."
        )
    fraction = saved.get("validation")
    if "validation" not in given and config.validation is None and isinstance(fraction, float):
        changes["validation"] = fraction
    changes.update(_optimizer_changes(config, training.get("optimizer"), optimizer, given))
    if not changes:
        return config
    shown = ", ".join(
        f"{k}={_describe(v)}"
        for k, v in changes.items()
        if not (k == "lr" and "optimizer" in changes)
    )
    warnings.warn(
        f"{where}: resuming with the checkpoint's {shown} (not given here).",
        ResumeWarning,
        stacklevel=3,
    )
    return config.replace(**changes)


def _optimizer_changes(
    config: TrainConfig, saved: Any, optimizer: Any, given: frozenset[str]
) -> dict[str, Any]:
    """The checkpoint's optimizer, or only its rate, where this run was not given them."""
    ours = getattr(optimizer, "get_config", lambda: None)()
    if not isinstance(saved, dict) or saved == ours or not isinstance(ours, dict):
        return {}
    if saved.get("class") != ours.get("class"):
        if "optimizer" in given or "lr" in given:
            return {}  # refused when the checkpoint is read, naming both
        return {"optimizer": from_config(saved), "lr": None}
    rest_equal = {k: v for k, v in saved.items() if k != "lr"} == {
        k: v for k, v in ours.items() if k != "lr"
    }
    if rest_equal and "lr" not in given and isinstance(config.optimizer, str):
        return {"lr": from_config(saved).lr}
    return {}


def _describe(value: Any) -> str:
    config = getattr(value, "get_config", None)
    if callable(config):
        described = config()
        return (
            str(described.get("class", described)) if isinstance(described, dict) else repr(value)
        )
    return repr(value)
