"""Assertions shared by the tests (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import ast
import contextlib
import io
import os
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import array_api_compat
import numpy as np

import xpnet
from xpnet.backend import Backend, to_numpy

T = TypeVar("T")

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


# --- waiting on events, under bounds that scale with the machine ---------------------------
# A test waits for what it means (a file appears, a line is printed, a process
# exits), never for a fixed time. Each wait still has a bound, so that a hung
# process fails the test instead of the whole run; the bounds are far above
# what a quiet machine needs, and XPNET_TEST_TIMEOUT_SCALE multiplies them
# (and the 20 s budget of an unmarked test) on a machine slower than that.


def timeout_scale() -> float:
    """``XPNET_TEST_TIMEOUT_SCALE`` (default 1): how much slower than a quiet 2-core machine."""
    raw = os.environ.get("XPNET_TEST_TIMEOUT_SCALE", "1")
    try:
        scale = float(raw)
    except ValueError:
        scale = 0.0
    if not scale > 0:
        raise ValueError(f"XPNET_TEST_TIMEOUT_SCALE must be a positive number, not {raw!r}")
    return scale


def bound(seconds: float) -> float:
    """`seconds` scaled by :func:`timeout_scale`: the most a test waits for one event."""
    return seconds * timeout_scale()


def _exited(process: subprocess.Popen[Any]) -> str:
    """What a process that ended too early said, for the assertion message."""
    out, err = process.communicate()
    said = err or out or ""
    said = said.decode(errors="replace") if isinstance(said, bytes) else said
    return f"the process exited with status {process.returncode}: {said[-2000:]!r}"


def wait_until(
    condition: Callable[[], T],
    what: str,
    *,
    within: float = 300.0,
    process: subprocess.Popen[Any] | None = None,
) -> T:
    """Poll `condition` until it returns something true, and return that.

    Fails (``AssertionError`` naming `what`) when `process` ends first, or after
    ``bound(within)`` seconds: a bound against hangs, not a timing.
    """
    deadline = time.monotonic() + bound(within)
    pause = 0.001
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"waiting for {what}: {_exited(process)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"waiting for {what}: not within {bound(within):.0f} s")
        time.sleep(pause)
        pause = min(2 * pause, 0.05)


def finish(process: subprocess.Popen[Any], *, within: float = 300.0) -> tuple[Any, Any]:
    """`process`'s (stdout, stderr) once it exits; killed, and the test failed, after the bound."""
    pipes = (process.stdin, process.stdout, process.stderr)
    if process.poll() is not None and all(p is None or p.closed for p in pipes):
        return None, None  # already waited for and read (by wait_until's message)
    try:
        return process.communicate(timeout=bound(within))
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(
            f"{process.args!r} did not exit within {bound(within):.0f} s (killed)"
        ) from None


def exit_status(process: subprocess.Popen[Any], *, within: float = 300.0) -> int:
    """`process`'s exit status once it exits; killed, and the test failed, after the bound.

    For a process whose pipes are closed or read elsewhere (else :func:`finish`).
    """
    try:
        return process.wait(timeout=bound(within))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(
            f"{process.args!r} did not exit within {bound(within):.0f} s (killed)"
        ) from None


def run_bounded(
    argv: list[str], *, within: float = 300.0, **kwargs: Any
) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run(argv, **kwargs)`` with a scaled bound (the child is killed past it)."""
    try:
        return subprocess.run(argv, timeout=bound(within), **kwargs)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{argv!r} did not exit within {bound(within):.0f} s") from None
