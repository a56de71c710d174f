"""The record that describes one array library to xpnet, and helpers its modules share."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._typing import Array, Device, Namespace
from ..errors import BackendError

__all__ = [
    "Compiler",
    "Library",
    "Precision",
    "default_has_float64",
    "global_setting",
    "no_natives",
    "plain_perturbation",
    "split_index",
]


def default_has_float64(xp: Namespace, device: Device) -> bool:
    """What the namespace's inspection API says about float64 on `device`."""
    info = xp.__array_namespace_info__()
    return "float64" in info.dtypes(device=device, kind="real floating")


@contextlib.contextmanager
def plain_perturbation(x: Array) -> Iterator[Array]:
    """Most libraries: write into `x` itself; nothing records the writes."""
    yield x


def _no_notes() -> str:
    return ""


def _nothing() -> None:
    return None


def no_natives() -> dict[str, Callable[..., Any]]:
    """A library without native versions of xpnet's functions: the portable forms serve."""
    return {}


@dataclass(frozen=True)
class Compiler:
    """How one library compiles training: what ``train(compile=True)`` uses.

    A compiler gets the training body ``body(state, x, t, index) -> (state,
    loss)`` (one mini-batch gathered from the whole data `x`, `t` by the index
    array `index`, then one pure step; `state` is a tuple of dicts of arrays,
    ``(params, buffers, opt_state)``) and wraps it in exactly one of two ways:

    * `loop` compiles a whole chunk of iterations into one call,
      ``run(state, x, t, batches, start, stop) -> (state, losses)``: rows
      ``start .. stop-1`` of `batches` (always
      :attr:`xpnet.random.BatchSampler.CHUNK` rows, so shapes never change),
      and a `losses` vector as long as `batches` whose entries ``start ..
      stop-1`` are the losses; it compiles once per run and shape, and moves
      nothing between host and device but its bounds;
    * `step` compiles the body itself, same signature; the Python loop calls it.

    Either way, what a call returns is the caller's: no later call overwrites
    it (a CUDA graph's replays reuse their outputs' memory, so a compiler
    that replays one returns copies).

    Attributes
    ----------
    name : str
        What the messages call it ("jax.jit", "torch.compile").
    auto : callable
        ``device -> bool``: whether ``compile="auto"`` uses it there, decided
        from measurements of the chapter's job, compile time included (see
        docs/compile.md).
    function : callable or None
        ``(fn, device) -> compiled fn``, for pure functions of arrays such as
        the accuracy of a network at given parameters; None where compiling
        them does not pay (they run eagerly).
    loop, step : callable or None
        ``(body, device) -> compiled``, as described above; one of them is set.
    own : callable
        ``(state, device) -> state``: the state a compiled call returned
        (a tuple of dicts of arrays), made the caller's own at the end of a
        chunk, for a compiler whose calls do not already hand back arrays of
        their own; the arrays themselves by default.
    """

    name: str
    auto: Callable[[Device], bool]
    function: Callable[[Callable[..., Any], Device], Callable[..., Any]] | None = None
    loop: Callable[[Callable[..., Any], Device], Callable[..., Any]] | None = None
    step: Callable[[Callable[..., Any], Device], Callable[..., Any]] | None = None
    own: Callable[[Any, Device], Any] = lambda tree, device: tree


@dataclass(frozen=True)
class Precision:
    """How one library sets the precision of its float32 matrix products.

    Levels are xpnet's words: "highest" (full float32) and "high" (TF32
    allowed: a 10-bit mantissa on the tensor cores of GPUs that have them);
    :func:`xpnet.backend.matmul_precision` applies them.

    Attributes
    ----------
    level : callable
        ``() -> str``: the current setting, "highest" or "high", or another
        of the library's own words ("default", "medium") that `setting` takes back.
    setting : callable
        ``level -> context manager``: inside it, the library's float32
        matrix products run at `level`; on leaving, the setting before it
        is back.
    """

    level: Callable[[], str]
    setting: Callable[[str], AbstractContextManager[None]]


def global_setting(
    get: Callable[[], str], put: Callable[[str], None]
) -> Callable[[str], AbstractContextManager[None]]:
    """A `Precision.setting` for a library with a process-wide setting: set, then restore."""

    @contextlib.contextmanager
    def setting(level: str) -> Iterator[None]:
        before = get()
        put(level)
        try:
            yield
        finally:
            put(before)

    return setting


