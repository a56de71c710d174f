"""Mini-batch training, as in the chapter, with checkpoints that resume exactly.

Every iteration draws a mini-batch with replacement, computes the gradient
(backpropagation, or the chapter's numerical gradient) and takes an optimizer
step. Every `eval_every` iterations (one epoch by default, iteration 0
included) and after the last one, the accuracy on the training and test sets
is measured. Losses stay on the device until an evaluation reads them back,
so a GPU is not synchronised at every step.

Examples
--------
>>> import numpy as np
>>> from xpnet import TwoLayerNet, train
>>> rng = np.random.default_rng(0)
>>> x = rng.random((200, 4)).astype(np.float32)
>>> t = (x[:, 0] > 0.5).astype(np.int64)
>>> net = TwoLayerNet(4, 8, 2, weight_init_std=1.0, seed=0, backend="numpy")
>>> history = train(net, (x, t), iters=300, batch_size=20, lr=1.0, seed=0, progress=None)
>>> len(history.train_loss), history.eval_iters[:3], history.train_acc[-1] > 0.9
(300, [0, 10, 20], True)
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._checks import positive_int
from ._io import check_writable_path, load_npz, remove_stale_temporaries, save_npz
from .backend import namespace, to_numpy
from .functions import check_labels
from .optim import SGD, check_learning_rate
from .random import default_rng

__all__ = ["History", "load_history", "train"]

CHECKPOINT_VERSION = 1


@dataclass
class History:
    """What a training run measured.

    Attributes
    ----------
    train_loss : list of float
        The mini-batch loss at every iteration (before that iteration's update).
    eval_iters : list of int
        The iterations after which accuracy was measured.
    train_acc, test_acc : list of float
        Accuracy on the whole training and test sets at those iterations
        (`test_acc` is empty without test data).
    seconds : float
        Wall-clock training time, evaluations included, over all sessions.
    """

    train_loss: list[float] = field(default_factory=list)
    eval_iters: list[int] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})


def load_history(path: str | os.PathLike[str]) -> History:
    """The :class:`History` stored in a checkpoint written by :func:`train`."""
    try:
        meta = json.loads(str(load_npz(path)["meta"]))
        return History.from_dict(meta["history"])
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not an xpnet checkpoint ({exc}).") from None


def _check_data(net: Any, data: Any, name: str) -> tuple[Any, Any]:
    """Validate an (x, t) pair against the network, once, before training."""
    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise TypeError(
            f"`{name}` must be a pair (x, t) of arrays. Received: {type(data).__name__}."
        )
    x, t = data
    namespace(x, t, net.params["W1"])  # one library, one device
    n = x.shape[0]
    if x.ndim < 2 or math.prod(x.shape[1:]) != net.input_size or n == 0:
        raise ValueError(
            f"`{name}` images must have shape (N, {net.input_size}) with N > 0. "
            f"Received: x.shape={tuple(x.shape)}."
        )
    if x.dtype != net.dtype:
        raise TypeError(
            f"`{name}` images must have the network's dtype {net.dtype}. Received: {x.dtype}."
        )
    xp = net.backend.xp
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"`{name}` images contain NaN or infinity; clean the data first.")
    if tuple(t.shape) == (n, net.output_size):
        return x, t
    if tuple(t.shape) != (n,):
        raise ValueError(
            f"`{name}` labels must have shape ({n},) or one-hot ({n}, {net.output_size}). "
            f"Received: t.shape={tuple(t.shape)}."
        )
    check_labels(t, net.output_size, name=f"{name} labels")
    return x, t


class _Trainer:
    """The state of one training run: iteration, RNG, history, pending losses."""

    def __init__(
        self, net: Any, train_data: Any, test_data: Any, config: dict[str, Any], optimizer: Any
    ) -> None:
        self.net, self.config, self.optimizer = net, config, optimizer
        self.x, self.t = train_data
        self.test_data = test_data
        self.rng = default_rng(config["seed"])
        self.history = History()
        self.iteration = 0  # the next iteration to run
        self.block_rng_state = self.rng.get_state()
        self.pending: list[Any] = []  # losses still on the device
        self.stop_requested = False

    # -- schedule: blocks of iterations end at evaluations ----------------------

    def block_bounds(self, i: int) -> tuple[int, int]:
        """First and last iteration of the block holding iteration `i`."""
        if i == 0:
            return 0, 0
        every = self.config["eval_every"]
        start = ((i - 1) // every) * every + 1
        return start, min(start + every - 1, self.config["iters"] - 1)

    # -- one block ----------------------------------------------------------------

    def run_block(self, bar: Any) -> bool:
        """Train up to the next evaluation; False if stopped by Ctrl-C first."""
        start, end = self.block_bounds(self.iteration)
        self.rng.set_state(self.block_rng_state)
        xp = self.net.backend.xp
        batches = self.rng.integers(
            self.x.shape[0], (end - start + 1, self.config["batch_size"]), backend=self.net.backend
        )
        for i in range(self.iteration, end + 1):
            if self.stop_requested:
                return False
            index = batches[i - start, ...]
            x_batch, t_batch = xp.take(self.x, index, axis=0), xp.take(self.t, index, axis=0)
            if self.config["grad"] == "numerical":
                loss, grads = (
                    self.net.loss(x_batch, t_batch),
                    self.net.numerical_gradient(x_batch, t_batch),
                )
            else:
                loss, grads = self.net.loss_and_gradient(x_batch, t_batch, check_input=False)
            params = dict(self.net.params)
            self.optimizer.update(params, grads)
            self.net.params = params  # one assignment: never half-updated
            self.pending.append(loss)
            self.iteration = i + 1
            bar.update(1)
        self.block_rng_state = self.rng.get_state()
        return True

    def flush_losses(self) -> None:
        """Read pending losses back to the host; stop on the first non-finite one."""
        if not self.pending:
            return
        xp = self.net.backend.xp
        losses = to_numpy(xp.stack(self.pending)).tolist()
        first = self.iteration - len(self.pending)
        bad = [i for i, value in enumerate(losses) if not math.isfinite(value)]
        if bad:
            lr = self.config["lr"]
            raise FloatingPointError(
                f"The training loss became {losses[bad[0]]} at iteration {first + bad[0]}: "
                f"the learning rate lr={lr:g} is probably too large. "
                f"Try a smaller one, such as {lr / 10:g}."
            )
        self.history.train_loss.extend(losses)
        self.pending.clear()

    def evaluate(self) -> None:
        self.flush_losses()
        h = self.history
        h.eval_iters.append(self.iteration - 1)
        h.train_acc.append(float(self.net.accuracy(self.x, self.t)))
        if self.test_data is not None:
            h.test_acc.append(float(self.net.accuracy(*self.test_data)))

    def report(self, bar: Any, progress: bool | None) -> None:
        h = self.history
        accs = [h.train_acc[-1]] + ([h.test_acc[-1]] if h.test_acc else [])
        if progress:
            bar.set_postfix(
                loss=f"{h.train_loss[-1]:.4f}",
                train_acc=f"{accs[0]:.4f}",
                **({"test_acc": f"{accs[1]:.4f}"} if h.test_acc else {}),
            )
        elif progress is False:
            names = "train acc, test acc" if h.test_acc else "train acc"
            print(f"{names} | " + ", ".join(f"{a:.4f}" for a in accs), flush=True)

    # -- checkpoints --------------------------------------------------------------

    def save(self, path: Path) -> None:
        self.flush_losses()
        meta = {
            "format_version": CHECKPOINT_VERSION,
            "architecture": self.net.architecture(),
            "config": self.config,
            "iteration": self.iteration,
            "rng_state": self.block_rng_state,
            "history": self.history.to_dict(),
        }
        arrays: dict[str, Any] = {f"param.{k}": to_numpy(v) for k, v in self.net.params.items()}
        arrays.update({f"optim.{k}": v for k, v in self.optimizer.state_dict().items()})
        arrays["meta"] = json.dumps(meta)
        save_npz(path, arrays)

    def restore(self, path: Path) -> None:
        """Load a checkpoint; everything is checked before anything is changed."""
        arrays = load_npz(path)
        try:
            meta = json.loads(str(arrays.pop("meta")))
            version, arch, config = meta["format_version"], meta["architecture"], meta["config"]
            history = History.from_dict(meta["history"])
            iteration = int(meta["iteration"])
            default_rng().set_state(meta["rng_state"])  # validates the state
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}: not an xpnet checkpoint ({exc}).") from None
        if version != CHECKPOINT_VERSION:
            raise ValueError(f"{path}: unsupported checkpoint version {version!r}.")
        if arch != self.net.architecture():
            raise ValueError(
                f"{path}: the checkpoint is for {arch}, "
                f"not this network ({self.net.architecture()})."
            )
        fixed = ("iters", "batch_size", "eval_every", "grad", "seed", "train_size", "lr")
        changed = [k for k in fixed if config.get(k) != self.config[k]]
        if changed:
            detail = ", ".join(f"{k}: {config.get(k)!r} -> {self.config[k]!r}" for k in changed)
            raise ValueError(f"{path}: cannot resume with different settings ({detail}).")
        if not 0 <= iteration <= self.config["iters"] or len(history.train_loss) != iteration:
            raise ValueError(f"{path}: inconsistent checkpoint (iteration {iteration}).")
        # The network class checks the arrays against the declared architecture:
        # names, shapes and dtypes, nothing missing, nothing extra.
        params = {k.removeprefix("param."): v for k, v in arrays.items() if k.startswith("param.")}
        others = sorted(k for k in arrays if not k.startswith(("param.", "optim.")))
        if others:
            raise ValueError(f"{path}: unexpected arrays {others}.")
        restored = type(self.net).from_arrays(
            {"architecture": json.dumps(arch), **params}, backend=self.net.backend, source=str(path)
        )
        self.optimizer.load_state_dict(
            {k.removeprefix("optim."): v for k, v in arrays.items() if k.startswith("optim.")}
        )
        self.net.params = restored.params
        self.iteration = iteration
        self.block_rng_state = meta["rng_state"]
        self.history = history


def train(
    net: Any,
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any] | None = None,
    *,
    iters: int = 10000,
    batch_size: int = 100,
    lr: float = 0.1,
    optimizer: Any = None,
    grad: str = "backprop",
    eval_every: int | None = None,
    seed: int | None = None,
    progress: bool | None = True,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> History:
    """Train `net` by mini-batch gradient descent, as in the chapter.

    Parameters
    ----------
    net : TwoLayerNet
        The network; its parameters are updated.
    train_data, test_data : (x, t) pairs of arrays on the network's backend
        Images of shape (N, input_size) in the network's dtype; labels (N,)
        or one-hot (N, output_size).
    iters : int
        Number of iterations (mini-batch updates).
    batch_size : int
        Samples per mini-batch, drawn with replacement.
    lr : float
        Learning rate of the default :class:`~xpnet.optim.SGD` optimizer.
    optimizer : object, optional
        Anything with ``update(params, grads)``, ``state_dict()`` and
        ``load_state_dict()``; ``SGD(lr)`` if None.
    grad : {"backprop", "numerical"}
        How gradients are computed; "numerical" is the chapter's (slow) loop.
    eval_every : int, optional
        Iterations between evaluations; one epoch (N / batch_size) if None.
    seed : int, optional
        Seed of the mini-batch draws: the same seed gives the same batches on
        every backend.
    progress : bool or None
        True: a progress bar with loss and accuracy. False: the chapter's
        ``train acc, test acc | 0.9461, 0.9448`` line per evaluation. None:
        silent.
    checkpoint : path, optional
        Save the whole training state there, atomically, at every evaluation
        and on Ctrl-C.
    resume : bool
        Continue from `checkpoint` if it exists; the result equals that of a
        run that was never interrupted.

    Returns
    -------
    History

    Raises
    ------
    FloatingPointError
        When the loss stops being finite; names the iteration.
    KeyboardInterrupt
        On Ctrl-C, after saving the checkpoint (if any).
    """
    iters, batch_size = positive_int(iters, "iters"), positive_int(batch_size, "batch_size")
    if grad not in ("backprop", "numerical"):
        raise ValueError(f"`grad` must be 'backprop' or 'numerical'. Received: {grad!r}.")
    lr = check_learning_rate(lr)
    train_data = _check_data(net, train_data, "train_data")
    test_data = None if test_data is None else _check_data(net, test_data, "test_data")
    n = train_data[0].shape[0]
    if batch_size > n:
        raise ValueError(
            f"`batch_size` must be at most the {n} training samples. Received: {batch_size}."
        )
    every = (
        positive_int(eval_every, "eval_every")
        if eval_every is not None
        else max(n // batch_size, 1)
    )
    path = None if checkpoint is None else check_writable_path(checkpoint, "checkpoint")
    if resume and path is None:
        raise ValueError("`resume=True` needs a `checkpoint` path to resume from.")
    config = {
        "iters": iters,
        "batch_size": batch_size,
        "lr": lr,
        "eval_every": every,
        "grad": grad,
        "seed": seed,
        "train_size": n,
    }
    trainer = _Trainer(
        net, train_data, test_data, config, optimizer if optimizer is not None else SGD(lr)
    )
    if path is not None:
        remove_stale_temporaries(path)  # left by a run that was killed mid-save
        if resume and path.exists():
            trainer.restore(path)
    return _run(trainer, path, progress)


def _run(trainer: _Trainer, path: Path | None, progress: bool | None) -> History:
    from tqdm.auto import tqdm

    iters = trainer.config["iters"]
    bar = tqdm(total=iters, initial=min(trainer.iteration, iters), disable=not progress, unit="it")
    clock = time.perf_counter()
    with bar, _sigint_requests_stop(trainer):
        while trainer.iteration < iters:
            finished = trainer.run_block(bar)
            if finished:
                trainer.evaluate()
                trainer.report(bar, progress)
            now = time.perf_counter()
            trainer.history.seconds += now - clock
            clock = now
            if path is not None:
                trainer.save(path)
            if not finished:
                raise KeyboardInterrupt(f"training stopped at iteration {trainer.iteration}")
    return trainer.history


class _sigint_requests_stop:
    """While active (main thread only), Ctrl-C asks the loop to stop between iterations."""

    def __init__(self, trainer: _Trainer) -> None:
        self.trainer = trainer
        self.previous: Any = None

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.trainer.stop_requested:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.trainer.stop_requested = True

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
