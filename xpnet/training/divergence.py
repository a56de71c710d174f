"""Noticing a run that diverges, and saying which way to turn the learning rate.

A non-finite loss stops training at once (:func:`lr_hint` words the error).
Two slower failures keep the loss finite, thanks to the ``1e-7`` guard in the
logarithm, and would otherwise end with exit status 0 and a useless network:

* **the loss climbs**: most losses over the last evaluation interval (at
  least :data:`WINDOW` iterations; their median, so that one lucky batch
  does not hide the rest) are above ``max(2 * L0, L0 + 1)``, where ``L0``
  is the loss of iteration 0 — ``xpnet train --lr 50``;
* **nothing is learnt**: the training accuracy has stayed at chance
  (below ``1/C + 0.05``) at the last :data:`CHANCE_EVALS` evaluations,
  over at least that many epochs and :data:`CHANCE_MIN_ITERS` iterations
  (shorter runs are too noisy to call), and the loss of the last interval
  is on average not below ``L0`` — ``xpnet train --lr 10``. (A learning
  rate that is too small also leaves the accuracy at chance for a while,
  but its loss falls: no alarm.)

Either gives one :class:`~xpnet.errors.DivergenceWarning` per run, or a
:class:`~xpnet.errors.TrainingDivergedError` with ``fail_on_divergence=True``.
The chapter's run (lr 0.1) never comes near either threshold.

Examples
--------
>>> monitor = DivergenceMonitor(lr=50.0, fail=False)
>>> monitor.problem([2.3] + [12.0] * 600, [0.1, 0.19], every=600, samples=60000, classes=10)[:35]
'the loss stayed above 4.6 (its star'
"""

from __future__ import annotations

import math
import statistics
import sys
import warnings
from pathlib import Path
from typing import Any

from ..errors import DivergenceWarning, TrainingDivergedError

__all__ = ["CHANCE_EVALS", "CHANCE_MIN_ITERS", "WINDOW", "DivergenceMonitor", "lr_hint"]

#: The fewest consecutive losses the climbing-loss test looks at.
WINDOW = 10
#: Evaluations (after iteration 0), and epochs, at chance before the alarm.
CHANCE_EVALS = 3
#: How far above chance (1 / classes) accuracy still counts as chance.
CHANCE_MARGIN = 0.05
#: The fewest iterations before accuracy at chance counts.
CHANCE_MIN_ITERS = 300

_PACKAGE = str(Path(__file__).parents[1])


def lr_hint(lr: Any, weight_decay: float = 0.0) -> str:
    """Which setting to turn, and which way, in words: the weight decay or the learning rate.

    L2 decay alone multiplies the weights by ``1 - lr * weight_decay`` at
    every step (and its term can overflow the loss at once): a product near
    1 or above is the cause whatever the learning rate.
    """
    rate = lr if isinstance(lr, float) and math.isfinite(lr) else None
    if weight_decay and (weight_decay * (rate or 1.0) >= 0.5 or not math.isfinite(weight_decay)):
        limit = f" (at lr={rate:g}, at most {0.1 / rate:g})" if rate else ""
        return (
            f"the weight decay {weight_decay:g} is probably too large: each step scales the "
            f"weights by 1 - lr * weight_decay and its loss term grows as weight_decay * W**2. "
            f"Keep lr * weight_decay well below 1{limit}."
        )
    if isinstance(lr, float) and math.isfinite(lr):
        return (
            f"the learning rate lr={lr:g} is probably too large. "
            f"Try a smaller one, such as {min(lr / 10, 0.1):g}."  # the chapter's lr at most
        )
    return "the optimizer's steps are probably too large."


class DivergenceMonitor:
    """Checks a run's history at each evaluation; warns once, or raises.

    Parameters
    ----------
    lr : float or None
        The learning rate, for the hint (None when the optimizer has none).
    fail : bool
        Raise :class:`~xpnet.errors.TrainingDivergedError` instead of warning.
    """

    def __init__(self, lr: Any, fail: bool, weight_decay: float = 0.0) -> None:
        self.lr, self.fail, self.warned = lr, fail, False
        self.weight_decay = weight_decay

    def check(
        self,
        losses: list[float],
        train_acc: list[float],
        *,
        every: int,
        samples: int,
        classes: int,
        batch_size: int,
    ) -> None:
        """Warn (once) or raise if the run diverges; see the module's description."""
        if self.warned and not self.fail:
            return
        what = self.problem(
            losses, train_acc, every=every, samples=samples, classes=classes, batch_size=batch_size
        )
        if what is None:
            return
        message = f"Training is diverging: {what}; {lr_hint(self.lr, self.weight_decay)}"
        if self.fail:
            raise TrainingDivergedError(message)
        self.warned = True
        warnings.warn(
            message + " Pass fail_on_divergence=True to make this an error.",
            DivergenceWarning,
            stacklevel=_outside_xpnet(),
        )

    @staticmethod
    def problem(
        losses: list[float],
        train_acc: list[float],
        *,
        every: int,
        samples: int,
        classes: int,
        batch_size: int = 100,
    ) -> str | None:
        """What is wrong with the run, in words, or None."""
        if not losses:
            return None
        start = losses[0]
        window = max(every, WINDOW)
        recent = losses[-window:]
        if len(losses) > window:
            threshold = max(2 * start, start + 1)
            if statistics.median(recent) > threshold:
                return (
                    f"the loss stayed above {threshold:.3g} (its start was {start:.3g}) for "
                    f"most of the last {window} iterations, up to iteration {len(losses) - 1}"
                )
        evals = train_acc[1:][-CHANCE_EVALS:]
        epochs = (len(losses) - 1) * batch_size / samples
        chance = 1 / classes
        if (
            len(evals) == CHANCE_EVALS
            and epochs >= CHANCE_EVALS
            and len(losses) > CHANCE_MIN_ITERS
            and max(evals) < chance + CHANCE_MARGIN
            and sum(recent) / len(recent) >= start
        ):
            return (
                f"the training accuracy is still at chance ({evals[-1]:.4f}, chance {chance:.3g}) "
                f"after {len(train_acc) - 1} evaluations, and the loss is not falling "
                f"(mean {sum(recent) / len(recent):.3g}, start {start:.3g})"
            )
        return None


def _outside_xpnet() -> int:
    """The `stacklevel` that points a warning at the first caller outside xpnet."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level
