"""TrainConfig: every setting of a training run, its default and its check, once.

``train(net, data, test_data, config=TrainConfig(...), **overrides)`` takes
its settings from here; the command line's defaults, the sweep's settings and
the API reference all read these fields.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
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
from ..errors import XpnetTypeError, XpnetValueError

__all__ = ["COMPILE_CHOICES", "GRADS", "RUN_SHAPING", "SAMPLING", "TrainConfig", "check_compile"]

#: How gradients are computed.
GRADS = ("backprop", "numerical")
#: What ``compile`` accepts.
COMPILE_CHOICES = ("auto", True, False)
#: How mini-batches are drawn (:mod:`xpnet.training.sampling`).
SAMPLING = ("with-replacement", "epoch")
#: The settings that shape a run's numbers: a resumed run must share them.
RUN_SHAPING = (
    "batch_size", "sampling", "drop_last", "eval_every", "grad", "seed", "weight_decay",
    "optimizer", "lr",
)  # fmt: skip


def check_compile(choice: Any) -> str | bool:
    """`choice` if it is one of :data:`COMPILE_CHOICES` (1 is not True), else an error."""
    if isinstance(choice, bool) or (isinstance(choice, str) and choice == "auto"):
        return choice
    raise XpnetValueError(f"`compile` must be 'auto', True or False. Received: {choice!r}.")


@dataclass(frozen=True)
class TrainConfig:
    """The settings of a training run, each checked on construction.

    Give it to :func:`xpnet.train` as ``config=``, or give the fields as
    keywords of ``train`` directly; keywords override the config's fields.

    Examples
    --------
    >>> TrainConfig(iters=100, lr=0.5).eval_interval(60000)
    600
    >>> TrainConfig(batch_size=0)
    Traceback (most recent call last):
    ...
    xpnet.errors.XpnetValueError: `batch_size` must be positive. Received: 0.
    >>> sorted(TrainConfig(iters=100).replace(seed=1).given)
    ['iters', 'seed']
    """

    iters: int = 10000
    """Number of iterations (mini-batch updates)."""
    batch_size: int = 100
    """Samples per mini-batch."""
    sampling: str = "with-replacement"
    """How mini-batches are drawn: "with-replacement" (the chapter's code: each
    batch at random, so an epoch need not see every sample) or "epoch" (the
    practice the chapter describes: the data shuffled once per epoch, then
    taken in order, every sample once). Both depend only on the seed and
    the iteration, the same on every backend."""
    drop_last: bool = False
    """With ``sampling="epoch"``, drop each epoch's last batch when it is
    short (``batch_size`` does not divide the training samples); by default
    it is trained on."""
    lr: float | Callable[..., Any] | None = None
    """Learning rate of an optimizer given by name: a number, a schedule
    (:class:`xpnet.optim.StepDecay`…) or a callable ``step -> lr``. None: 0.1
    for SGD (the chapter's), the book's default for the others. An optimizer
    object keeps its own."""
    optimizer: Any = "sgd"
    """A name of :data:`xpnet.optim.OPTIMIZERS` ("sgd", "momentum", "adam"…),
    an :class:`xpnet.optim.Optimizer`, or any object with the book's
    ``update(params, grads)``."""
    grad: str = "backprop"
    """How gradients are computed: "backprop", or "numerical" (the chapter's, slow)."""
    eval_every: int | None = None
    """Iterations between evaluations; one epoch (N / batch_size) if None."""
    seed: int | None = None
    """Seed of the mini-batch draws: the same seed gives the same batches on
    every backend (None: a fresh one, saved in checkpoints)."""
    verbose: int = 1
    """Keras' meaning: 0 silent, 1 a progress bar, 2 one line per evaluation."""
    compile: str | bool = "auto"
    """Run the step through the backend's compiler (jax.jit, torch.compile)?
    "auto" compiles where that is fastest for the chapter's job, compile time
    included (JAX); True raises an error where it is not possible."""
    weight_decay: float = 0.0
    """L2 regularisation: ``weight_decay / 2 * sum(W**2)`` over the weights is
    added to the loss (and to the network's own ``weight_decay_lambda``).
    With ``optimizer="adamw"`` it is AdamW's decoupled decay instead (no
    loss term; 0 keeps AdamW's default, 0.01)."""
    validation: Any = None
    """A fraction of the training data to hold out (its last samples, as
    Keras' ``validation_split``), or validation data (x, t); its accuracy is
    recorded at every evaluation (``History.val_acc``)."""
    eval_samples: int | None = None
    """Measure accuracy on the first `eval_samples` samples of each set (None: all of
    them), as the book's Trainer does with ``evaluate_sample_num_per_epoch``:
    convolutional networks take seconds to evaluate 60,000 images on a CPU."""
    early_stopping: Any = None
    """An :class:`xpnet.training.EarlyStopping`: stop when the monitored
    accuracy stops improving, restoring the best network."""
    callbacks: Any = None
    """A callback or a list of them: objects with ``on_evaluation(history) -> stop?``."""
    checkpoint: str | os.PathLike[str] | None = None
    """Save the whole training state there, atomically, at every evaluation
    and when stopped by Ctrl-C, SIGTERM or SIGHUP (the run holds a lock on it)."""
    resume: bool = False
    """Continue from `checkpoint` if it exists; settings not given are taken
    from it, settings given differently are refused."""
    overwrite: bool = False
    """Start afresh even though `checkpoint` exists, replacing it."""
    fail_on_divergence: bool = False
    """Raise :class:`~xpnet.errors.TrainingDivergedError` when the run
    diverges, instead of one :class:`~xpnet.errors.DivergenceWarning`."""
    precision: str = DEFAULT_PRECISION
    """Float32 matrix products in full float32 ("highest"), or with TF32 allowed
    where the device has it ("high"; :func:`xpnet.backend.matmul_precision`)."""
    given: frozenset[str] | None = field(default=None, compare=False, repr=False)
    """The fields set on purpose (by default: those that differ from their defaults)."""

    def __post_init__(self) -> None:
        checked = {
            "iters": positive_int(self.iters, "iters"),
            "batch_size": positive_int(self.batch_size, "batch_size"),
            "lr": _check_lr(self.lr),
            "optimizer": _check_optimizer(self.optimizer),
            "sampling": one_of(self.sampling, "sampling", SAMPLING),
            "grad": one_of(self.grad, "grad", GRADS),
            "eval_every": None
            if self.eval_every is None
            else positive_int(self.eval_every, "eval_every"),
            "seed": None if self.seed is None else non_negative_int(self.seed, "seed"),
            "eval_samples": None
            if self.eval_samples is None
            else positive_int(self.eval_samples, "eval_samples"),
            "verbose": one_of(self.verbose, "verbose", (0, 1, 2)),
            "compile": check_compile(self.compile),
            "weight_decay": _non_negative(self.weight_decay, "weight_decay"),
            "validation": _check_validation(self.validation),
            "precision": check_precision(self.precision),
        }
        for name in ("drop_last", "resume", "overwrite", "fail_on_divergence"):
            if not isinstance(getattr(self, name), bool):
                raise XpnetTypeError(
                    f"`{name}` must be True or False. Received: {getattr(self, name)!r}."
                )
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        if self.lr is not None and not isinstance(self.optimizer, str):
            raise XpnetTypeError(
                "`lr` applies to an optimizer given by name; an optimizer object keeps its own "
                f"rate (set it there). Received: lr={self.lr!r} with {self.optimizer!r}."
            )
        if self.given is None:
            defaults = TrainConfig.defaults()
            given = {k for k in defaults if getattr(self, k) is not defaults[k]}
            object.__setattr__(self, "given", frozenset(k for k in given if _differs(self, k)))

    @staticmethod
    def defaults() -> dict[str, Any]:
        """Every setting's default, by name (what the command line and sweeps start from)."""
        return {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name != "given"}

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with `changes`, which count as given (see :attr:`given`)."""
        unknown = sorted(set(changes) - set(self.defaults()))
        if unknown:
            raise XpnetTypeError(
                f"Unknown training setting `{unknown[0]}`. Settings are: "
                f"{', '.join(self.defaults())}."
            )
        given = (self.given or frozenset()) | set(changes)
        return dataclasses.replace(self, **changes, given=frozenset(given))

    @property
    def loss_weight_decay(self) -> float:
        """The coefficient of the L2 term in the loss: `weight_decay`, but 0 for "adamw",
        which decays the weights itself."""
        return 0.0 if self.optimizer == "adamw" else self.weight_decay

    def eval_interval(self, train_size: int) -> int:
        """Iterations between evaluations for `train_size` samples: one epoch by default.

        An epoch is ``N // batch_size`` iterations drawn with replacement, or
        the batches of one pass (``sampling="epoch"``: a short last one
        included unless `drop_last`).
        """
        full, rest = divmod(train_size, self.batch_size)
        if self.sampling == "epoch" and rest and not self.drop_last:
            full += 1
        return self.eval_every or max(full, 1)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-able dict (objects by their ``get_config()`` or type)."""
        return {name: _jsonable(getattr(self, name)) for name in self.defaults()}


def _differs(config: TrainConfig, name: str) -> bool:
    default = TrainConfig.defaults()[name]
    try:
        return bool(getattr(config, name) != default)
    except Exception:  # an array-like compared with None, say
        return True


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if callable(getattr(value, "get_config", None)):
        return value.get_config()
    if isinstance(value, tuple | list) and len(value) == 2 and hasattr(value[0], "shape"):
        return "data"
    return type(value).__name__


def _non_negative(value: object, name: str) -> float:
    number = finite_float(value, name)
    if number < 0:
        raise XpnetValueError(f"`{name}` must be >= 0. Received: {value!r}.")
    return number


def _check_lr(lr: Any) -> Any:
    """A positive number, a schedule or callable, or None."""
    if lr is None or callable(lr):
        return lr
    return positive_float(lr, "lr")


def _check_optimizer(optimizer: Any) -> Any:
    """A name (lower-cased, checked later against the registry) or an object."""
    if optimizer is None:
        return "sgd"
    return optimizer.lower() if isinstance(optimizer, str) else optimizer


def _check_validation(validation: Any) -> Any:
    """A fraction in (0, 1), an (x, t) pair (checked against the network later), or None."""
    if validation is None or isinstance(validation, tuple | list):
        return validation
    return bounded_float(validation, "validation", 0.0, 1.0, low_open=True)
