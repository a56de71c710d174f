"""Faults: killed training runs, failing saves, and what is left on disk afterwards."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import bound, exit_status, read_state_file, run_bounded

import xpnet

ROOT = Path(__file__).parents[1]


def blobs(n=200, d=6, c=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=n)
    x = rng.normal(0.0, 0.3, size=(n, d)) + np.eye(c, d)[labels] * 2
    return xpnet.asarray(x, dtype="float32"), xpnet.asarray(
        labels, dtype=xpnet.backend.index_dtype(xpnet.get_backend().xp, xpnet.get_backend().device)
    )


def checkpoint_is_whole(path: Path) -> bool:
    """The file opens without pickle and its metadata parses."""
    meta, _ = read_state_file(path)
    return meta["kind"] == "checkpoint" and set(meta["training"]) >= {"iteration", "settings"}


# --- failing saves ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "error"),
    [
        ("numpy.savez", OSError(errno.ENOSPC, "No space left on device")),
        ("tempfile.mkstemp", PermissionError(errno.EACCES, "Permission denied")),
        ("os.replace", OSError(errno.EIO, "Input/output error")),
    ],
)
@pytest.mark.reliability("faults")
def test_failed_checkpoint_save_keeps_the_previous_one(
    backend, tmp_path, monkeypatch, where, error
) -> None:
    data = blobs()
    path = tmp_path / "state.npz"
    net = xpnet.TwoLayerNet(6, 8, 3, seed=0)
    xpnet.train(
        net, data, iters=10, batch_size=10, eval_every=5, seed=0, checkpoint=path, verbose=0
    )
    before = path.read_bytes()
    module_name, attr = where.split(".")
    module = {"numpy": np, "tempfile": tempfile, "os": os}[module_name]

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(module, attr, fail)
    with pytest.raises(OSError, match=error.strerror):
        xpnet.train(
            xpnet.TwoLayerNet(6, 8, 3, seed=1),
            data,
            iters=20,
            batch_size=10,
            eval_every=5,
            seed=0,
            checkpoint=path,
            overwrite=True,
            verbose=0,
        )
    monkeypatch.undo()
    assert path.read_bytes() == before and checkpoint_is_whole(path)
    assert sorted(os.listdir(tmp_path)) == ["state.npz"]  # no temporary file left


@pytest.mark.reliability("faults")
def test_stale_temporaries_are_cleared_on_the_next_run(backend, tmp_path) -> None:
    path = tmp_path / "state.npz"
    (tmp_path / ".state.npz.abc_1234.tmp").write_bytes(b"half a checkpoint")
    xpnet.train(
        xpnet.TwoLayerNet(6, 8, 3, seed=0),
        blobs(),
        iters=4,
        batch_size=10,
        seed=0,
        checkpoint=path,
        verbose=0,
    )
    assert sorted(os.listdir(tmp_path)) == ["state.npz"]


# --- SIGKILL at random moments, then --resume ---------------------------------------------


def _train_cmd(mnist_dir: Path, checkpoint: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "xpnet", "train", "--quiet", "--backend", "numpy", "--iters", "120",
        "--eval-every", "12", "--hidden", "50", "--seed", "3", "--data-dir", str(mnist_dir),
        "--checkpoint", str(checkpoint), *extra,
    ]  # fmt: skip


def _kill_during_write(proc: subprocess.Popen, folder: Path) -> bool:
    """SIGKILL as soon as a checkpoint temporary appears; True if it was left half-written.

    Waits for that event (or for the run to end without one), under a bound against hangs.
    """
    deadline = time.monotonic() + bound(300)
    while proc.poll() is None:
        assert time.monotonic() < deadline, "the run neither wrote a checkpoint nor ended"
        if any(p.name.endswith(".tmp") for p in folder.iterdir()):
            proc.send_signal(signal.SIGKILL)
            exit_status(proc)
            return any(p.name.endswith(".tmp") for p in folder.iterdir())
        time.sleep(0.0002)
    return False


@pytest.mark.mnist
@pytest.mark.slow(reason="21 `xpnet train` processes on real MNIST, 20 of them killed")
@pytest.mark.reliability("faults")
def test_sigkill_and_resume_give_the_uninterrupted_result(
    backend, mnist_dir, tmp_path, record_property
) -> None:
    """`xpnet train` killed with SIGKILL 20 times, then --resume: identical to an uninterrupted run."""
    if backend.name != "numpy":
        pytest.skip("the command-line trials run on NumPy (bit-for-bit comparison)")
    reference = tmp_path / "reference.npz"
    run_bounded(_train_cmd(mnist_dir, reference), check=True)
    expected = read_state_file(reference)[1]
    rng = random.Random(0)
    during_write = 0
    trials = 20
    for trial in range(trials):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        path = folder / "state.npz"
        proc = subprocess.Popen(
            _train_cmd(mnist_dir, path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # The sleeps choose when the fault strikes (a random moment), they wait for nothing.
        if trial % 2:  # half the trials: kill in the middle of a checkpoint write
            time.sleep(rng.uniform(0.0, 1.0))
            during_write += _kill_during_write(proc, folder)
        else:
            time.sleep(rng.uniform(0.3, 2.5))
            proc.send_signal(signal.SIGKILL)
        exit_status(proc)
        if path.exists():
            assert checkpoint_is_whole(path), f"trial {trial}: corrupt checkpoint"
        run_bounded(_train_cmd(mnist_dir, path, "--resume"), check=True)
        got = read_state_file(path)[1]
        for key in ("net.W1", "net.b1", "net.W2", "net.b2", "history.train_loss"):
            np.testing.assert_array_equal(got[key], expected[key], err_msg=f"trial {trial}: {key}")
        assert sorted(p.name for p in folder.iterdir()) == ["state.npz"]
    record_property("trials", trials)
    record_property("killed during a checkpoint write", during_write)
    # Kills that left a temporary file behind really interrupted a write.
    assert during_write >= 3, f"only {during_write} kills landed during a checkpoint write"


@pytest.mark.reliability("data loss")
@pytest.mark.parametrize("name", ["ck[12].npz", "*", "state.npz"])
def test_stale_cleanup_touches_only_this_checkpoints_temporaries(backend, tmp_path, name) -> None:
    """Glob characters in a checkpoint name match literally; other files' temporaries stay."""
    others = [".ck1.npz.abcd1234.tmp", ".other.npz.abcd1234.tmp", ".state.npz.x.abcd1234.tmp"]
    for other in others:
        (tmp_path / other).write_bytes(b"another writer's temporary")
    xpnet.train(
        xpnet.TwoLayerNet(6, 8, 3, seed=0), blobs(), iters=2, batch_size=10, seed=0,
        checkpoint=tmp_path / name, verbose=0,
    )  # fmt: skip
    assert sorted(os.listdir(tmp_path)) == sorted([*others, name])
