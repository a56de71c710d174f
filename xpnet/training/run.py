"""One training run: its schedule, its steps, its evaluations, its progress.

The network owns its arrays throughout: after every step (or compiled
chunk) ``net.params`` and ``net.buffers`` are the state the steps carry, so
evaluations, callbacks and checkpoints read them from the network, and a
callback that changes the network (EarlyStopping restoring the best one) is
seen by the next step.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from .._typing import Array, Trainable
from .._validation import non_negative_int
from ..backend import to_numpy
from ..errors import CheckpointError, TrainingDivergedError, XpnetError
from .checkpoint import Progress, read_checkpoint, write_checkpoint
from .compile import Engine, choose_compiler
from .config import TrainConfig
from .divergence import DivergenceMonitor, lr_hint
from .history import History
from .sampling import make_sampler
from .signals import StopRequest, TrainingInterrupted, stop_requests

__all__ = ["Run"]


class Run:
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
        self.sampler = self.make_sampler(config.seed)
        compiler = choose_compiler(
            config.compile, net.backend, grad=config.grad, optimizer=optimizer
        )
        self.engine = Engine(net, optimizer, config.grad, compiler, config.loss_weight_decay)
        self.compiling = False  # until the first report of a compiled session
        self.progress = Progress(0, History(), optimizer.init(net.params))
        decay = config.weight_decay + getattr(net, "weight_decay_lambda", 0.0)
        lr = getattr(optimizer, "lr", None)
        self.monitor = DivergenceMonitor(lr, config.fail_on_divergence, decay)

    def make_sampler(self, seed: int | None) -> Any:
        """The run's mini-batches (:mod:`xpnet.training.sampling`), from `seed`."""
        c = self.config
        return make_sampler(c.sampling, self.x.shape[0], c.batch_size, seed, c.drop_last)

    def settings(self) -> dict[str, Any]:
        """What a resumed run must share with the checkpoint: every setting shaping its numbers."""
        validation = self.validation_data
        return {
            "batch_size": self.config.batch_size,
            "sampling": self.config.sampling,
            "drop_last": self.config.drop_last,
            "eval_every": self.every,
            "grad": self.config.grad,
            "train_size": self.x.shape[0],
            "seed": self.sampler.seed,
            "weight_decay": self.config.weight_decay,
            "validation": None if validation is None else (self.config.validation or "data"),
            "validation_size": None if validation is None else validation[0].shape[0],
            "eval_samples": self.config.eval_samples,
            "precision": self.config.precision,
        }

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
            self.sampler = self.make_sampler(seed)
        self.net.set_state_arrays(saved.network_arrays)
        for callback, arrays in zip(self.callbacks, saved.callback_arrays, strict=True):
            if arrays:
                callback.set_state_arrays(arrays)
        self.progress = saved.progress
        # A finished run continued to more iterations: its last evaluation may lie
        # off this run's schedule; an uninterrupted run would not have made it.
        h = self.progress.history
        while h.eval_iters and not self.on_schedule(h.eval_iters[-1]):
            h.eval_iters.pop()
            for accuracies in (h.train_acc, h.test_acc, h.val_acc):
                if accuracies:
                    accuracies.pop()

    # -- running ------------------------------------------------------------------

    def execute(self, path: Path | None) -> History:
        from tqdm.auto import tqdm

        iters, verbose = self.config.iters, self.config.verbose
        self.progress.history.config = {
            **self.config.to_dict(),
            "optimizer": self.optimizer.get_config(),
            "seed": self.sampler.seed,
        }
        if self.engine.in_place:  # the steps update these in place: never arrays a caller holds
            self.keep(_copies(self.net.backend.xp, self.state()))
        done = min(self.progress.iteration, iters)
        bar = tqdm(total=iters, initial=done, disable=verbose != 1, unit="it")
        clock = time.perf_counter()
        with bar, stop_requests(terminate=path is not None) as stop:
            if self.engine.name is not None and done < iters:
                self.compiling = True  # the steps before the first evaluation compile
                bar.set_postfix_str(f"compiling with {self.engine.name}...")
            while self.progress.iteration < iters and not self.progress.stopped:
                finished = self.run_block(bar, stop)
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
        return stop

    def run_block(self, bar: Any, stop: StopRequest) -> bool:
        """Train up to the next evaluation; False if a stop was requested first."""
        _, end = self.block_bounds(self.progress.iteration)
        while self.progress.iteration <= end:
            first = self.progress.iteration
            chunk = self.sampler.CHUNK
            last = min(end, (first // chunk + 1) * chunk - 1)
            if not self.run_chunk(first, last, bar, stop):
                return False
        return True

    def state(self) -> Any:
        return self.net.params, self.net.buffers, self.progress.opt_state

    def keep(self, state: Any) -> None:
        """Take the state the steps carried as the network's and the optimizer's: never half."""
        self.net.params, self.net.buffers, self.progress.opt_state = state

    def run_chunk(self, first: int, last: int, bar: Any, stop: StopRequest) -> bool:
        """Iterations `first` to `last` of one chunk of indices; losses read back at the end.

        The whole chunk of indices is drawn (its shape never changes, so a
        compiled loop compiles once); rows ``first % CHUNK ..`` are used. A
        short batch (the end of an epoch) uses the first entries of its row.
        """
        chunk = self.sampler.CHUNK
        start = first % chunk
        base = first - start  # the iteration of the chunk's row 0
        batches = self.sampler.indices(base, base + chunk, backend=self.net.backend)
        stop_row = start + last - first + 1
        if self.engine.loop is not None:
            return self.run_compiled_chunk(batches, base, start, stop_row, bar, stop)
        step, losses, completed = self.engine.step, [], True
        for row in range(start, stop_row):
            if stop:
                completed = False
                break
            state, loss = step(self.state(), self.x, self.t, self.batch(batches, base, row))
            self.keep(state)
            self.progress.iteration += 1
            losses.append(loss)
            bar.update(1)
        self.keep(self.engine.own(self.state()))
        if losses:
            self.record_losses(self.net.backend.xp.stack(losses))
        return completed

    def batch(self, batches: Array, base: int, row: int) -> Array:
        """Row `row`'s indices: all of them, or the first ones of a short batch."""
        size = self.sampler.size(base + row)
        return batches[row, ...] if size == batches.shape[1] else batches[row, :size]

    def run_compiled_chunk(
        self, batches: Array, base: int, start: int, stop_row: int, bar: Any, stop: StopRequest
    ) -> bool:
        """Rows `start` to `stop_row - 1` of `batches`: full batches in calls of the compiled loop.

        A short batch (the last of an epoch) has a shape of its own: it is
        one call of the step between two calls of the loop.
        """
        if stop:
            return False
        row, values = start, []
        while row < stop_row:
            full = batches.shape[1]
            short = next(
                (r for r in range(row, stop_row) if self.sampler.size(base + r) < full), stop_row
            )
            if short > row:
                state, losses = self.engine.loop(self.state(), self.x, self.t, batches, row, short)
                self.keep(self.engine.own(state))
                # Sliced on the host: a device slice of each new length would compile (JAX).
                values += to_numpy(losses)[row:short].tolist()
            if short < stop_row:
                state, loss = self.engine.step(
                    self.state(), self.x, self.t, self.batch(batches, base, short)
                )
                self.keep(self.engine.own(state))
                values.append(float(to_numpy(loss)))
                short += 1
            self.progress.iteration += short - row
            bar.update(short - row)
            row = short
        self.record_losses(values)
        return True

    def record_losses(self, losses: Array | list[float]) -> None:
        """Read losses (1-D array or floats) back to the host; stop on the first non-finite one."""
        values = losses if isinstance(losses, list) else to_numpy(losses).tolist()
        first = self.progress.iteration - len(values)
        bad = [i for i, value in enumerate(values) if not math.isfinite(value)]
        if bad:
            hint = lr_hint(self.monitor.lr, self.monitor.weight_decay)
            raise TrainingDivergedError(
                f"The training loss became {values[bad[0]]} at iteration {first + bad[0]}: {hint}"
            )
        self.progress.history.train_loss.extend(float(v) for v in values)

    def evaluate(self) -> None:
        """Measure accuracy (Python floats); then warn, or raise, if the run diverges."""
        h = self.progress.history
        h.eval_iters.append(self.progress.iteration - 1)
        h.train_acc.append(self.accuracy(self.x, self.t))
        if self.test_data is not None:
            h.test_acc.append(self.accuracy(*self.test_data))
        if self.validation_data is not None:
            h.val_acc.append(self.accuracy(*self.validation_data))
        self.monitor.check(
            h.train_loss, h.train_acc, every=self.every, samples=self.x.shape[0],
            classes=self.net.output_size, batch_size=self.config.batch_size,
        )  # fmt: skip

    def accuracy(self, x: Array, t: Array) -> float:
        """The accuracy on (x, t), or on its first ``eval_samples`` samples."""
        n = min(self.config.eval_samples or x.shape[0], x.shape[0])
        if n < x.shape[0]:
            x, t = x[:n, ...], t[:n, ...]
        return self.engine.accuracy(self.net.params, self.net.buffers, x, t)

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


def _copies(xp: Any, state: Any) -> Any:
    """`state` (params, buffers, opt_state) with the network's arrays copied."""
    params, buffers, opt_state = state
    params = {name: xp.asarray(value, copy=True) for name, value in params.items()}
    buffers = {name: xp.asarray(value, copy=True) for name, value in buffers.items()}
    return params, buffers, opt_state
