"""Output files behave as a user expects: symlinks, FIFOs, devices, permissions, failures."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import bound

import xpnet
from xpnet._io import _is_stream, atomic_write, check_output_path, same_file
from xpnet.cli import main
from xpnet.errors import OutputError


def write_bytes(data: bytes):
    return lambda file: file.write(data)


@pytest.mark.backend_independent
@pytest.mark.reliability("data loss")
def test_a_symlink_is_written_through(tmp_path) -> None:
    target = tmp_path / "real" / "out.json"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write(link, write_bytes(b"new"))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    assert sorted(os.listdir(target.parent)) == ["out.json"]  # the temporary went beside the target


@pytest.mark.reliability("data loss")
def test_net_save_and_checkpoints_keep_symlinks(backend, tmp_path) -> None:
    target = tmp_path / "target.npz"
    target.write_bytes(b"")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    net = xpnet.TwoLayerNet(4, 3, 2, seed=0)
    net.save(link)
    assert link.is_symlink() and xpnet.TwoLayerNet.load(target).get_config() == net.get_config()
    x = xpnet.asarray(np.random.default_rng(0).random((10, 4)), dtype="float32")
    t = xpnet.asarray(
        np.arange(10) % 2, dtype=xpnet.backend.index_dtype(backend.xp, backend.device)
    )
    xpnet.train(net, (x, t), iters=3, batch_size=5, checkpoint=link, overwrite=True, verbose=0)
    assert link.is_symlink() and target.stat().st_size > 0


@pytest.mark.backend_independent
@pytest.mark.reliability("data loss")
def test_a_fifo_is_streamed_to_not_replaced(tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    atomic_write(fifo, write_bytes(b"streamed"))
    reader.join(timeout=bound(60))
    assert received == [b"streamed"]
    assert stat.S_ISFIFO(fifo.stat().st_mode) and os.listdir(tmp_path) == ["pipe"]


@pytest.mark.backend_independent
@pytest.mark.reliability("data loss")
def test_a_character_device_is_written_to_not_replaced() -> None:
    """`--json /dev/stdout` and friends: never a rename over the device (as root it would succeed)."""
    devnull = Path(os.devnull)
    assert _is_stream(devnull)  # checked first: otherwise the write below would replace it
    before = devnull.stat()
    atomic_write(devnull, write_bytes(b"discarded"))
    after = devnull.stat()
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


@pytest.mark.backend_independent
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_honour_the_umask(tmp_path, umask, mode) -> None:
    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "new.json", write_bytes(b"{}"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == mode


@pytest.mark.backend_independent
def test_a_replaced_file_keeps_its_mode(tmp_path) -> None:
    path = tmp_path / "kept.json"
    path.write_bytes(b"old")
    path.chmod(0o640)
    atomic_write(path, write_bytes(b"new"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.read_bytes() == b"new"


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: "/proc/x.npz", "cannot create files in '/proc'"),
        (lambda tmp: tmp, "must be a file path, not a directory"),
        (lambda tmp: tmp / "missing" / "x.npz", "does not exist"),
        (lambda tmp: tmp / ("x" * 300 + ".npz"), "file systems allow 255"),
    ],
)
def test_output_locations_are_checked_before_any_work(tmp_path, make, message) -> None:
    with pytest.raises(OutputError, match=message):
        check_output_path(make(tmp_path), "--checkpoint")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_cli_refuses_an_unwritable_checkpoint_before_training(tmp_path, capsys) -> None:
    """Not after an hour of training: before MNIST is even read (the data folder is missing)."""
    argv = ["train", "--checkpoint", "/proc/x.npz", "--data-dir", str(tmp_path / "none")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--checkpoint" in err and "/proc" in err
    assert not (tmp_path / "none").exists()


@pytest.mark.backend_independent
@pytest.mark.reliability("data loss")
def test_two_outputs_naming_one_file_are_refused(tmp_path, capsys) -> None:
    out = tmp_path / "same.out"
    link = tmp_path / "alias.out"
    link.symlink_to(out)
    assert same_file(out, link)
    assert main(["train", "--checkpoint", str(out), "--json", str(link)]) == 2
    assert f"`--json` '{link}' is the same file as `--checkpoint`" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.backend_independent
@pytest.mark.reliability("faults")
def test_a_failing_write_is_one_line_and_keeps_the_old_file(tmp_path, capsys, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "figure.png"
    out.write_bytes(b"previous figure")

    def fail(*args: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", fail)
    assert main(["plot", "descent-path", "--backend", "numpy", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Input/output error" in err and str(out) in err
    assert out.read_bytes() == b"previous figure" and os.listdir(tmp_path) == ["figure.png"]


@pytest.mark.backend_independent
def test_only_xpnet_errors_become_one_line(monkeypatch, capsys) -> None:
    """A bug in xpnet keeps its traceback; --debug and XPNET_DEBUG=1 show xpnet's own errors too."""
    from xpnet import cli

    def bug(args: object) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "info", bug)
    with pytest.raises(ZeroDivisionError):
        main(["info"])
    assert main(["train", "--iters", "0"]) == 2
    with pytest.raises(xpnet.errors.XpnetError):
        main(["--debug", "train", "--checkpoint", "/proc/x.npz"])
    monkeypatch.setenv("XPNET_DEBUG", "1")
    with pytest.raises(xpnet.errors.XpnetError):
        main(["train", "--checkpoint", "/proc/x.npz"])
    capsys.readouterr()
