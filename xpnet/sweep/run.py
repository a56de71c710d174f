"""One run, as a worker does it: data loaded once per process, a fresh network, one train().

:func:`run_one` is the function a Dask worker (or the serial loop) calls. It
returns a plain dict (:func:`outcome`), never raises for a run that fails on
its own terms (a diverging loss, a bad setting): those are recorded as
failed and the sweep goes on. Anything else (a bug, a lost worker) raises,
and Dask retries the run.

Data never travels once per run. MNIST is loaded by each worker from its
own data folder; arrays given to :func:`xpnet.sweep.sweep` travel once to
each worker (``client.scatter``) as host NumPy arrays. Each process keeps the
last few prepared data sets, keyed by what they are, on the run's backend.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import socket
import sys
import time
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .._typing import Array
from ..backend import Backend, asarray, index_dtype, resolve_backend, to_numpy
from ..errors import XpnetError, XpnetValueError
from ..random import default_rng
from ..training import train
from .settings import plan

__all__ = [
    "ArraySource",
    "MnistSource",
    "array_source",
    "clear_cache",
    "dask_setup",
    "failed",
    "outcome",
    "run_one",
]

#: Prepared data sets kept per process (each MNIST copy is ~200 MB in float32).
CACHE_SIZE = 2
_cache: OrderedDict[tuple[Any, ...], Prepared] = OrderedDict()


@dataclass(frozen=True)
class MnistSource:
    """MNIST, read by each worker from `data_dir` (its own ``XPNET_DATA`` if None)."""

    data_dir: str | None = None
    fingerprint: str = "mnist"


@dataclass(frozen=True, eq=False)
class ArraySource:
    """Arrays given to the sweep, as host NumPy arrays, with a fingerprint of their bytes."""

    fingerprint: str
    classes: int
    train: tuple[Any, Any]
    test: tuple[Any, Any] | None
    validation: tuple[Any, Any] | None


def _pair(data: Any, name: str) -> tuple[Any, Any]:
    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise XpnetValueError(
            f"`{name}` must be a pair (x, t) of arrays. Received: {type(data).__name__}."
        )
    return to_numpy(data[0]), to_numpy(data[1])


def array_source(train_data: Any, test_data: Any, validation: Any) -> ArraySource:
    """Host copies of the arrays and their SHA-256: runs on the same bytes share keys."""
    parts: dict[str, Any] = {
        "train": _pair(train_data, "train_data"),
        "test": None if test_data is None else _pair(test_data, "test_data"),
        "validation": None if validation is None else _pair(validation, "validation"),
    }
    digest = hashlib.sha256()
    classes = 0
    for name, pair in parts.items():
        for a in pair or ():
            digest.update(f"{name}{a.shape}{a.dtype.str}".encode())
            digest.update(a.tobytes())
        if pair is not None:
            t = pair[1]
            classes = max(classes, t.shape[1] if t.ndim == 2 else int(t.max()) + 1)
    return ArraySource(f"arrays:{digest.hexdigest()[:32]}", classes, **parts)


@dataclass(frozen=True)
class Prepared:
    """A run's data on its backend: training pair, validation and test pairs (or None)."""

    train: tuple[Array, Array]
    validation: tuple[Array, Array] | None
    test: tuple[Array, Array] | None
    input_size: int
    classes: int


def _on_backend(pair: Any, b: Backend, dtype: str) -> tuple[Array, Array] | None:
    if pair is None:
        return None
    x, t = pair
    labels = dtype if t.dtype.kind == "f" else index_dtype(b.xp, b.device)
    return asarray(x, dtype=dtype, backend=b), asarray(t, dtype=labels, backend=b)


def _load(source: Any, b: Backend, dtype: str) -> tuple[Any, Any, Any, int]:
    """(train, validation, test) pairs on `b`, and the number of classes."""
    if isinstance(source, ArraySource):
        pairs = (source.train, source.validation, source.test)
        train_pair, val, test = (_on_backend(p, b, dtype) for p in pairs)
        return train_pair, val, test, source.classes
    from ..datasets import load_mnist

    train_pair, test = load_mnist(data_dir=source.data_dir, backend=b, dtype=dtype)
    return train_pair, None, test, 10


