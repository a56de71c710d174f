"""The book's ``common/trainer.py``: :class:`xpnet.training.Trainer` with the book's optimizers.

The optimizers named by ``Trainer(optimizer="Adam")`` are those of
:mod:`xpnet.book.common.optimizer`, which update arrays in place as the
book's do: the book's own networks (``SimpleConvNet`` of chapter 7) keep
references to their parameters in their layers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...training import Trainer as _Trainer
from . import optimizer as _book

__all__ = ["Trainer", "np"]


class Trainer(_Trainer):
    """The book's ``Trainer`` (see :class:`xpnet.training.Trainer`)."""

    optimizers: ClassVar[dict[str, Any]] = {
        cls.__name__.lower(): cls
        for cls in (
            _book.SGD,
            _book.Momentum,
            _book.Nesterov,
            _book.AdaGrad,
            _book.RMSprop,
            _book.Adam,
        )
    }
