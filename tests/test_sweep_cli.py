"""`xpnet sweep`, `xpnet sweep report` and `xpnet plot sweep`, called as functions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from helpers import bound, finish, sigint_reaches_children, wait_until

from xpnet.cli import main
from xpnet.cli._parser import build_parser
from xpnet.cli._sweep import build_space
from xpnet.sweep import Choice, read_runs
from xpnet.sweep.cluster import worker_environment


def space_of(*argv):
    return build_space(build_parser().parse_args(["sweep", *argv]))


@pytest.mark.backend_independent
def test_specs_make_grids_ranges_and_draws() -> None:
    points, fixed = space_of(
        "--lr", "0.01,0.1,1", "--hidden", "50,100", "--seed", "0..4", "--iters", "300"
    )
    assert len(points) == 30 and fixed == {"iters": 300}
    assert points[:2] == [
        {"lr": 0.01, "hidden": 50, "seed": 0},
        {"lr": 0.01, "hidden": 50, "seed": 1},
    ]
    points, fixed = space_of("--random", "40", "--lr", "1e-6:1e-2:log", "--hidden", "50,100",
                             "--set", "weight_decay=1e-8:1e-4:log", "--set", "momentum=0.9")  # fmt: skip
    assert len(points) == 40 and fixed == {"momentum": 0.9}
    assert all(1e-6 <= p["lr"] <= 1e-2 and 1e-8 <= p["weight_decay"] <= 1e-4 for p in points)
    assert {p["hidden"] for p in points} == {50, 100}
    assert points == space_of("--random", "40", "--lr", "1e-6:1e-2:log", "--hidden", "50,100",
                              "--set", "weight_decay=1e-8:1e-4:log", "--set", "momentum=0.9")[0]  # fmt: skip
    points, _ = space_of("--random", "5", "--hidden", "10:20")
    assert all(10 <= p["hidden"] <= 20 and isinstance(p["hidden"], int) for p in points)
    assert isinstance(Choice(range(3)).values[0], int)


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", ""], "argument --lr: empty"),
        (["--lr", "0.1,,1"], "argument --lr: empty value in '0.1,,1'"),
        (["--seed", "0.."], "argument --seed: incomplete range '0..'"),
        (["--seed", "5..2"], "argument --seed: empty range '5..2'"),
        (["--lr", "0.1..2"], "A..B ranges are for integer settings"),
        (["--lr", "1e-6:1e-2:log"], "is a range to draw from: add --random N"),
        (["--lr", "1e-6:1e-2:cubic", "--random", "3"], "is not LOW:HIGH or LOW:HIGH:log"),
        (["--lr", "-1"], "`--lr` must be a finite positive number"),
        (["--hidden", "1.5"], "argument --hidden: cannot read '1.5'"),
        (["--backend", "tensorflow"], "`--backend` must be one of"),
        (["--set", "lrr=0.1"], "Unknown setting `lrr`"),
        (["--set", "0.1"], "expected NAME=SPEC"),
        (["--lr", "0.1", "--lr", "0.2", "--set", "lr=0.3"], "setting 'lr' is given twice"),
        (["--random", "5"], "--random N needs a setting to vary"),
        (["--lr", "0.1", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--workers", "2", "--serial"], "not allowed with argument"),
        (["--lr", "0.1", "report"], "`xpnet sweep report` takes only"),
    ],
)
@pytest.mark.reliability("bad input")
def test_bad_specs_give_one_line_and_status_2(tmp_path, capsys, argv, message) -> None:
    store = tmp_path / "s.db"
    assert main(["sweep", *argv, "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not store.exists()


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_a_scheduler_that_does_not_answer_is_one_line(tmp_path, capsys) -> None:
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    argv = ["sweep", "--lr", "0.1", "--iters", "5", "--store", str(tmp_path / "s.db"),
            "--scheduler", f"tcp://127.0.0.1:{port}", "--timeout", "1"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "No Dask scheduler answered" in err, err
    assert time.monotonic() - started < bound(30)  # --timeout 1 is kept, give or take


@pytest.mark.backend_independent
def test_report_of_a_missing_store(tmp_path, capsys) -> None:
    assert main(["sweep", "report", "--store", str(tmp_path / "none.db")]) == 2
    assert "No sweep store at" in capsys.readouterr().err


def train_jsons(tmp_path, mnist_dir, runs, environment):
    """`xpnet train --json` for each (lr, hidden), each in a process of its own, with the
    `environment` of the processes that made the sweep's runs: the threads of the numeric
    libraries (more threads sum in another order: other last bits). Compiled or eager is
    decided in one place, train()'s `compile="auto"`, which the sweep and `xpnet train`
    both leave as it is: like is compared with like, bit for bit."""
    env = {**os.environ, **environment}
    procs = {}
    for lr, hidden in runs:
        out = tmp_path / f"train-{lr}-{hidden}.json"
        argv = [sys.executable, "-m", "xpnet", "train", "--quiet", "--lr", str(lr), "--hidden",
                str(hidden), "--iters", "30", "--data-dir", str(mnist_dir), "--json", str(out)]  # fmt: skip
        procs[lr, hidden] = (subprocess.Popen(argv, env=env), out)
    for proc, _ in procs.values():
        finish(proc)
        assert proc.returncode == 0
    return {run: json.loads(out.read_text()) for run, (_, out) in procs.items()}


@pytest.mark.mnist
def test_serial_sweep_equals_xpnet_train_and_reports(backend, mnist_dir, tmp_path, capsys) -> None:
    """The done-when check, small: each stored run equals `xpnet train` with its settings."""
    pytest.importorskip("threadpoolctl")  # serial runs on one thread, like workers
    store = tmp_path / "s.db"
    argv = ["sweep", "--lr", "0.1,0.5", "--hidden", "10", "--iters", "30", "--serial",
            "--data-dir", str(mnist_dir), "--store", str(store), "--json", str(tmp_path / "s.json")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "sweep: 2 of 2 runs to do, on serial"  # not a terminal: a line per run
    assert [line.split()[0] for line in out[1:3]] == ["[1/2]", "[2/2]"]
    out = out[3:]
    assert out[0] == f"2 runs in {store}: 2 done, 0 failed (2 run now)"
    assert out[1].split() == ["rank", "lr", "test_acc", "train_acc", "seconds"]
    assert [line.split()[1] for line in out[2:]] == ["0.5", "0.1"]  # best first
    runs = read_runs(store)
    # The serial runs were made in this process: BLAS on one thread (threadpoolctl), XLA
    # (JAX) on the threads it started with, as XLA_FLAGS said then (read once, at start).
    here = {**worker_environment(), "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}
    trained = train_jsons(tmp_path, mnist_dir, [(r.settings["lr"], 10) for r in runs], here)
    for run in runs:
        expected = trained[run.settings["lr"], 10]
        assert run.status == "done" and run.backend == backend.name
        assert run.test_acc == expected["test_acc_history"]
        assert run.train_acc == expected["train_acc_history"]
        assert run.train_loss == expected["history"]["train_loss"]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["metric"] == "test_acc" and len(summary["runs"]) == 2
    assert summary["ranking"][0] == next(
        r["key"] for r in summary["runs"] if r["settings"]["lr"] == 0.5
    )

    capsys.readouterr()
    assert main(["sweep", "report", "--store", str(store), "--top", "1"]) == 0
    report = capsys.readouterr().out.splitlines()
    assert report[0] == f"2 runs in {store}: 2 done, 0 failed" and len(report) == 3

    pytest.importorskip("matplotlib")
    png = tmp_path / "sweep.png"
    assert main(["plot", "sweep", "--store", str(store), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.backend_independent
def test_plot_sweep_needs_a_store(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    assert main(["plot", "sweep", "--out", str(tmp_path / "x.png")]) == 2
    assert "plot sweep needs --store FILE" in capsys.readouterr().err


@pytest.mark.backend_independent
@pytest.mark.mnist
@pytest.mark.slow(reason="starts a Dask cluster and 4 `xpnet train` processes")
def test_embedded_cluster_sweep_equals_xpnet_train(mnist_dir, tmp_path, capsys) -> None:
    """`xpnet sweep` on its own LocalCluster: 4 runs, the numbers of `xpnet train`, and no
    process left behind."""
    pytest.importorskip("distributed")
    from test_sweep_cluster import leftovers

    psutil = pytest.importorskip("psutil")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    store = tmp_path / "s.db"
    argv = ["sweep", "--lr", "0.1,0.5", "--hidden", "10,20", "--iters", "30", "--workers", "2",
            "--data-dir", str(mnist_dir), "--store", str(store)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "sweep: 4 of 4 runs to do, on local cluster of 2 CPU workers"
    out = out[5:]
    assert out[0] == f"4 runs in {store}: 4 done, 0 failed (4 run now)"
    assert out[1].split() == ["rank", "hidden_size", "lr", "test_acc", "train_acc", "seconds"]
    runs = read_runs(store)
    assert all(r.worker.startswith("tcp://127.0.0.1:") for r in runs)
    trained = train_jsons(
        tmp_path,
        mnist_dir,
        [(r.settings["lr"], r.settings["hidden_size"]) for r in runs],
        worker_environment(),  # what the cluster's workers run with
    )
    for run in runs:
        expected = trained[run.settings["lr"], run.settings["hidden_size"]]
        assert (run.test_acc, run.train_loss) == (
            expected["test_acc_history"],
            expected["history"]["train_loss"],
        )
    assert not leftovers(before)


@pytest.mark.backend_independent
@pytest.mark.mnist
@pytest.mark.reliability("signals")
def test_ctrl_c_stops_a_sweep_and_the_same_command_continues(mnist_dir, tmp_path) -> None:
    import signal

    from test_sweep_cluster import done_rows

    store = tmp_path / "s.db"
    argv = ["sweep", "--serial", "--quiet", "--lr", "0.1,0.5,1", "--hidden", "10", "--iters", "1000",
            "--data-dir", str(mnist_dir), "--store", str(store)]  # fmt: skip
    with sigint_reaches_children():
        proc = subprocess.Popen(
            [sys.executable, "-m", "xpnet", *argv], stderr=subprocess.PIPE, text=True
        )
    wait_until(lambda: done_rows(store), "a finished run in the store", process=proc)
    proc.send_signal(signal.SIGINT)
    _, err = finish(proc)
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "The same command continues the sweep" in err
    finished = done_rows(store)
    assert 1 <= len(finished) < 3
    assert main(argv) == 0
    assert len(done_rows(store)) == 3
    assert {k: v for k, v in done_rows(store).items() if k in finished} == finished
