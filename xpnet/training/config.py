"""TrainConfig: the settings of one training run, checked once."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .._validation import (
    bounded_float,
    finite_float,
    non_negative_int,
    one_of,
    positive_float,
    positive_int,
)
from ..backend import DEFAULT_PRECISION, check_precision
from ..errors import XpnetValueError
from .compile import check_compile

__all__ = ["GRADS", "TrainConfig"]

#: How gradients are computed.
GRADS = ("backprop", "numerical")


@dataclass(frozen=True)
class TrainConfig:
    """The settings of a training run; every field is checked on construction.

    Attributes
    ----------
    iters : int
        Number of iterations (mini-batch updates).
    batch_size : int
        Samples per mini-batch, drawn with replacement.
    lr : float or None
        Learning rate of an optimizer given by name (or of the default SGD);
        None: 0.1 for SGD (the chapter's), the book's default for the others.
    grad : {"backprop", "numerical"}
        How gradients are computed; "numerical" is the chapter's (slow) way.
    eval_every : int or None
        Iterations between evaluations; one epoch (N / batch_size) if None.
    seed : int or None
        Seed of the mini-batch draws: the same seed gives the same batches on
        every backend (None: a fresh one, saved in checkpoints).
    weight_decay : float
        L2 regularisation: ``weight_decay / 2 * sum(W**2)`` over the weight
        matrices (parameters of two or more dimensions) is added to the loss.
    validation : float or None
        The fraction of the training data held out for validation (the last
        samples, as Keras' ``validation_split``); its accuracy is recorded at
        every evaluation (``History.val_acc``).
    verbose : {0, 1, 2}
        Keras' meaning: 0 silent, 1 a progress bar, 2 one line per evaluation
        (the chapter's ``train acc, test acc | 0.9461, 0.9448``).
    compile : {"auto", True, False}
        Whether the backend's compiler (jax.jit, torch.compile) runs the
        training step; "auto" where it pays for itself (docs/compile.md).
    precision : {"highest", "high"}
        Float32 matrix products in full float32, or with TF32 allowed where
        the device has it (:func:`xpnet.backend.matmul_precision`).

    Examples
    --------
    >>> TrainConfig(iters=100, lr=0.5).eval_interval(60000)
    600
    >>> TrainConfig(batch_size=0)
    Traceback (most recent call last):
    ...
    xpnet.errors.XpnetValueError: `batch_size` must be positive. Received: 0.
    """

    iters: int = 10000
    batch_size: int = 100
    lr: float | None = None
    grad: str = "backprop"
    eval_every: int | None = None
    seed: int | None = None
    verbose: int = 1
    compile: str | bool = "auto"
    weight_decay: float = 0.0
    validation: float | None = None
    precision: str = DEFAULT_PRECISION

    def __post_init__(self) -> None:
        checked = {
            "iters": positive_int(self.iters, "iters"),
            "batch_size": positive_int(self.batch_size, "batch_size"),
            "lr": None if self.lr is None else positive_float(self.lr, "lr"),
            "grad": one_of(self.grad, "grad", GRADS),
            "eval_every": None
            if self.eval_every is None
            else positive_int(self.eval_every, "eval_every"),
            "seed": None if self.seed is None else non_negative_int(self.seed, "seed"),
            "verbose": one_of(self.verbose, "verbose", (0, 1, 2)),
            "compile": check_compile(self.compile),
            "weight_decay": _non_negative(self.weight_decay, "weight_decay"),
            "validation": None
            if self.validation is None
            else bounded_float(self.validation, "validation", 0.0, 1.0, low_open=True),
            "precision": check_precision(self.precision),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def eval_interval(self, train_size: int) -> int:
        """Iterations between evaluations for `train_size` samples: one epoch by default."""
        return self.eval_every or max(train_size // self.batch_size, 1)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-able dict."""
        return asdict(self)


def _non_negative(value: object, name: str) -> float:
    number = finite_float(value, name)
    if number < 0:
        raise XpnetValueError(f"`{name}` must be >= 0. Received: {value!r}.")
    return number
