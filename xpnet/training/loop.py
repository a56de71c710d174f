"""Mini-batch training, as in the chapter, with checkpoints that resume exactly.

Every iteration draws a mini-batch with replacement, computes the gradient
(backpropagation, or the chapter's numerical gradient) and takes an optimizer
step: one call of the pure step (:mod:`xpnet.training.step`), or, where the
backend's compiler runs it (:mod:`xpnet.training.compile`), the same step
compiled. Every `eval_every` iterations (one epoch by default, iteration 0
included) and after the last one, the accuracy on the training and test sets
is measured. Losses stay on the device until a chunk of iterations ends, so a
GPU is not synchronised at every step.

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

from .._io import check_output_path, output_exists, remove_stale_temporaries
from .._typing import Array, Trainable
from .._validation import check_xt, non_negative_int
from ..backend import cast_floating, matmul_precision, namespace, to_numpy
from ..errors import (
    CheckpointError,
    TrainingDivergedError,
    XpnetError,
    XpnetTypeError,
    XpnetValueError,
)
from ..random import BatchSampler
from .checkpoint import Progress, read_checkpoint, write_checkpoint
from .compile import Engine, choose_compiler
from .config import TrainConfig
from .divergence import DivergenceMonitor, lr_hint
from .history import History
from .inputs import resolve_callbacks, resolve_optimizer, split_validation
from .lock import checkpoint_lock, refuse_existing
from .signals import StopRequest, TrainingInterrupted, stop_requests
from .step import BUFFER_PREFIX, init_state, split_state

__all__ = ["train"]


def _checked_data(net: Trainable, data: Any, name: str) -> tuple[Array, Array]:
    """Validate an (x, t) pair against the network, once, before training."""
    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise XpnetTypeError(
            f"`{name}` must be a pair (x, t) of arrays. Received: {type(data).__name__}."
        )
    x, t = data
    xp = namespace(x, t, next(iter(net.params.values())))  # one library, one device
    x = cast_floating(x, xp, net.dtype)  # as the networks cast inputs (here once, not per batch)
    check_xt(
        xp, x, t,
        input_size=net.input_size, output_size=net.output_size, dtype=net.dtype,
        names=(f"{name} images", f"{name} labels"), finite=True,
    )  # fmt: skip
    return x, t


class _Run:
    """One training run: its settings, data, mini-batch stream and progress."""

    monitor: DivergenceMonitor | None = None  # set by train()

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
        compiler = choose_compiler(
            config.compile, net.backend, grad=config.grad, optimizer=optimizer
        )
        self.engine = Engine(net, optimizer, config.grad, compiler, config.weight_decay)
        self.compiling = False  # until the first report of a compiled session
        self.progress = Progress(0, History(), init_state(net, optimizer))

    def settings(self) -> dict[str, Any]:
        """What a resumed run must share with the checkpoint, the mini-batch seed included."""
        fixed = {
            "batch_size": self.config.batch_size,
            "eval_every": self.every,
            "grad": self.config.grad,
            "train_size": self.x.shape[0],
            "seed": self.sampler.seed,
        }
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
        fixed = self.settings()
        if self.config.seed is None:  # no seed chosen: continue with the one the run drew
            del fixed["seed"]
        saved = read_checkpoint(
            path, self.net, self.optimizer, fixed, self.config.iters,
            has_test=self.test_data is not None, callbacks=self.callbacks,
        )  # fmt: skip
        if self.config.seed is None:
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
            if self.engine.name is not None and done < iters:
                self.announce_compiling(bar)
            while self.progress.iteration < iters and not self.progress.stopped:
                finished = self.run_block(bar, stop)
                self.take_buffers()
                if finished:
                    self.evaluate()
                    self.report(bar)
                    self.progress.stopped = self.ask_callbacks()
                now = time.perf_counter()
                self.progress.history.seconds += now - clock
                self.progress.history.compile_seconds = self.engine.compile_seconds
                clock = now
                if path is not None:
                    write_checkpoint(
                        path, self.net, self.optimizer, self.settings(), self.progress,
                        self.callbacks,
                    )  # fmt: skip
                if not finished:
                    raise TrainingInterrupted(stop.signum or 2, self.progress.iteration)
        return self.progress.history

    def announce_compiling(self, bar: Any) -> None:
        """Say that the steps before the first evaluation include compiling.

        The progress bar says so while it happens; with ``verbose=2`` the first
        evaluation line says how long it took (the chapter's lines stay one per
        evaluation).
        """
        self.compiling = True
        bar.set_postfix_str(f"compiling with {self.engine.name}...")

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
        """Iterations `first` to `last` of one chunk of indices; losses read back at the end.

        The whole chunk of indices is drawn (its shape never changes, so a
        compiled loop compiles once); rows ``first % CHUNK ..`` are used.
        """
        start = first % BatchSampler.CHUNK
        batches = self.sampler.indices(
            first - start, first - start + BatchSampler.CHUNK, backend=self.net.backend
        )
        stop_row = start + last - first + 1
        if self.engine.loop is not None:
            return self.run_compiled_chunk(batches, start, stop_row, bar, stop)
        params, opt_state = self.net.params, self.progress.opt_state
        losses = []
        completed = True
        for row in range(start, stop_row):
            if stop:
                completed = False
                break
            params, opt_state, loss = self.engine.step(
                params, opt_state, self.x, self.t, batches[row, ...]
            )
            self.net.params, self.progress.opt_state = params, opt_state  # never half-updated
            self.progress.iteration += 1
            losses.append(loss)
            bar.update(1)
        self.net.params = self.engine.own(self.net.params)
        self.progress.opt_state = self.engine.own(self.progress.opt_state)
        if losses:
            self.record_losses(self.net.backend.xp.stack(losses))
        return completed

    def run_compiled_chunk(
        self, batches: Array, start: int, stop_row: int, bar: Any, stop: StopRequest
    ) -> bool:
        """Rows `start` to `stop_row - 1` of `batches` in one call of the compiled loop."""
        if stop:
            return False
        params, opt_state, losses = self.engine.loop(
            self.net.params, self.progress.opt_state, self.x, self.t, batches, start, stop_row
        )
        own = self.engine.own
        self.net.params, self.progress.opt_state = own(params), own(opt_state)
        self.progress.iteration += stop_row - start
        bar.update(stop_row - start)
        # Sliced on the host: a device slice of each new length would compile (JAX).
        self.record_losses(to_numpy(losses)[start:stop_row])
        return True

    def record_losses(self, losses: Array) -> None:
        """Read losses (a 1-D array) back to the host; stop on the first non-finite one."""
        values = to_numpy(losses).tolist()
        first = self.progress.iteration - len(values)
        bad = [i for i, value in enumerate(values) if not math.isfinite(value)]
        if bad:
            hint = lr_hint(getattr(self.optimizer, "lr", None))
            raise TrainingDivergedError(
                f"The training loss became {values[bad[0]]} at iteration {first + bad[0]}: {hint}"
            )
        self.progress.history.train_loss.extend(float(v) for v in values)

    def evaluate(self) -> None:
        """Measure accuracy (Python floats); then warn, or raise, if the run diverges."""
        h = self.progress.history
        h.eval_iters.append(self.progress.iteration - 1)
        h.train_acc.append(self.engine.accuracy(self.net.params, self.x, self.t))
        if self.test_data is not None:
            h.test_acc.append(self.engine.accuracy(self.net.params, *self.test_data))
        if self.validation_data is not None:
            h.val_acc.append(self.engine.accuracy(self.net.params, *self.validation_data))
        if self.monitor is not None:
            self.monitor.check(
                h.train_loss, h.train_acc, every=self.every, samples=self.x.shape[0],
                classes=self.net.output_size, batch_size=self.config.batch_size,
            )  # fmt: skip

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
            line = f"{names} | " + ", ".join(f"{a:.4f}" for a in accs.values())
            if self.compiling:  # the first line of a compiled session says what that cost
                seconds = self.engine.compile_seconds
                line += f" (compiled with {self.engine.name} in {seconds:.1f} s)"
            print(line, flush=True)
        self.compiling = False


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
    overwrite: bool = False,
    fail_on_divergence: bool = False,
    compile: str | bool = "auto",
    weight_decay: float = 0.0,
    validation: Any = None,
    early_stopping: Any = None,
    callbacks: Any = None,
    precision: str = "highest",
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
        and when stopped by Ctrl-C, SIGTERM or SIGHUP. The run holds a lock
        on it (``.NAME.lock`` beside it) from start to end: a second run on
        the same checkpoint fails at once (:mod:`xpnet.training.lock`).
    resume : bool
        Continue from `checkpoint` if it exists; the result equals that of a
        run that was never interrupted. A finished run continues to a larger
        `iters` as if it had been started with it.
    overwrite : bool
        Start afresh even though `checkpoint` exists, replacing it at the
        first save. Without `resume` or `overwrite`, an existing checkpoint
        is refused before anything else happens.
    fail_on_divergence : bool
        Raise :class:`~xpnet.errors.TrainingDivergedError` when the run
        diverges (the loss far above its start for a whole evaluation
        interval, or accuracy at chance with a loss that does not fall);
        by default that is one :class:`~xpnet.errors.DivergenceWarning`. See
        :mod:`xpnet.training.divergence`.
    compile : {"auto", True, False}
        Run the step through the backend's compiler (jax.jit, torch.compile)?
        "auto" compiles where that is fastest for the chapter's job, compile
        time included: on JAX. True raises an error where it is not possible
        (NumPy, array-api-strict, the numerical gradient). Compiled and eager
        runs agree to float rounding, and a checkpoint of one resumes in the
        other. See the documentation's "Compiled training" page.
    precision : {"highest", "high"}
        Float32 matrix products in full float32 (the default, on every
        device), or with TF32 allowed on GPUs that have it ("high": faster,
        about 1e-3 relative error). See :func:`xpnet.backend.matmul_precision`.

    Returns
    -------
    History

    Raises
    ------
    CheckpointError
        When `checkpoint` exists (without `resume` or `overwrite`), is in use
        by another run, or cannot be resumed (damaged, or other settings).
    TrainingDivergedError
        When the loss stops being finite (names the iteration), or the run
        diverges with ``fail_on_divergence=True``.
    TrainingInterrupted
        (a KeyboardInterrupt) On Ctrl-C, or SIGTERM/SIGHUP while
        checkpointing, after saving the checkpoint.
    """
    fraction = None if isinstance(validation, tuple | list) else validation
    config = TrainConfig(
        iters=iters, batch_size=batch_size, lr=None if callable(lr) else lr, grad=grad,
        eval_every=eval_every, seed=seed, verbose=verbose, compile=compile,
        weight_decay=weight_decay, validation=fraction, precision=precision,
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
    if resume and overwrite:
        raise XpnetValueError("`resume=True` and `overwrite=True` exclude each other.")
    run = _Run(net, optimizer, config, train_data, test_data, validation_data, run_callbacks)
    run.monitor = DivergenceMonitor(getattr(optimizer, "lr", None), bool(fail_on_divergence))
    for callback in run_callbacks:
        if callable(getattr(callback, "check_metrics", None)):
            callback.check_metrics(run.metrics())
    if path is None:
        _check_finite_params(net)
        _begin(run_callbacks, net)
        with matmul_precision(net.backend, config.precision):
            return run.execute(None)
    with checkpoint_lock(path):  # before anything in the folder is read or removed
        refuse_existing(path, resume=resume, overwrite=overwrite)
        _begin(run_callbacks, net)  # before a checkpoint gives them their saved state
        remove_stale_temporaries(path)  # left by a run that was killed mid-save
        if resume and output_exists(path):
            run.restore(path)  # the checkpoint's weights replace the network's
        else:
            _check_finite_params(net)
        with matmul_precision(net.backend, config.precision):
            return run.execute(path)


def _begin(callbacks: list[Any], net: Trainable) -> None:
    """Tell every callback that training begins (EarlyStopping remembers the network)."""
    for callback in callbacks:
        if callable(getattr(callback, "on_train_begin", None)):
            callback.on_train_begin(net)


def _check_finite_params(net: Trainable) -> None:
    """Refuse a network whose parameters hold NaN or infinity (say, after a diverged run)."""
    for name, value in net.params.items():
        xp = namespace(value)
        if xp.isdtype(value.dtype, "real floating") and not bool(xp.all(xp.isfinite(value))):
            raise XpnetValueError(
                f"`net` parameter `{name}` holds NaN or infinity (did an earlier run diverge?); "
                "train a new network, or load a saved one."
            )
