"""The command line, called as a function (and once as a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import exit_status, finish, read_state_file, sigint_reaches_children, wait_until

import xpnet
from xpnet.cli import main


@pytest.mark.backend_independent
def test_info_lists_backends(capsys) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["backend", "version", "devices"]
    assert any(line.split()[:3] == ["numpy", np.__version__, "cpu"] for line in out.splitlines())
    precision = [line for line in out.splitlines() if line.startswith("matmul precision: ")]
    assert len(precision) == 1 and "training at 'highest' (full float32)" in precision[0]


def test_gradcheck_prints_small_differences(backend, capsys) -> None:
    dtype = "float64" if xpnet.backend.float64_available(backend) else "float32"
    argv = ["gradcheck", "--backend", backend.name, "--dtype", dtype]
    if os.environ.get("XPNET_DEVICE"):
        argv += ["--device", os.environ["XPNET_DEVICE"]]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"gradcheck of TwoLayerNet(20, 10, 10) on {backend.name}")
    assert lines[1].startswith("Gradient check passed (mode='full', order=2, " + dtype)
    rows = {line.split()[0]: float(line.split()[3]) for line in lines[3:]}
    assert set(rows) == {"W1", "b1", "W2", "b2"}
    assert max(rows.values()) < (1e-6 if dtype == "float64" else 1e-2)


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--iters", "0"], "argument --iters: must be a positive integer, got 0"),
        (
            ["train", "--batch-size", "-5"],
            "argument --batch-size: must be a positive integer, got -5",
        ),
        (["train", "--lr", "-0.1"], "argument --lr: must be a finite positive number"),
        (["train", "--lr", "nan"], "argument --lr: must be a finite positive number"),
        (["train", "--hidden", "ten"], "argument --hidden: expected a positive integer, got 'ten'"),
        (["train", "--backend", "tensorflow"], "argument --backend: invalid choice: 'tensorflow'"),
        (["train", "--resume"], "--resume needs --checkpoint PATH"),
        (["train", "--json", "/no/such/dir/out.json"], "does not exist"),
        (["train", "--backend", "numpy", "--device", "cuda"], "NumPy runs on 'cpu' only"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
@pytest.mark.reliability("bad input")
def test_bad_options_give_one_line_and_status_2(capsys, argv, message) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("xpnet: error: ") and message in err


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_missing_data_without_network(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("XPNET_MNIST_MIRRORS", "http://127.0.0.1:1/")
    assert main(["train", "--data-dir", str(tmp_path / "none"), "--iters", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "Could not download" in err and "copy the four MNIST files" in err


@pytest.mark.mnist
def test_train_writes_json_plot_and_checkpoint(backend, mnist_dir, tmp_path, capsys) -> None:
    out = tmp_path / "summary.json"
    png = tmp_path / "curves.png"
    ckpt = tmp_path / "state.npz"
    argv = [
        "train", "--backend", backend.name, "--device", os.environ.get("XPNET_DEVICE", "cpu"), "--iters", "120", "--eval-every", "60",
        "--data-dir", str(mnist_dir), "--json", str(out), "--plot", str(png), "--checkpoint", str(ckpt),
    ]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(out.read_text())
    assert summary["backend"] == backend.name and summary["dtype"] == "float32"
    assert summary["iters"] == 120 and summary["seconds"] > 0
    assert summary["train_acc_history"][-1] == summary["train_acc"]
    assert len(summary["test_acc_history"]) == 3 and 0.15 < summary["test_acc"] <= 1.0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert ckpt.exists()
    lines = capsys.readouterr().out.splitlines()  # no terminal: the chapter's lines, no bar
    assert len(lines) == 4 and all(line.startswith("train acc, test acc | ") for line in lines[:3])
    assert lines[3].startswith("test acc ")
    # Resuming a finished run trains no more and gives the same summary.
    assert main([*argv, "--resume"]) == 0
    assert json.loads(out.read_text())["test_acc_history"] == summary["test_acc_history"]


@pytest.mark.backend_independent
def test_python_dash_m(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "xpnet", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("xpnet ")


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
@pytest.mark.parametrize("option", ["--json", "--plot", "--checkpoint"])
def test_output_paths_are_checked_before_training(tmp_path, capsys, monkeypatch, option) -> None:
    """A directory, a missing folder or an unwritable folder: one line, status 2, nothing written."""
    assert main(["train", option, str(tmp_path)]) == 2
    assert "must be a file path, not a directory" in capsys.readouterr().err
    assert main(["train", option, str(tmp_path / "missing" / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root ignores permission bits
    assert main(["train", option, str(tmp_path / "out")]) == 2
    assert "is not writable" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("backend")  # the child trains on XPNET_BACKEND
@pytest.mark.mnist
def test_progress_bar_on_a_terminal(mnist_dir) -> None:
    """On a terminal, `xpnet train` shows a tqdm bar with loss and accuracies."""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 140, 0, 0))
    argv = [
        sys.executable,
        "-m",
        "xpnet",
        "train",
        "--iters",
        "20",
        "--eval-every",
        "10",
        "--data-dir",
        str(mnist_dir),
    ]
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert exit_status(proc) == 0
    screen = b"".join(chunks).decode(errors="replace")
    assert (
        "20/20" in screen and "loss=" in screen and "train_acc=" in screen and "test_acc=" in screen
    )
    assert "train acc, test acc |" not in screen  # the chapter's lines are for non-terminals


@pytest.mark.usefixtures("backend")  # the child trains on XPNET_BACKEND
@pytest.mark.mnist
@pytest.mark.slow(reason="3,000 iterations on real MNIST: 44 s of CPU on array-api-strict")
@pytest.mark.reliability("faults")
def test_ctrl_c_saves_and_exits_cleanly(mnist_dir, tmp_path) -> None:
    """SIGINT during `xpnet train`: checkpoint saved, one line, status 130; --resume finishes."""
    import signal

    ckpt = tmp_path / "state.npz"
    argv = [sys.executable, "-m", "xpnet", "train", "--quiet", "--iters", "3000", "--eval-every", "1000",
            "--data-dir", str(mnist_dir), "--checkpoint", str(ckpt)]  # fmt: skip
    with sigint_reaches_children():
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(ckpt.exists, "the first evaluation's checkpoint", process=proc)
    proc.send_signal(signal.SIGINT)
    _, err = finish(proc)
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err and "--resume" in err
    meta = read_state_file(ckpt)[0]
    assert 0 < meta["training"]["iteration"] < 3000
    assert main(["train", "--quiet", "--iters", "3000", "--eval-every", "1000", "--data-dir", str(mnist_dir),
                 "--checkpoint", str(ckpt), "--resume"]) == 0  # fmt: skip
    assert read_state_file(ckpt)[0]["training"]["iteration"] == 3000
