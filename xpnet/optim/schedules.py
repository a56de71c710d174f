"""Learning-rate schedules: the learning rate as a function of the step count.

A schedule is called inside the pure training step with the number of
updates made so far, an array of shape (1,) in the parameters' dtype on
their device, and returns the learning rate the same way, using array
operations only (no ``if`` on the value: reading it back would synchronise a
GPU at every step, and a compiler cannot trace it). The count is part of the
optimizer's saved state (``optim.step``), so a resumed run continues the
schedule where it stopped.

Examples
--------
>>> import numpy as np
>>> schedule = StepDecay(0.1, step_size=100, gamma=0.5)
>>> [round(float(schedule(np.array([s], dtype=np.float64))[0]), 4) for s in (0, 99, 100, 250)]
[0.1, 0.1, 0.05, 0.025]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._typing import Array
from .._validation import bounded_float, finite_float, positive_float, positive_int
from ..backend import namespace
from ..errors import XpnetTypeError

__all__ = ["CosineDecay", "FunctionSchedule", "Schedule", "StepDecay", "as_schedule"]


class Schedule:
    """Base class: ``schedule(step) -> lr`` on arrays, and the settings that rebuild it."""

    def __call__(self, step: Array) -> Array:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The class name and settings, JSON-able (checkpoints compare them on resume)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        config = self.get_config()
        settings = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "class")
        return f"{config['class']}({settings})"


class StepDecay(Schedule):
    """``lr * gamma ** floor(step / step_size)``: the rate drops by `gamma` every `step_size` steps.

    PyTorch's ``StepLR``; Keras' ``ExponentialDecay(staircase=True)``.

    Parameters
    ----------
    lr : float
        The initial learning rate, finite and positive.
    step_size : int
        Updates between two drops.
    gamma : float
        The factor of each drop, in (0, 1].
    """

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr = positive_float(lr, "lr")
        self.step_size = positive_int(step_size, "step_size")
        self.gamma = bounded_float(gamma, "gamma", 0.0, 1.0, low_open=True, high_open=False)

    def __call__(self, step: Array) -> Array:
        xp = namespace(step)
        return self.lr * self.gamma ** xp.floor(step / self.step_size)

    def get_config(self) -> dict[str, Any]:
        return {
            "class": "StepDecay",
            "lr": self.lr,
            "step_size": self.step_size,
            "gamma": self.gamma,
        }


class CosineDecay(Schedule):
    """From `lr` down to ``alpha * lr`` along half a cosine over `decay_steps` updates, then flat.

    ``lr * ((1 - alpha) * (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2 + alpha)``,
    Keras' ``CosineDecay`` (Loshchilov and Hutter's SGDR without restarts).

    Parameters
    ----------
    lr : float
        The initial learning rate, finite and positive.
    decay_steps : int
        Updates until the rate reaches its floor.
    alpha : float
        The floor as a fraction of `lr`, in [0, 1].
    """

    def __init__(self, lr: float, decay_steps: int, alpha: float = 0.0) -> None:
        self.lr = positive_float(lr, "lr")
        self.decay_steps = positive_int(decay_steps, "decay_steps")
        self.alpha = bounded_float(alpha, "alpha", 0.0, 1.0, high_open=False)

    def __call__(self, step: Array) -> Array:
        xp = namespace(step)
        progress = xp.clip(step / self.decay_steps, 0.0, 1.0)
        cosine = 0.5 * (1.0 + xp.cos(math.pi * progress))
        return self.lr * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {
            "class": "CosineDecay",
            "lr": self.lr,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
        }


class FunctionSchedule(Schedule):
    """Any callable ``step -> lr`` as a schedule; its settings are its qualified name."""

    def __init__(self, function: Callable[[Array], Any]) -> None:
        self.function = function

    def __call__(self, step: Array) -> Array:
        return self.function(step)

    def get_config(self) -> dict[str, Any]:
        name = getattr(self.function, "__qualname__", type(self.function).__qualname__)
        module = getattr(self.function, "__module__", "")
        return {"class": "FunctionSchedule", "function": f"{module}.{name}"}


def as_schedule(lr: Any) -> Schedule:
    """`lr` itself if it is a Schedule, a callable wrapped as one, else a type error."""
    if isinstance(lr, Schedule):
        return lr
    if callable(lr):
        return FunctionSchedule(lr)
    finite_float(lr, "lr")  # the error for what is neither a number nor a schedule
    raise XpnetTypeError(f"`lr` must be a number, a Schedule or a callable. Received: {lr!r}.")
