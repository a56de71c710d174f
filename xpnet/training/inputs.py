"""What :func:`xpnet.train` is given, made ready: the optimizer, validation data, callbacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._typing import Array
from ..errors import XpnetValueError
from ..optim import SGD, AdamW, Optimizer
from ..optim import get as get_optimizer
from .callbacks import check_callbacks
from .config import TrainConfig
from .step import as_optimizer

__all__ = ["CHAPTER_SGD_LR", "resolve_callbacks", "resolve_optimizer", "split_validation"]

#: The chapter's learning rate, used when SGD is asked for without one.
CHAPTER_SGD_LR = 0.1


def resolve_optimizer(config: TrainConfig) -> Any:
    """An optimizer with the pure interface, from ``config.optimizer`` and ``config.lr``.

    ``"sgd"`` without a rate gives the chapter's ``SGD(0.1)``; another name
    gives that optimizer with ``config.lr`` or the book's default rate, and
    ``"adamw"`` takes ``config.weight_decay`` as its decay when it is not 0.
    An object is used as it is (TrainConfig refuses a rate with it); one
    with only the book's ``update(params, grads)`` is wrapped.
    """
    optimizer, rate = config.optimizer, config.lr
    if optimizer == "sgd":
        return SGD(CHAPTER_SGD_LR if rate is None else rate)
    if optimizer == "adamw" and config.weight_decay:
        decay = config.weight_decay
        return AdamW(weight_decay=decay) if rate is None else AdamW(rate, weight_decay=decay)
    if isinstance(optimizer, str):
        return get_optimizer(optimizer, rate)
    if isinstance(optimizer, Optimizer):
        return optimizer
    return as_optimizer(optimizer)


def split_validation(
    validation: Any,
    train_data: tuple[Array, Array],
    check: Callable[[Any, str], tuple[Array, Array]],
) -> tuple[tuple[Array, Array], tuple[Array, Array] | None]:
    """(training data, validation data) from ``train(validation=...)``.

    A fraction (checked by :class:`TrainConfig`) holds out the last
    ``round(fraction * N)`` samples (at least one, leaving at least one), as
    Keras' ``validation_split``; an (x, t) pair is checked with `check` and
    used as it is.
    """
    if isinstance(validation, tuple | list):
        return train_data, check(validation, "validation")
    if validation is None:
        return train_data, None
    fraction = validation
    x, t = train_data
    n = x.shape[0]
    if n < 2:
        raise XpnetValueError(
            f"`validation`={fraction:g} needs at least 2 training samples. Received: {n}."
        )
    kept = n - min(max(round(fraction * n), 1), n - 1)
    return (x[:kept, ...], t[:kept, ...]), (x[kept:, ...], t[kept:, ...])


def resolve_callbacks(callbacks: Any, early_stopping: Any) -> list[Any]:
    """The run's callbacks: `callbacks` (one or a list), then `early_stopping` if given."""
    items = check_callbacks(callbacks)
    if early_stopping is not None:
        items += check_callbacks([early_stopping])
    return items
