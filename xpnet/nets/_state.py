"""One file format for saved networks and training checkpoints.

A state file is an uncompressed ``.npz`` archive (plain arrays, never pickle):

=================  ==============================================================
member             content
=================  ==============================================================
``meta``           UTF-8 JSON as a uint8 array: ``{"format": "xpnet", "version": 2,
                   "kind": "network" | "checkpoint", "network": <get_config()>, …}``
``net.<name>``     the network's arrays (:meth:`state_arrays`): parameters and any
                   running statistics
anything else      what the writer adds; training adds ``optim.<name>`` (optimizer
                   state) and ``history.<name>`` (losses and accuracies as arrays)
=================  ==============================================================

``net.save(path)`` writes kind "network"; a checkpoint is the same file with
more members, so ``TwoLayerNet.load("checkpoint.npz")`` reads the network out
of a checkpoint. Reading checks everything before reading any data: member
names, shapes and dtypes from the ``.npy`` headers against what the declared
network (and the caller) expects, that the arrays fit in memory, then finite
values. Arrays stored big-endian load in the machine's own byte order. Files
written by xpnet 0.1 (format 1) still load as networks.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _memory
from .._io import atomic_write, npz_members, read_npz
from .._typing import Array, Params
from ..backend import Backend, asarray, check_memory, resolve_backend, to_numpy
from ..errors import CheckpointError, XpnetError, XpnetValueError

__all__ = [
    "FORMAT",
    "VERSION",
    "Saved",
    "Spec",
    "StateFile",
    "load_state",
    "read_meta",
    "save_state",
]

FORMAT = "xpnet"
VERSION = 2
#: The metadata is small; a larger ``meta`` member is not one of ours.
MAX_META_BYTES = 1 << 20

#: Name -> (shape, dtype name) of the arrays a file must hold.
Spec = dict[str, tuple[tuple[int, ...], str]]


@dataclass
class StateFile:
    """What :func:`load_state` read: the metadata, the network's arrays, the rest."""

    meta: dict[str, Any]
    network: dict[str, np.ndarray]
    extra: dict[str, np.ndarray]


def save_state(
    path: str | os.PathLike[str],
    net: Any,
    *,
    kind: str = "network",
    meta: dict[str, Any] | None = None,
    arrays: dict[str, Array] | None = None,
    name: str = "path",
) -> None:
    """Write `net` (and a caller's extra `meta` and `arrays`) to `path`, atomically."""
    doc = {"format": FORMAT, "version": VERSION, "kind": kind, "network": net.get_config()}
    doc.update(meta or {})
    data: dict[str, Any] = {"meta": np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)}
    data.update({f"net.{key}": to_numpy(value) for key, value in net.state_arrays().items()})
    data.update({key: to_numpy(value) for key, value in (arrays or {}).items()})
    atomic_write(path, lambda file: np.savez(file, **data), name=name)