@dataclass(frozen=True)
class Library:
    """Everything xpnet needs to know about one array library.

    Each ``backend/_<name>.py`` module defines one; ``_registry.py`` lists
    them. Functions that need the library import it when called, so
    ``import xpnet`` imports none of them.

    Attributes
    ----------
    name : str
        xpnet's name for the backend (``XPNET_BACKEND=…``, ``--backend …``).
    module : str
        The top-level module to import (its absence is reported with `extra`).
    extra : str
        What ``pip install`` installs it, e.g. ``"'xpnet[torch]'"``.
    namespace : str
        The module of its array-API namespace (array-api-compat's wrapper
        where the library needs one).
    parse_device : callable
        ``None | str | int -> device object``; raises BackendError for a
        malformed or unknown device, DeviceNotAvailableError for one this
        machine lacks.
    devices : callable
        ``() -> list of device strings`` usable on this machine.
    to_host : callable
        ``array -> numpy.ndarray`` (copies off a GPU).
    is_array : callable
        ``object -> bool``: whether it is one of this library's arrays.
    has_float64 : callable
        ``(namespace, device) -> bool``.
    free_memory : callable
        ``device -> int or None``: bytes free on an accelerator, None for the
        host's memory (the CPU, or a library that cannot tell).
    on_load : callable
        ``() -> None``, called whenever xpnet loads the library (so it must be
        idempotent): JAX turns on its 64-bit types here.
    notes : callable
        ``() -> str``: a line for ``xpnet info`` about the library's state
        (JAX: whether 64-bit types are on, and why); "" for none.
    perturbation : callable
        ``array -> context manager yielding the array to write into`` while
        ``numerical_gradient`` perturbs an array in place and restores it.
        Inside it nothing is recorded for automatic differentiation, and the
        writes leave no trace on the user's array (PyTorch: ``x.data`` under
        ``torch.no_grad()``, so ``requires_grad``, ``.grad`` and the version
        counter stay as they were).
    compiler : Compiler or None
        How ``train(compile=...)`` compiles training on it; None: no compiler.
    in_place : bool
        Whether eager training may update parameters and optimizer state in
        place (``W -= lr * dW``), as a hand-written loop does: arrays that are
        writable and whose writes nothing else records. Compiled steps stay
        pure whatever this says.
    natives : callable
        ``() -> {name: function}``: the library's own versions of functions
        outside the array API standard that xpnet computes portably otherwise
        (``"sigmoid"``, ``"softmax"``), with the same meaning and signature as
        xpnet's (``softmax(x, axis)``), and faster forms of standard ones for
        the arguments xpnet gives them (``"take"``: ``take(x, indices, axis)``
        with indices known to be non-negative). Called once, after the library
        is imported.
    precision : Precision or None
        How it sets the precision of float32 matrix products (TF32 or not);
        None for libraries that always compute in full float32 (NumPy,
        array-api-strict).
    """

    name: str
    module: str
    extra: str
    namespace: str
    parse_device: Callable[[Any], Device]
    devices: Callable[[], list[str]]
    to_host: Callable[[Array], np.ndarray]
    is_array: Callable[[Any], bool]
    has_float64: Callable[[Namespace, Device], bool] = default_has_float64
    free_memory: Callable[[Device], int | None] = lambda device: None
    on_load: Callable[[], None] = _nothing
    notes: Callable[[], str] = _no_notes
    perturbation: Callable[[Array], AbstractContextManager[Array]] = plain_perturbation
    compiler: Compiler | None = None
    in_place: bool = False
    natives: Callable[[], dict[str, Callable[..., Any]]] = no_natives
    precision: Precision | None = None


def split_index(spec: str, backend: str) -> tuple[str, int | None]:
    """``'cuda:1' -> ('cuda', 1)``; ``'cuda' -> ('cuda', None)``."""
    kind, colon, index = spec.partition(":")
    if colon and not index.isdigit():
        raise BackendError(
            f"Invalid device {spec!r} for backend {backend!r}: expected e.g. 'cuda' or 'cuda:0'."
        )
    return kind, int(index) if colon else None
