"""Fuzzing the files xpnet reads: checkpoints, IDX files and ``--json`` summaries.

Real files are mutated byte by byte (a byte flipped, the file cut short, bytes
inserted; up to three mutations) and read back. Whatever the damage, the
reader either succeeds or raises an :class:`~xpnet.errors.XpnetError` (one
line on the command line), never another exception; and it never allocates
much more than the file's own size (tracemalloc counts NumPy's buffers), so a
mutated header cannot make it allocate what the header claims.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers import declare_shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xpnet
from xpnet.backend import index_dtype
from xpnet.cli._commands import _read_json_history
from xpnet.datasets import MnistError, read_idx
from xpnet.errors import XpnetError
from xpnet.training import load_history

#: Peak bytes a reader may allocate for one of these small files.
MEMORY_BOUND = 8 << 20

fuzz = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "truncate", "insert"]),
        st.floats(0, 1, exclude_max=True),  # where, as a fraction of the length
        st.binary(min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=3,
)


def mutate(raw: bytes, changes: list[tuple[str, float, bytes]]) -> bytes:
    for kind, where, data in changes:
        at = int(where * len(raw)) if raw else 0
        if kind == "flip":
            if raw:
                raw = raw[:at] + bytes([raw[at] ^ (data[0] or 1)]) + raw[at + 1 :]
        elif kind == "truncate":
            raw = raw[:at]
        else:
            raw = raw[:at] + data + raw[at:]
    return raw


def clean_or_xpnet_error(call: Callable[[], Any]) -> int:
    """Run `call`: success or an XpnetError; return the peak bytes it allocated."""
    tracemalloc.start()
    try:
        call()
    except XpnetError as exc:
        assert str(exc).strip(), "an empty message"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# --- checkpoints --------------------------------------------------------------------------


def blobs(backend):
    rng = np.random.default_rng(0)
    x = rng.random((30, 6)).astype(np.float32)
    t = np.arange(30) % 3
    return xpnet.asarray(x), xpnet.asarray(t, dtype=index_dtype(backend.xp, backend.device))


RUN = dict(iters=4, batch_size=5, eval_every=2, seed=0, verbose=0)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("ckpt") / "state.npz"
    with xpnet.use_backend("numpy"):
        x, t = blobs(xpnet.get_backend())
        xpnet.train(xpnet.TwoLayerNet(6, 4, 3, seed=0), (x, t), (x, t), checkpoint=path, **RUN)
    return path.read_bytes()


@pytest.mark.reliability("bad input (fuzzed)")
@fuzz
@given(changes=mutations)
def test_mutated_checkpoints(backend, tmp_path, checkpoint, changes) -> None:
    """A checkpoint with bytes flipped, cut or inserted: loaded, read and resumed cleanly."""
    path = tmp_path / "state.npz"
    path.write_bytes(mutate(checkpoint, changes))
    data = blobs(backend)

    def resume() -> None:
        net = xpnet.TwoLayerNet(6, 4, 3, seed=1)
        xpnet.train(net, data, data, checkpoint=path, resume=True, **RUN)

    for read in (lambda: xpnet.TwoLayerNet.load(path), lambda: load_history(path), resume):
        assert clean_or_xpnet_error(read) < MEMORY_BOUND
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.npz"]


# --- IDX files ----------------------------------------------------------------------------


def idx(magic: int, count: int) -> bytes:
    dims = (count, 28, 28) if magic == 2051 else (count,)
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    values = np.random.default_rng(0).integers(0, 256 if magic == 2051 else 10, size=dims)
    return header + values.astype(np.uint8).tobytes()


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input (fuzzed)")
@fuzz
@given(
    changes=mutations,
    magic=st.sampled_from([2049, 2051]),
    compressed=st.booleans(),
    mutate_after_gzip=st.booleans(),
)
def test_mutated_idx_files(tmp_path, changes, magic, compressed, mutate_after_gzip) -> None:
    """An IDX file (raw or gzip, mutated before or after compression) parses or is an MnistError."""
    raw = idx(magic, 3)
    if compressed:
        raw = gzip.compress(raw if mutate_after_gzip else mutate(raw, changes), mtime=0)
        raw = mutate(raw, changes) if mutate_after_gzip else raw
    else:
        raw = mutate(raw, changes)
    path = tmp_path / ("file.gz" if compressed else "file")
    path.write_bytes(raw)

    def read() -> None:
        try:
            array = read_idx(path, magic, 3)
        except MnistError as exc:
            assert str(path) in str(exc).splitlines()[0]
            raise
        assert array.shape == ((3, 28, 28) if magic == 2051 else (3,)) and array.dtype == np.uint8

    assert clean_or_xpnet_error(read) < MEMORY_BOUND


# --- --json summaries ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def summary() -> bytes:
    history = xpnet.History(
        train_loss=[2.31, 2.2, 1.9, 1.7, 1.5], eval_iters=[0, 2, 4],
        train_acc=[0.1, 0.42, 0.6], test_acc=[0.12, 0.4, 0.58], seconds=1.25,
    )  # fmt: skip
    data = {"backend": "numpy", "iters": 5, "train_acc": 0.6, "history": history.to_dict()}
    return json.dumps(data, indent=1).encode()


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input (fuzzed)")
@fuzz
@given(changes=mutations)
def test_mutated_json_summaries(tmp_path, summary, changes) -> None:
    """A summary of `xpnet train --json`, mutated: its history reads back, or a DataError naming it."""
    path = tmp_path / "summary.json"
    path.write_bytes(mutate(summary, changes))

    def read() -> None:
        try:
            history = _read_json_history(str(path))
        except XpnetError as exc:
            assert f"--json {path}" in str(exc)
            raise
        assert len(history.train_acc) == len(history.eval_iters)
        assert all(np.isfinite(history.train_loss))

    assert clean_or_xpnet_error(read) < MEMORY_BOUND


@pytest.mark.backend_independent
def test_the_mutations_do_what_they_say() -> None:
    assert mutate(b"abcd", [("flip", 0.5, b"\x01")]) == b"abbd"
    assert mutate(b"abcd", [("truncate", 0.5, b"x")]) == b"ab"
    assert mutate(b"abcd", [("insert", 0.25, b"xy")]) == b"axybcd"
    assert mutate(b"", [("flip", 0.0, b"x"), ("insert", 0.0, b"z")]) == b"z"


@pytest.mark.backend_independent
def test_a_declared_terabyte_is_not_allocated(tmp_path, checkpoint) -> None:
    """A header declaring 10**12 values for W1 in a 3 kB file: refused, under 1 MB allocated."""
    path = tmp_path / "huge.npz"
    path.write_bytes(declare_shape(checkpoint, "net.W1", (10**12,)))
    peak = clean_or_xpnet_error(lambda: xpnet.TwoLayerNet.load(path))
    assert peak < 1 << 20
    with pytest.raises(XpnetError, match="declares 4,000,000,000,000 bytes of data but holds 96"):
        xpnet.TwoLayerNet.load(path)


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input (fuzzed)")
@pytest.mark.parametrize(
    ("field", "value"),
    [("flags", 1 << 0), ("flags", 1 << 5), ("flags", 1 << 6), ("method", 99), ("method", 14)],
    ids=["encrypted", "patched", "strong encryption", "AES", "LZMA"],
)
def test_zip_flags_and_methods_are_clean_errors(tmp_path, checkpoint, field, value) -> None:
    """What one flipped byte in the zip directory can announce: encryption, unknown methods.

    (zipfile reads these from the central directory and ignores the local headers'.)
    """
    raw = bytearray(checkpoint)
    at = raw.index(b"PK\x01\x02") + {"flags": 8, "method": 10}[field]
    raw[at : at + 2] = (int.from_bytes(raw[at : at + 2], "little") | value).to_bytes(2, "little")
    path = tmp_path / "state.npz"
    path.write_bytes(bytes(raw))
    for read in (lambda: xpnet.TwoLayerNet.load(path), lambda: load_history(path)):
        with pytest.raises(XpnetError, match=str(path)):
            read()


# --- sweep stores -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory) -> Any:
    """A real store of two finished runs (one per learning rate); its bytes (a small object,
    as hypothesis shows the arguments of a failing example)."""
    from xpnet.sweep import sweep

    path = tmp_path_factory.mktemp("store") / "s.db"
    rng = np.random.default_rng(0)
    x = rng.random((30, 6)).astype(np.float32)
    t = np.arange(30) % 3
    sweep({"lr": [0.1, 1.0]}, train_data=(x, t), store=path, client="serial", verbose=0,
          hidden=4, iters=4, batch_size=5, eval_every=2, backend="numpy")  # fmt: skip
    return lambda: path.read_bytes()


@pytest.mark.backend_independent
@pytest.mark.reliability("sweep store")
@fuzz
@given(changes=mutations)
def test_mutated_sweep_stores(tmp_path, sweep_store, changes) -> None:
    """A sweep store with bytes flipped, cut or inserted: read (runs checked), reported, drawn and
    opened for a sweep cleanly, or refused with an XpnetError; never another exception."""
    from xpnet.cli import main
    from xpnet.sweep import read_runs
    from xpnet.sweep.store import Store

    path = tmp_path / "s.db"
    for old in tmp_path.iterdir():  # the last example's store and its -wal/-shm files
        old.unlink()
    path.write_bytes(mutate(sweep_store(), changes))

    def read() -> None:
        for run in read_runs(path):
            assert run.status in ("running", "done", "failed") and isinstance(run.settings, dict)
            assert all(0.0 <= a <= 1.0 for a in run.train_acc + run.test_acc)

    def store() -> None:
        with Store(path) as db:
            db.records()

    assert clean_or_xpnet_error(read) < MEMORY_BOUND
    assert clean_or_xpnet_error(store) < MEMORY_BOUND
    for argv in (["sweep", "report", "--store", str(path)],
                 ["plot", "sweep", "--store", str(path), "--out", str(tmp_path / "f.png")]):  # fmt: skip
        assert main(argv) in (0, 1, 2)
