"""``train``: mini-batch training, as in the chapter, with checkpoints that resume exactly.

Every iteration draws a mini-batch with replacement, computes the gradient
(backpropagation, or the chapter's numerical gradient) and takes an optimizer
step: one call of the pure step (:mod:`xpnet.training.step`), or, where the
backend's compiler runs it (:mod:`xpnet.training.compile`), the same step
compiled. Every `eval_every` iterations (one epoch by default, iteration 0
included) and after the last one, the accuracy on the training and test sets
is measured. Losses stay on the device until a chunk of iterations ends, so a
GPU is not synchronised at every step. The run itself is :class:`~xpnet.training.run.Run`.

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

import difflib
import os
from typing import Any

from .._io import check_output_path, output_exists, remove_stale_temporaries
from .._typing import Array, Trainable
from .._validation import check_xt
from ..backend import cast_floating, matmul_precision, namespace
from ..errors import XpnetTypeError, XpnetValueError
from .checkpoint import read_training_meta
from .config import TrainConfig
from .history import History
from .inputs import resolve_callbacks, resolve_optimizer, split_validation
from .lock import checkpoint_lock, refuse_existing
from .memory import check_training_memory
from .resume import reconcile
from .run import Run

__all__ = ["train"]


def train(
    net: Trainable,
    train_data: tuple[Array, Array],
    test_data: tuple[Array, Array] | None = None,
    *,
    config: TrainConfig | None = None,
    **overrides: Any,
) -> History:
    """Train `net` by mini-batch gradient descent, as in the chapter.

    Parameters
    ----------
    net : Trainable
        The network (TwoLayerNet, MultiLayerNet(Extend), Sequential, or any
        :class:`~xpnet._typing.Trainable`); its parameters (and buffers) are updated.
    train_data : tuple of arrays
        ``(x, t)`` on the network's backend: images of shape (N, input_size)
        (or (N, *input_shape)) in the network's dtype; labels (N,) or
        one-hot (N, output_size).
    test_data : tuple of arrays, optional
        ``(x, t)`` as `train_data`, whose accuracy is recorded at every
        evaluation.
    config : TrainConfig, optional
        The run's settings; every one has a default (:class:`TrainConfig`).
    **overrides
        Any field of :class:`TrainConfig` (``iters=``, ``lr=``, ``optimizer=``,
        ``checkpoint=``…), taking precedence over `config`.

    Returns
    -------
    History

    Raises
    ------
    CheckpointError
        When the checkpoint exists (without ``resume`` or ``overwrite``), is
        in use by another run, or cannot be resumed (damaged, or settings
        given differently).
    TrainingDivergedError
        When the loss stops being finite (names the iteration), or the run
        diverges with ``fail_on_divergence=True``.
    TrainingInterrupted
        (a KeyboardInterrupt) On Ctrl-C, or SIGTERM/SIGHUP while
        checkpointing, after saving the checkpoint.

    Notes
    -----
    ``resume=True`` continues from the checkpoint; the result equals that of
    a run that was never interrupted, and a finished run continues to a
    larger `iters` as if it had been started with it. Settings not given
    are taken from the checkpoint (a :class:`~xpnet.errors.ResumeWarning`
    says which); settings given differently are refused. Compiled and eager
    runs agree to float rounding, and a checkpoint of one resumes in the other.
    """
    _check_network(net)
    config = _settings(config, overrides)
    data = _checked_data(net, train_data, "train_data")
    test = None if test_data is None else _checked_data(net, test_data, "test_data")
    path = None if config.checkpoint is None else check_output_path(config.checkpoint, "checkpoint")
    if config.resume and path is None:
        raise XpnetValueError("`resume=True` needs a `checkpoint` path to resume from.")
    if config.resume and config.overwrite:
        raise XpnetValueError("`resume=True` and `overwrite=True` exclude each other.")
    run = _prepare(net, config, data, test)  # every check before anything is written
    if path is None:
        _check_finite_params(net)
        _begin(run.callbacks, net)
        with matmul_precision(net.backend, config.precision):
            return run.execute(None)
    with checkpoint_lock(path):  # before anything in the folder is read or removed
        refuse_existing(path, resume=config.resume, overwrite=config.overwrite)
        resuming = config.resume and output_exists(path)
        if resuming:
            meta = read_training_meta(path)
            adopted = reconcile(config, meta, run.settings(), run.optimizer, os.fspath(path))
            if adopted is not config:
                run = _prepare(net, adopted, data, test)
        _begin(run.callbacks, net)  # before a checkpoint gives them their saved state
        remove_stale_temporaries(path)  # left by a run that was killed mid-save
        if resuming:
            run.restore(path)  # the checkpoint's arrays replace the network's
        else:
            _check_finite_params(net)
        with matmul_precision(net.backend, run.config.precision):
            return run.execute(path)


def _prepare(
    net: Trainable,
    config: TrainConfig,
    data: tuple[Array, Array],
    test: tuple[Array, Array] | None,
) -> Run:
    """The run of `config`: its optimizer, callbacks and validation split, all checked."""
    optimizer = resolve_optimizer(config)
    callbacks = resolve_callbacks(config.callbacks, config.early_stopping)
    data, validation = split_validation(
        config.validation, data, lambda pair, name: _checked_data(net, pair, name)
    )
    n = data[0].shape[0]
    if config.batch_size > n:
        raise XpnetValueError(
            f"`batch_size` must be at most the {n} training samples. Received: {config.batch_size}."
        )
    in_place = config.compile is not True and net.backend.library.in_place
    check_training_memory(net, optimizer, config.batch_size, in_place)
    run = Run(net, optimizer, config, data, test, validation, callbacks)
    for callback in callbacks:
        if callable(getattr(callback, "check_metrics", None)):
            callback.check_metrics(run.metrics())
    return run


def _check_network(net: Any) -> None:
    """A network with what training needs, or an error that says what it is."""
    needs = ("params", "buffers", "backend", "loss_gradient_buffers", "correct", "get_config")
    missing = [name for name in needs if not hasattr(net, name)]
    if missing:
        raise XpnetTypeError(
            "`net` must be a network (TwoLayerNet, MultiLayerNet, Sequential… or any "
            f"xpnet._typing.Trainable); it has no {', '.join(missing)}. "
            f"Received: {type(net).__name__}."
        )


def _settings(config: TrainConfig | None, overrides: dict[str, Any]) -> TrainConfig:
    """`config` (or the defaults) with `overrides`, each a TrainConfig field."""
    if config is not None and not isinstance(config, TrainConfig):
        raise XpnetTypeError(f"`config` must be a TrainConfig. Received: {type(config).__name__}.")
    known = TrainConfig.defaults()
    for name in overrides:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise XpnetTypeError(
                f"train() got an unknown setting `{name}`.{hint} Settings (TrainConfig's "
                f"fields): {', '.join(known)}."
            )
    base = config if config is not None else TrainConfig()
    return base.replace(**overrides) if overrides else base


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