def _split(pair: Any, train_size: int | None, fraction: float | None, b: Backend) -> Any:
    """The first `train_size` samples, then a `fraction` held out (shuffled once, seed 0)."""
    x, t = pair
    n = x.shape[0]
    if train_size is not None:
        if train_size > n:
            raise XpnetValueError(f"`train_size` must be at most {n}. Received: {train_size}.")
        x, t, n = x[:train_size, ...], t[:train_size, ...], train_size
    if fraction is None:
        return (x, t), None
    held = int(n * fraction)
    if not 0 < held < n:
        raise XpnetValueError(
            f"`validation`={fraction} of {n} samples leaves no validation or no training data."
        )
    order = default_rng(0).permutation(n, backend=b)
    take = b.xp.take
    val, rest = order[:held], order[held:]
    return (take(x, rest, axis=0), take(t, rest, axis=0)), (
        take(x, val, axis=0),
        take(t, val, axis=0),
    )


def prepared(source: Any, b: Backend, dtype: str, train_size: Any, fraction: Any) -> Prepared:
    """The run's data, from this process's cache when an earlier run prepared it."""
    key = (source.fingerprint, getattr(source, "data_dir", None), b, dtype, train_size, fraction)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    train_pair, val, test, classes = _load(source, b, dtype)
    train_pair, held_out = _split(train_pair, train_size, fraction, b)
    if held_out is not None and val is not None:
        raise XpnetValueError("Give `validation` as a fraction or as arrays, not both.")
    x = train_pair[0]
    data = Prepared(train_pair, val or held_out, test, x.shape[1], classes)
    _cache[key] = data
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return data


def clear_cache() -> None:
    """Forget the data sets this process prepared (the serial sweep's memory)."""
    _cache.clear()


def dask_setup(worker: Any) -> None:
    """Dask's hook in each embedded worker, which preloads this module: Ctrl-C is not theirs.

    A Ctrl-C at a terminal reaches the whole process group, workers too; the
    client stops the sweep and closes the cluster, which stops its workers.
    Left to Python's default, each worker would die printing a traceback.
    """
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_name() -> str:
    """The Dask worker's address, or host:pid outside a worker."""
    if "distributed" in sys.modules:
        from distributed import get_worker

        try:
            return str(get_worker().address)
        except ValueError:  # not inside a worker
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


def failed(error: str, **fields: Any) -> dict[str, Any]:
    """The outcome of a run that failed with `error`."""
    return {"status": "failed", "error": error, "worker": _worker_name(), **fields}


def outcome(history: Any, val_acc: list[float], final_val: Any, b: Backend) -> dict[str, Any]:
    """The outcome of a finished run, as plain Python values."""
    losses = history.train_loss
    tail = losses[-100:]
    return {
        "status": "done",
        "eval_iters": list(history.eval_iters),
        "train_acc": list(history.train_acc),
        "val_acc": val_acc,
        "test_acc": list(history.test_acc),
        "train_loss": array("d", losses).tobytes(),
        "final_train_acc": history.train_acc[-1] if history.train_acc else None,
        "final_val_acc": final_val,
        "final_test_acc": history.test_acc[-1] if history.test_acc else None,
        "final_loss": sum(tail) / len(tail) if tail else None,
        "seconds": history.seconds,
        "worker": _worker_name(),
        "backend": b.name,
        "device": str(b.device),
    }


def run_one(settings: dict[str, Any], source: Any) -> dict[str, Any]:
    """Train a fresh network with `settings` on `source`'s data; the outcome as a dict."""
    started = time.perf_counter()
    try:
        p = plan(settings)
        b = resolve_backend(p.backend, p.device)
        data = prepared(source, b, p.dtype, p.train_size, p.validation)
        net = p.net_class(
            input_size=data.input_size, output_size=data.classes, backend=b, dtype=p.dtype,
            **p.net_kwargs,
        )  # fmt: skip
        extra: dict[str, Any] = {}
        if data.validation is not None and "validation" in inspect.signature(train).parameters:
            extra["validation"] = data.validation  # train() measures it at every evaluation
        history = train(net, data.train, data.test, verbose=0, **p.train_kwargs, **extra)
    except XpnetError as exc:  # diverged, or a setting this network or backend refuses
        return failed(f"{type(exc).__name__}: {exc}", wall_seconds=time.perf_counter() - started)
    val_acc = list(getattr(history, "val_acc", None) or [])
    final_val = val_acc[-1] if val_acc else None
    if data.validation is not None and final_val is None:
        final_val = float(net.accuracy(*data.validation))
    result = outcome(history, val_acc, final_val, b)
    result["wall_seconds"] = time.perf_counter() - started
    return result
