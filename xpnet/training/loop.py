"""Mini-batch training, as in the chapter, with checkpoints that resume exactly.

Every iteration draws a mini-batch with replacement, computes the gradient
(backpropagation, or the chapter's numerical gradient) and takes an optimizer
step: one call of the pure step (:mod:`xpnet.training.step`). Every
`eval_every` iterations (one epoch by default, iteration 0 included) and after
the last one, the accuracy on the training and test sets is measured. Losses
stay on the device until a chunk of iterations ends, so a GPU is not
synchronised at every step.

Examples
--------
>>> import numpy as np
>>> from xpnet import TwoLayerNet, train
>>> rng = np.random.default_rng(0)
>>> x = rng.random((200, 4)).astype(np.float32)
>>> t = (x[:, 0] > 0.5).astype(np.int64)
>>> net = TwoLayerNet(4, 8, 2, weight_init_std=1.0, seed=0, backend="numpy")
>>> history = train(net, (x, t), iters=300, batch_size=20, lr=1.0, seed=0, verbose=0)
>>> len(history.train_loss), history.eval_iters[:3], history.train_acc[-1] > 0.9
(300, [0, 10, 20], True)
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from .._io import check_output_path, remove_stale_temporaries
from .._typing import Array, Trainable
from .._validation import check_xt, non_negative_int
from ..backend import namespace, to_numpy
from ..errors import (
    CheckpointError,
    TrainingDivergedError,
    XpnetError,
    XpnetTypeError,
    XpnetValueError,
)
from ..random import BatchSampler
from .checkpoint import Progress, read_checkpoint, write_checkpoint
from .config import TrainConfig
from .history import History
from .inputs import resolve_callbacks, resolve_optimizer, split_validation
from .signals import StopRequest, TrainingInterrupted, stop_requests
from .step import BUFFER_PREFIX, init_state, make_step, split_state

__all__ = ["train"]


def _checked_data(net: Trainable, data: Any, name: str) -> tuple[Array, Array]:
    """Validate an (x, t) pair against the network, once, before training."""
    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise XpnetTypeError(
            f"`{name}` must be a pair (x, t) of arrays. Received: {type(data).__name__}."
        )
    x, t = data
    xp = namespace(x, t, next(iter(net.params.values())))  # one library, one device
    check_xt(
        xp, x, t,
        input_size=net.input_size, output_size=net.output_size, dtype=net.dtype,
        names=(f"{name} images", f"{name} labels"), finite=True,
    )  # fmt: skip
    return x, t


class _Run:
    """One training run: its settings, data, mini-batch stream and progress."""

    def __init__(
        self,
        net: Trainable,
        optimizer: Any,
        config: TrainConfig,
        train_data: tuple[Array, Array],
        test_data: tuple[Array, Array] | None,
        validation_data: tuple[Array, Array] | None = None,
        callbacks: list[Any] | None = None,
    ) -> None:
        self.net, self.optimizer, self.config = net, optimizer, config
        self.x, self.t = train_data
        self.test_data = test_data
        self.validation_data = validation_data
        self.callbacks = callbacks or []
        self.every = config.eval_interval(self.x.shape[0])
        self.sampler = BatchSampler(self.x.shape[0], config.batch_size, config.seed)
        self.step = make_step(net, optimizer, config.grad, weight_decay=config.weight_decay)
        self.progress = Progress(0, History(), init_state(net, optimizer))

    def settings(self) -> dict[str, Any]:
        """What a resumed run must share with the checkpoint (the seed only when chosen)."""
        fixed = {
            "batch_size": self.config.batch_size,
            "eval_every": self.every,
            "grad": self.config.grad,
            "train_size": self.x.shape[0],
            "seed": self.sampler.seed,
        }
        if self.config.seed is None:
            del fixed["seed"]
        # Added only when used, so that checkpoints of earlier versions still resume.
        if self.config.weight_decay:
            fixed["weight_decay"] = self.config.weight_decay
        if self.validation_data is not None:
            fixed["validation"] = self.config.validation or "data"
            fixed["validation_size"] = self.validation_data[0].shape[0]
        return fixed

    # -- schedule: blocks of iterations end at evaluations ----------------------

    def block_bounds(self, i: int) -> tuple[int, int]:
        """First and last iteration of the block holding iteration `i`."""
        if i == 0:
            return 0, 0
        start = ((i - 1) // self.every) * self.every + 1
        return start, min(start + self.every - 1, self.config.iters - 1)

    def on_schedule(self, i: int) -> bool:
        """Whether this run evaluates after iteration `i`."""
        return i == 0 or i % self.every == 0 or i == self.config.iters - 1

    # -- resuming -----------------------------------------------------------------

    def restore(self, path: Path) -> None:
        """Continue from a checkpoint; everything is checked before anything changes."""
        saved = read_checkpoint(
            path, self.net, self.optimizer, self.settings(), self.config.iters, self.callbacks
        )
        if self.config.seed is None:  # the run drew its seed; continue with it
            try:
                seed = non_negative_int(saved.settings.get("seed"), "seed")
            except XpnetError:
                raise CheckpointError(f"{path}: damaged checkpoint metadata (seed).") from None
            self.sampler = BatchSampler(self.x.shape[0], self.config.batch_size, seed)
        self.net.set_state_arrays(saved.network_arrays)
        for callback, arrays in zip(self.callbacks, saved.callback_arrays, strict=True):
            if arrays:
                callback.set_state_arrays(arrays)
        self.progress = progress = saved.progress
        self.carry_buffers()
        # A finished run continued to more iterations: its last evaluation may lie
        # off this run's schedule; an uninterrupted run would not have made it.
        h = progress.history
        while h.eval_iters and not self.on_schedule(h.eval_iters[-1]):
            h.eval_iters.pop()
            h.train_acc.pop()
            if h.test_acc:
                h.test_acc.pop()
            if h.val_acc:
                h.val_acc.pop()

    # -- running ------------------------------------------------------------------

    def execute(self, path: Path | None) -> History:
        from tqdm.auto import tqdm

        iters, verbose = self.config.iters, self.config.verbose
        done = min(self.progress.iteration, iters)
        bar = tqdm(total=iters, initial=done, disable=verbose != 1, unit="it")
        clock = time.perf_counter()
        with bar, stop_requests(terminate=path is not None) as stop:
            while self.progress.iteration < iters and not self.progress.stopped:
                finished = self.run_block(bar, stop)
                self.take_buffers()
                if finished:
                    self.evaluate()
                    self.report(bar)
                    self.progress.stopped = self.ask_callbacks()
                now = time.perf_counter()
                self.progress.history.seconds += now - clock
                clock = now
                if path is not None:
                    write_checkpoint(
                        path, self.net, self.optimizer, self.settings(), self.progress,
                        self.callbacks,
                    )  # fmt: skip
                if not finished:
                    raise TrainingInterrupted(stop.signum or 2, self.progress.iteration)
        return self.progress.history

    # -- buffers and callbacks ----------------------------------------------------------

    def take_buffers(self) -> None:
        """Give the network the buffers the steps carried (for evaluating and saving)."""
        _, buffers = split_state(self.progress.opt_state)
        if buffers:
            self.net.buffers = buffers  # type: ignore[attr-defined]

    def carry_buffers(self) -> None:
        """Put the network's buffers into the steps' carried state (after it changed)."""
        opt_state, _ = split_state(self.progress.opt_state)
        buffers = getattr(self.net, "buffers", None) or {}
        self.progress.opt_state = {
            **opt_state,
            **{BUFFER_PREFIX + k: v for k, v in buffers.items()},
        }

    def ask_callbacks(self) -> bool:
        """Call every callback after an evaluation; True when one asks to stop.

        Stopping ends each callback's run (EarlyStopping restores the best
        network there) before the checkpoint is written. The extra evaluation
        after the last iteration, when that falls between two regular ones,
        is not shown to callbacks: a finished run continued to more
        iterations then behaves exactly like one that never stopped.
        """
        h = self.progress.history
        i = h.eval_iters[-1]
        regular = i == 0 or i % self.every == 0
        stop = regular and any([bool(c.on_evaluation(h)) for c in self.callbacks])
        if stop or self.progress.iteration >= self.config.iters:
            for callback in self.callbacks:
                if callable(getattr(callback, "on_train_end", None)):
                    callback.on_train_end(stop)
            self.carry_buffers()
        return stop

    def run_block(self, bar: Any, stop: StopRequest) -> bool:
        """Train up to the next evaluation; False if a stop was requested first."""
        _, end = self.block_bounds(self.progress.iteration)
        while self.progress.iteration <= end:
            first = self.progress.iteration
            last = min(end, (first // BatchSampler.CHUNK + 1) * BatchSampler.CHUNK - 1)
            if not self.run_chunk(first, last, bar, stop):
                return False
        return True

    def run_chunk(self, first: int, last: int, bar: Any, stop: StopRequest) -> bool:
        """Iterations `first` to `last` from one draw of indices; losses read back at the end."""
        xp = self.net.backend.xp
        batches = self.sampler.indices(first, last + 1, backend=self.net.backend)
        params, opt_state = self.net.params, self.progress.opt_state
        losses = []
        completed = True
        for row in range(last - first + 1):
            if stop:
                completed = False
                break
            index = batches[row, ...]
            x_batch, t_batch = xp.take(self.x, index, axis=0), xp.take(self.t, index, axis=0)
            params, opt_state, loss = self.step(params, opt_state, x_batch, t_batch)
            self.net.params, self.progress.opt_state = params, opt_state  # never half-updated
            self.progress.iteration += 1
            losses.append(loss)
            bar.update(1)
        self.record_losses(losses)
        return completed

    def record_losses(self, losses: list[Array]) -> None:
        """Read losses back to the host; stop on the first non-finite one."""
        if not losses:
            return
        values = to_numpy(self.net.backend.xp.stack(losses)).tolist()
        first = self.progress.iteration - len(values)
        bad = [i for i, value in enumerate(values) if not math.isfinite(value)]
        if bad:
            lr = getattr(self.optimizer, "lr", None)
            hint = (
                f"the learning rate lr={lr:g} is probably too large. "
                f"Try a smaller one, such as {lr / 10:g}."
                if isinstance(lr, float)
                else "the optimizer's steps are probably too large."
            )
            raise TrainingDivergedError(
                f"The training loss became {values[bad[0]]} at iteration {first + bad[0]}: {hint}"
            )
        self.progress.history.train_loss.extend(values)

    def evaluate(self) -> None:
        h = self.progress.history
        h.eval_iters.append(self.progress.iteration - 1)
        h.train_acc.append(float(self.net.accuracy(self.x, self.t)))
        if self.test_data is not None:
            h.test_acc.append(float(self.net.accuracy(*self.test_data)))
        if self.validation_data is not None:
            h.val_acc.append(float(self.net.accuracy(*self.validation_data)))

    def metrics(self) -> tuple[str, ...]:
        """The accuracies this run records at every evaluation."""
        return (
            ("train_acc",)
            + (("val_acc",) if self.validation_data is not None else ())
            + (("test_acc",) if self.test_data is not None else ())
        )

    def report(self, bar: Any) -> None:
        h = self.progress.history
        accs = {name: getattr(h, name)[-1] for name in self.metrics()}
        if self.config.verbose == 1:
            shown = {name: f"{value:.4f}" for name, value in accs.items()}
            bar.set_postfix(loss=f"{h.train_loss[-1]:.4f}", **shown)
        elif self.config.verbose == 2:
            names = ", ".join(name.replace("_", " ") for name in accs)
            print(f"{names} | " + ", ".join(f"{a:.4f}" for a in accs.values()), flush=True)


def train(
    net: Trainable,
    train_data: tuple[Array, Array],
    test_data: tuple[Array, Array] | None = None,
    *,
    iters: int = 10000,
    batch_size: int = 100,
    lr: Any = None,
    optimizer: Any = None,
    grad: str = "backprop",
    eval_every: int | None = None,
    seed: int | None = None,
    verbose: int = 1,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    weight_decay: float = 0.0,
    validation: Any = None,
    early_stopping: Any = None,
    callbacks: Any = None,
) -> History:
    """Train `net` by mini-batch gradient descent, as in the chapter.

    Parameters
    ----------
    net : TwoLayerNet, MultiLayerNet(Extend) or any :class:`~xpnet._typing.Trainable`
        The network; its parameters (and buffers) are updated.
    train_data, test_data : (x, t) pairs of arrays on the network's backend
        Images of shape (N, input_size) in the network's dtype; labels (N,)
        or one-hot (N, output_size).
    iters, batch_size, grad, eval_every, seed, verbose, weight_decay
        The run's settings; see :class:`~xpnet.training.TrainConfig`.
    optimizer : str or object, optional
        A name ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"),
        an :class:`xpnet.optim.Optimizer`, or any object with the book's
        ``update(params, grads)``. Default: the chapter's SGD.
    lr : float, Schedule or callable, optional
        The learning rate of an optimizer given by name (or of the default
        SGD): None means 0.1 for SGD (the chapter's) and the book's default
        for the others. An optimizer object keeps its own.
    validation : float or (x, t), optional
        A fraction of `train_data` to hold out (its last samples), or
        validation data; its accuracy is recorded at every evaluation
        (``History.val_acc``).
    early_stopping : EarlyStopping, optional
        Stop when the monitored accuracy stops improving, restoring the best
        network (:class:`xpnet.training.EarlyStopping`).
    callbacks : callback or list of callbacks, optional
        Objects with ``on_evaluation(history) -> stop?``
        (:mod:`xpnet.training.callbacks`); their state is checkpointed.
    checkpoint : path, optional
        Save the whole training state there, atomically, at every evaluation
        and when stopped by Ctrl-C, SIGTERM or SIGHUP.
    resume : bool
        Continue from `checkpoint` if it exists; the result equals that of a
        run that was never interrupted. A finished run continues to a larger
        `iters` as if it had been started with it.

    Returns
    -------
    History

    Raises
    ------
    TrainingDivergedError
        When the loss stops being finite; names the iteration.
    TrainingInterrupted
        (a KeyboardInterrupt) On Ctrl-C, or SIGTERM/SIGHUP while
        checkpointing, after saving the checkpoint.
    """
    fraction = None if isinstance(validation, tuple | list) else validation
    config = TrainConfig(
        iters=iters, batch_size=batch_size, lr=None if callable(lr) else lr, grad=grad,
        eval_every=eval_every, seed=seed, verbose=verbose, weight_decay=weight_decay,
        validation=fraction,
    )  # fmt: skip
    optimizer = resolve_optimizer(optimizer, config, lr)
    run_callbacks = resolve_callbacks(callbacks, early_stopping)
    train_data = _checked_data(net, train_data, "train_data")
    test_data = None if test_data is None else _checked_data(net, test_data, "test_data")
    train_data, validation_data = split_validation(
        validation, config.validation, train_data, lambda data, name: _checked_data(net, data, name)
    )
    n = train_data[0].shape[0]
    if config.batch_size > n:
        raise XpnetValueError(
            f"`batch_size` must be at most the {n} training samples. Received: {batch_size}."
        )
    path = None if checkpoint is None else check_output_path(checkpoint, "checkpoint")
    if resume and path is None:
        raise XpnetValueError("`resume=True` needs a `checkpoint` path to resume from.")
    run = _Run(net, optimizer, config, train_data, test_data, validation_data, run_callbacks)
    for callback in run_callbacks:
        if callable(getattr(callback, "check_metrics", None)):
            callback.check_metrics(run.metrics())
    for callback in run_callbacks:
        if callable(getattr(callback, "on_train_begin", None)):
            callback.on_train_begin(net)
    if path is not None:
        remove_stale_temporaries(path)  # left by a run that was killed mid-save
        if resume and path.exists():
            run.restore(path)
    return run.execute(path)