def load_state(
    path: str | os.PathLike[str],
    network: type | None,
    *,
    extra_spec: Callable[[dict[str, Any]], Spec] | None = None,
    only: bool = False,
) -> StateFile:
    """Read a state file written for a `network` class, checking it before reading its arrays.

    Parameters
    ----------
    path : path
    network : class or None
        The network class the file must declare; its ``state_spec(config)``
        says which ``net.*`` arrays the file must hold. None skips the
        network (nothing of it is read), for a caller that wants the rest.
    extra_spec : callable, optional
        ``meta -> Spec`` of every other member the caller expects; without it,
        a file with other members (a checkpoint) is read for its network only.
    only : bool
        Read only the members `extra_spec` names (and the network's), whatever
        else the file holds: a checkpoint's history, say, without its
        optimizer state.

    Raises
    ------
    CheckpointError
        Naming the file and what is wrong.
    """
    where = os.fspath(path)
    members = npz_members(path)
    meta, renames = _read_meta(path, members)
    spec = {} if network is None else _network_spec(where, meta["network"], network)
    expected = {f"net.{key}": value for key, value in spec.items()}
    found = {renames.get(key, key): value for key, value in members.items()}
    found.pop("meta")
    if network is None:
        found = {key: value for key, value in found.items() if not key.startswith("net.")}
    if extra_spec is None:
        found = {key: value for key, value in found.items() if key.startswith("net.")}
    else:
        expected.update(extra_spec(meta))
    if only:
        found = {key: value for key, value in found.items() if key in expected}
    _check_members(where, found, expected)
    needed = sum(math.prod(shape) * dtype.itemsize for shape, dtype in found.values())
    _memory.check_fits(
        needed, _memory.host_memory(), f"{where}: reading its arrays", "on this machine",
        error=CheckpointError,
    )  # fmt: skip
    source = {value: key for key, value in renames.items()}
    arrays = read_npz(path, [source.get(key, key) for key in expected])
    arrays = {renames.get(key, key): value for key, value in arrays.items()}
    for key in spec:
        if not np.all(np.isfinite(arrays[f"net.{key}"])):
            raise CheckpointError(f"{where}: `{key}` holds NaN or infinity; the file is damaged.")
    network_arrays = {key: arrays.pop(f"net.{key}") for key in spec}
    return StateFile(meta=meta, network=network_arrays, extra=arrays)


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of a state file, checked (format, version), without reading its arrays."""
    return _read_meta(path, npz_members(path))[0]


def _network_spec(where: str, config: dict[str, Any], network: type) -> Spec:
    if config.get("class") != network.__name__:
        raise CheckpointError(
            f"{where}: holds a {config.get('class')!r}, not a {network.__name__}."
        )
    try:
        return network.state_spec(config)  # type: ignore[attr-defined]
    except XpnetError as exc:
        raise CheckpointError(f"{where}: the declared network is invalid: {exc}") from None


def _check_members(where: str, found: dict[str, Any], expected: Spec) -> None:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{where}: expected arrays {sorted(expected)}; missing {missing}, "
            f"unexpected {unexpected}."
        )
    for key, (shape, dtype) in expected.items():
        got_shape, got_dtype = found[key]
        if got_shape != tuple(shape) or got_dtype != np.dtype(dtype):
            raise CheckpointError(
                f"{where}: `{key.removeprefix('net.')}` must be {dtype} of shape {tuple(shape)} "
                f"for the declared network. Received: {got_dtype} of shape {got_shape}."
            )


def _read_meta(
    path: str | os.PathLike[str], members: dict[str, tuple[tuple[int, ...], np.dtype]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The metadata, and member renames that bring a format-1 file to today's names."""
    where = os.fspath(path)
    shape, dtype = members.get("meta", ((), np.dtype("V0")))
    if dtype.kind == "U" or "architecture" in members:
        return _read_format_1(path, members)
    if "meta" not in members or dtype != np.uint8 or len(shape) != 1:
        raise CheckpointError(f"{where}: not an xpnet file (no xpnet metadata).")
    if shape[0] > MAX_META_BYTES:
        raise CheckpointError(f"{where}: not an xpnet file (metadata of {shape[0]} bytes).")
    raw = read_npz(path, ["meta"])["meta"].tobytes()
    try:
        meta = json.loads(raw.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{where}: damaged xpnet metadata ({exc}).") from None
    if not (isinstance(meta, dict) and meta.get("format") == FORMAT):
        raise CheckpointError(f"{where}: not an xpnet file (no xpnet metadata).")
    if meta.get("version") != VERSION:
        raise CheckpointError(
            f"{where}: written in xpnet file format {meta.get('version')!r}; this xpnet reads "
            f"format {VERSION} (and 1). Upgrade xpnet to read it."
        )
    if not isinstance(meta.get("network"), dict):
        raise CheckpointError(f"{where}: damaged xpnet metadata (no network description).")
    return meta, {}


def _read_format_1(
    path: str | os.PathLike[str], members: dict[str, tuple[tuple[int, ...], np.dtype]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """xpnet 0.1's files: a network (architecture + W1…) or a checkpoint (meta + param.*)."""
    where = os.fspath(path)
    key = "architecture" if "architecture" in members else "meta"
    _, dtype = members[key]
    if dtype.kind != "U" or dtype.itemsize > MAX_META_BYTES:
        raise CheckpointError(f"{where}: not an xpnet file (unreadable `{key}`).")
    try:
        doc = json.loads(str(read_npz(path, [key])[key]))
        config = dict(doc if key == "architecture" else doc["architecture"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{where}: not an xpnet file (damaged `{key}`: {exc}).") from None
    config.pop("format_version", None)
    kind = "network" if key == "architecture" else "checkpoint"
    meta = {"format": FORMAT, "version": 1, "kind": kind, "network": config}
    prefix = "" if kind == "network" else "param."
    renames = {
        name: "net." + name.removeprefix(prefix)
        for name in members
        if name != key and (kind == "network" or name.startswith(prefix))
    }
    renames[key] = "meta"
    return meta, renames


def _check_arrays(arrays: dict[str, Any], spec: Spec) -> None:
    """Refuse arrays whose names or shapes are not the network's, before any is assigned."""
    missing = sorted(set(spec) - set(arrays))
    unexpected = sorted(set(arrays) - set(spec))
    if missing or unexpected:
        raise XpnetValueError(
            f"`arrays` must hold exactly {sorted(spec)}. "
            f"Received: missing {missing}, unexpected {unexpected}."
        )
    for name, (shape, _) in spec.items():
        got = tuple(getattr(arrays[name], "shape", ()))
        if got != tuple(shape):
            raise XpnetValueError(
                f"`arrays[{name!r}]` must have shape {tuple(shape)}. Received: shape {got}."
            )


_ITEMSIZE = {"float16": 2, "float32": 4, "float64": 8, "int32": 4}


class Saved:
    """What every network has once for its state: its arrays, save, load, memory checks.

    A network supplies ``params``, ``buffers``, ``backend``, ``dtype``,
    ``get_config()``, ``state_spec(config)`` and ``from_config(config, backend=)``.
    """

    params: dict[str, Any]
    buffers: dict[str, Any]
    backend: Any
    dtype: Any
    _param_names: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def state_spec(cls, config: dict[str, Any]) -> Spec:
        raise NotImplementedError

    def _check_memory(self, spec: Spec, what: str, hint: str) -> None:
        """Refuse, before anything is allocated, arrays that cannot fit (with their bytes)."""
        sizes = [math.prod(shape) * _ITEMSIZE.get(dtype, 8) for shape, dtype in spec.values()]
        check_memory(self.backend, sizes, what, hint=hint)

    def state_arrays(self) -> Params:
        """Every array the network saves: its parameters, then its buffers."""
        return {**self.params, **self.buffers}

    def set_state_arrays(self, arrays: dict[str, Any]) -> None:
        """Copies of host arrays (checked against :meth:`state_spec`) as parameters and buffers.

        Copies: eager training updates a network's arrays in place, which
        must not reach the arrays given here. Every name and shape is checked
        before anything is assigned (the dtype is cast to the network's).

        Raises
        ------
        XpnetValueError
            Naming the array, the shape expected and the one received, or
            the names missing and unexpected; the network is unchanged.
        """
        spec = self.state_spec(self.get_config())
        _check_arrays(arrays, spec)
        values = {
            name: asarray(np.array(to_numpy(arrays[name])), dtype=dtype, backend=self.backend)
            for name, (_, dtype) in spec.items()
        }
        self.params = {name: values[name] for name in self._param_names}
        self.buffers = {name: values[name] for name in spec if name not in self.params}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the network to one ``.npz`` file, atomically (no pickle).

        An existing file at `path` is replaced, as the book's ``save_params``
        does (training checkpoints, unlike this, are never replaced without
        ``overwrite=True``); a crash leaves the old file or the new one,
        never half of either. It loads on any backend with :meth:`load`.
        """
        save_state(path, self)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        backend: str | Backend | None = None,
        device: Any = None,
    ) -> Any:
        """Read a network written by :meth:`save` (or the network of a checkpoint).

        Everything is checked before a network is made: the declared
        architecture, each array's name, shape and dtype (from the file's
        headers, before reading data), and finite values.
        """
        state = load_state(path, cls)
        net = cls.from_config(state.meta["network"], backend=resolve_backend(backend, device))
        net.set_state_arrays(state.network)
        return net

    @classmethod
    def from_config(cls, config: dict[str, Any], *, backend: Backend) -> Any:
        """A network of `config`'s shape whose arrays are still to be set (``set_state_arrays``)."""
        raise NotImplementedError
