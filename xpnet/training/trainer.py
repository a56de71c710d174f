"""Trainer: the book's class that trains a network for a number of epochs.

The book's signature and attributes (``train_acc_list``, ``test_acc_list``,
``train_loss_list``, ``current_epoch``…) and its printed lines (each
iteration's ``train loss:…``, each epoch's ``=== epoch:1, train acc:…,
test acc:… ===``, the final test accuracy), over :func:`xpnet.train` for
xpnet's networks: the same mini-batches on every backend for a seed,
compiled where the backend compiles, every other setting of
:class:`~xpnet.training.TrainConfig` available.

A network that is not xpnet's (the book's own ``SimpleConvNet``, with
``params``, ``gradient``, ``loss`` and ``accuracy``) is trained by the book's
loop, written portably: its batches come from the same sampler, its
optimizer's ``update(params, grads)`` is called as in the book.

Examples
--------
>>> import numpy as np
>>> from xpnet import TwoLayerNet
>>> rng = np.random.default_rng(0)
>>> x = rng.random((200, 4)).astype(np.float32)
>>> t = (x[:, 0] > 0.5).astype(np.int64)
>>> net = TwoLayerNet(4, 8, 2, weight_init_std=1.0, seed=0, backend="numpy")
>>> trainer = Trainer(net, x, t, x, t, epochs=3, mini_batch_size=20,
...                   optimizer="SGD", optimizer_param={"lr": 1.0}, verbose=False, seed=0)
>>> trainer.train()
>>> trainer.max_iter, len(trainer.train_acc_list), len(trainer.train_loss_list)
(30, 3, 30)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from .._typing import Array
from .._validation import positive_int
from ..backend import backend_of
from ..batching import head, take_rows
from ..errors import XpnetTypeError
from ..optim import OPTIMIZERS, Optimizer
from ..random import BatchSampler
from .callbacks import Callback
from .config import TrainConfig
from .history import History
from .loop import train

__all__ = ["Trainer"]

#: The book's default ``optimizer_param`` (read-only: a default is shared by every call).
BOOK_OPTIMIZER_PARAM: Mapping[str, Any] = MappingProxyType({"lr": 0.01})


class Trainer:
    """Train `network` for `epochs` epochs of mini-batches, as the book's ``Trainer``.

    Parameters
    ----------
    network : network
        An xpnet network, or any object with the book's ``params``,
        ``gradient(x, t)``, ``loss(x, t)`` and ``accuracy(x, t)``.
    x_train, t_train, x_test, t_test : arrays
        The data, on the network's backend.
    epochs : int
        Epochs of ``max(N / mini_batch_size, 1)`` iterations each.
    mini_batch_size : int
        Samples per iteration, drawn with replacement (the book's), unless
        ``sampling="epoch"`` is given.
    optimizer : str or Optimizer
        "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam" (any
        case; any name of :data:`xpnet.optim.OPTIMIZERS`), or an object.
    optimizer_param : mapping
        The optimizer's keywords (default ``{"lr": 0.01}``).
    evaluate_sample_num_per_epoch : int, optional
        Measure the epoch's accuracies on the first this many samples of each set.
    verbose : bool
        Print the book's lines.
    config : TrainConfig, optional
    **settings
        Further settings of :func:`xpnet.train` (``seed=``, ``sampling=``,
        ``compile=``…), for xpnet's networks; ``seed`` also for the others.

    Attributes
    ----------
    train_loss_list : list of float
        The loss of every iteration's mini-batch.
    train_acc_list, test_acc_list : list of float
        The accuracies at the start of every epoch (iteration 0, N/B, …).
    history : History or None
        What :func:`xpnet.train` recorded (xpnet's networks).

    Notes
    -----
    The book evaluates when ``current_iter % (N / mini_batch_size) == 0``; xpnet
    every ``N // mini_batch_size`` iterations, which is the same whenever the
    batch size divides N. ``train_loss_list`` holds the loss of each step's
    forward pass, before its update (the book computes it again after).
    """

    #: The optimizers the book names, by lower-case name.
    optimizers: ClassVar[Mapping[str, Any]] = OPTIMIZERS

    def __init__(
        self,
        network: Any,
        x_train: Array,
        t_train: Array,
        x_test: Array,
        t_test: Array,
        epochs: int = 20,
        mini_batch_size: int = 100,
        optimizer: str | Optimizer = "SGD",
        optimizer_param: Mapping[str, Any] = BOOK_OPTIMIZER_PARAM,
        evaluate_sample_num_per_epoch: int | None = None,
        verbose: bool = True,
        *,
        config: TrainConfig | None = None,
        **settings: Any,
    ) -> None:
        self.network, self.verbose = network, bool(verbose)
        self.x_train, self.t_train, self.x_test, self.t_test = x_train, t_train, x_test, t_test
        self.epochs = positive_int(epochs, "epochs")
        self.batch_size = positive_int(mini_batch_size, "mini_batch_size")
        self.evaluate_sample_num_per_epoch = (
            None
            if evaluate_sample_num_per_epoch is None
            else positive_int(evaluate_sample_num_per_epoch, "evaluate_sample_num_per_epoch")
        )
        self.optimizer = self._optimizer(optimizer, optimizer_param)
        self.config = (config or TrainConfig()).replace(**settings) if settings else config
        self.train_size = int(x_train.shape[0])
        self.iter_per_epoch = max(self.train_size / self.batch_size, 1)
        self.max_iter = int(self.epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list: list[float] = []
        self.train_acc_list: list[float] = []
        self.test_acc_list: list[float] = []
        self.history: History | None = None
        self._printed = 0

    def _optimizer(self, optimizer: Any, params: Mapping[str, Any]) -> Any:
        if not isinstance(optimizer, str):
            return optimizer
        try:
            cls = self.optimizers[optimizer.lower()]
        except KeyError:
            raise XpnetTypeError(
                f"`optimizer` must be one of {', '.join(self.optimizers)} (any case), or an "
                f"optimizer object. Received: {optimizer!r}."
            ) from None
        return cls(**dict(params))

    # -- what the book prints -----------------------------------------------------------

    def _losses_up_to(self, iteration: int) -> None:
        new = self.train_loss_list[self._printed : iteration + 1]
        if self.verbose:
            for loss in new:
                print("train loss:" + str(loss))
        self._printed += len(new)

    def _epoch(self, train_acc: float, test_acc: float) -> None:
        self.current_epoch += 1
        self.train_acc_list.append(train_acc)
        self.test_acc_list.append(test_acc)
        if self.verbose:
            print(f"=== epoch:{self.current_epoch}, train acc:{train_acc}, test acc:{test_acc} ===")

    def _samples(self) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
        n = self.evaluate_sample_num_per_epoch
        if n is None:
            return (self.x_train, self.t_train), (self.x_test, self.t_test)
        return (
            (head(self.x_train, n), head(self.t_train, n)),
            (head(self.x_test, n), head(self.t_test, n)),
        )

    # -- training -----------------------------------------------------------------------

    def train(self) -> None:
        """Train for ``max_iter`` iterations, then measure (and print) the test accuracy."""
        if _is_xpnet_network(self.network):
            self._train_xpnet()
        else:
            self._train_book()
        self._losses_up_to(self.max_iter)
        test_acc = float(self.network.accuracy(self.x_test, self.t_test))
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))

    def _train_xpnet(self) -> None:
        every = max(self.train_size // self.batch_size, 1)
        train_sample, test_sample = self._samples()
        sampled = self.evaluate_sample_num_per_epoch is not None
        lines = _BookLines(self, sampled)
        config = self.config or TrainConfig()
        self.history = train(
            self.network, (self.x_train, self.t_train), test_sample, config=config,
            iters=self.max_iter, batch_size=self.batch_size, optimizer=self.optimizer,
            eval_every=every, verbose=0, callbacks=[*(_list(config.callbacks)), lines],
            **({"validation": train_sample} if sampled else {}),
        )  # fmt: skip
        self.train_loss_list[:] = self.history.train_loss
        self.current_iter = self.max_iter

    def _train_book(self) -> None:
        """The book's loop, portably: batches from xpnet's sampler, the book's update."""
        seed = None if self.config is None else self.config.seed
        sampler = BatchSampler(self.train_size, self.batch_size, seed)
        b, batches = backend_of(self.x_train), None
        every = max(self.train_size // self.batch_size, 1)
        for i in range(self.max_iter):
            if batches is None or i % BatchSampler.CHUNK == 0:
                start = i - i % BatchSampler.CHUNK
                batches = sampler.indices(start, start + BatchSampler.CHUNK, backend=b)
            idx = batches[i % BatchSampler.CHUNK, ...]
            x, t = take_rows(self.x_train, idx), take_rows(self.t_train, idx)
            self.optimizer.update(self.network.params, self.network.gradient(x, t))
            self.train_loss_list.append(float(self.network.loss(x, t)))
            if i % every == 0:
                self._losses_up_to(i)
                (xs, ts), (xt, tt) = self._samples()
                self._epoch(
                    float(self.network.accuracy(xs, ts)), float(self.network.accuracy(xt, tt))
                )
            self.current_iter += 1


class _BookLines(Callback):
    """Called by :func:`xpnet.train` at every epoch: the book's lists and lines."""

    def __init__(self, trainer: Trainer, sampled: bool) -> None:
        self.trainer, self.sampled = trainer, sampled

    def on_evaluation(self, history: History) -> bool:
        trainer, i = self.trainer, history.eval_iters[-1]
        trainer.train_loss_list[:] = history.train_loss
        trainer.current_iter = i + 1
        trainer._losses_up_to(i)
        train_acc = history.val_acc[-1] if self.sampled else history.train_acc[-1]
        trainer._epoch(train_acc, history.test_acc[-1])
        return False

    def on_train_end(self, stopped: bool) -> None:
        pass


def _is_xpnet_network(net: Any) -> bool:
    needs = ("buffers", "backend", "loss_gradient_buffers", "correct", "get_config")
    return all(hasattr(net, name) for name in needs)


def _list(callbacks: Any) -> list[Any]:
    if callbacks is None:
        return []
    return list(callbacks) if isinstance(callbacks, list | tuple) else [callbacks]
