"""Assertions shared by the tests (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import ast
import contextlib
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import array_api_compat
import numpy as np

import xpnet
from xpnet.backend import Backend, to_numpy

#: Relative tolerance for values computed in each dtype.
RTOL = {"float64": 1e-10, "float32": 1e-5, "float16": 1e-2}


def dtype_name(xp: Any, dtype: Any) -> str:
    """'float32' for namespace `xp`'s float32 dtype object."""
    for name in ("float64", "float32", "float16", "int64", "int32", "uint8", "bool"):
        if getattr(xp, name, None) == dtype:
            return name
    raise AssertionError(f"unexpected dtype {dtype}")


def assert_array(actual: Any, *, backend: Backend, dtype: Any, shape: tuple[int, ...]) -> None:
    """Check that `actual` is an array of `backend`'s namespace and device, `dtype` and `shape`."""
    assert array_api_compat.array_namespace(actual) is backend.xp, type(actual)
    assert str(xpnet.backend.device(actual)) == str(backend.device)
    assert actual.dtype == dtype, (actual.dtype, dtype)
    assert tuple(actual.shape) == tuple(shape), (actual.shape, shape)


def assert_close(
    actual: Any,
    expected: Any,
    *,
    backend: Backend,
    dtype: Any,
    rtol: float | None = None,
    atol: float = 0.0,
) -> None:
    """Check namespace, device, dtype and shape, then the values."""
    expected = np.asarray(expected)
    assert_array(actual, backend=backend, dtype=dtype, shape=expected.shape)
    tol = RTOL.get(dtype_name(backend.xp, dtype), 0.0) if rtol is None else rtol
    np.testing.assert_allclose(to_numpy(actual), expected, rtol=tol, atol=atol)


def read_state_file(path: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """An xpnet state file (network or checkpoint): its metadata and all its arrays."""
    import json

    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    return json.loads(arrays.pop("meta").tobytes().decode()), arrays


def write_state_file(path: Any, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write a state file from (possibly tampered) metadata and arrays, as xpnet lays it out."""
    import json

    meta_bytes = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as file:
        np.savez(file, meta=meta_bytes, **arrays)


def declare_shape(raw: bytes, member: str, shape: tuple[int, ...]) -> bytes:
    """An .npz's bytes with the ``.npy`` header of `member` declaring `shape`, data unchanged.

    The header is rewritten within its own padding and the archive rebuilt
    with correct checksums: only what the header claims is wrong.
    """
    with zipfile.ZipFile(io.BytesIO(raw)) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    data = members[f"{member}.npy"]
    start, end = data.index(b"{"), data.index(b"\n")
    header = ast.literal_eval(data[start:end].decode())
    new = repr({**header, "shape": shape}).encode()
    assert len(new) <= end - start, "no room in the header's padding"
    members[f"{member}.npy"] = data[:start] + new.ljust(end - start) + data[end:]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


@contextlib.contextmanager
def sigint_reaches_children() -> Iterator[None]:
    """Children started in the block get SIGINT's default action, as from a terminal.

    A shell starts background jobs with SIGINT ignored, and an ignored signal
    stays ignored across exec (Python then keeps it so): a suite run in the
    background (``nohup nox &``) would see its children ignore the test's
    Ctrl-C. A handled signal is reset to the default at exec, so the block
    handles it here, without a ``preexec_fn`` (a fork, which JAX warns about).
    """
    import signal

    old = signal.getsignal(signal.SIGINT)
    if old == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
