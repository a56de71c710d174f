"""Clusters that misbehave, in one line (issue 22, items 8 and 15): a scheduler with no workers,
Ctrl-C at a terminal on an embedded sweep, a scheduler killed with SIGKILL.

Every cluster is on 127.0.0.1 and at most two workers; each test checks that no process it
started is left. Clusters are tested in the NumPy session only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_sweep import TINY, blobs
from test_sweep_cluster import leftovers

from xpnet.errors import ClusterError
from xpnet.sweep import driver, read_runs, sweep

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.backend_independent


@pytest.fixture
def no_leftovers():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    deadline = time.monotonic() + 30
    while leftovers(before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not leftovers(before)


@pytest.fixture
def empty_scheduler(no_leftovers):
    """A scheduler (in this process) with no worker, and its cluster to add one to."""
    cluster = distributed.LocalCluster(n_workers=0, processes=False, threads_per_worker=1,
                                       protocol="tcp://", host="127.0.0.1",
                                       dashboard_address=":0")  # fmt: skip
    try:
        yield cluster
    finally:
        cluster.close()


def run(store, client, **kwargs):
    return sweep({"lr": [0.5, 1.0]}, train_data=blobs(), store=store, client=client,
                 backend="numpy", **TINY, **kwargs)  # fmt: skip


@pytest.mark.reliability("faults")
def test_a_scheduler_without_workers_is_said_at_once_then_given_up(
    empty_scheduler, tmp_path, capsys
) -> None:
    """--scheduler with no worker: a line at once, then one error after the timeout (not a hang);
    no run is left marked running."""
    started = time.monotonic()
    with pytest.raises(ClusterError, match=r"has no workers: none joined within 1 s"):
        run(tmp_path / "s.db", empty_scheduler.scheduler_address, timeout=1, verbose=1)
    assert time.monotonic() - started < 60
    address = empty_scheduler.scheduler_address
    assert capsys.readouterr().err == (
        f"sweep: the scheduler at {address} has no workers; waiting up to 1 s for one\n"
    )
    assert read_runs(tmp_path / "s.db") == []


@pytest.mark.reliability("faults")
def test_a_worker_that_joins_while_the_sweep_waits_runs_it(
    empty_scheduler, tmp_path, monkeypatch
) -> None:
    """The wait is for a worker: one that joins within the timeout does the runs."""
    said = threading.Event()

    def notifier(verbose):
        return lambda text: said.set()

    monkeypatch.setattr(driver, "_notifier", notifier)
    helper = threading.Thread(target=lambda: said.wait(60) and empty_scheduler.scale(1))
    helper.start()
    try:
        result = run(tmp_path / "s.db", empty_scheduler.scheduler_address, timeout=60, verbose=0)
    finally:
        said.set()
        helper.join()
    assert result.executed == 2 and all(r.status == "done" for r in result.runs)


ROOT = Path(__file__).parents[1]


def sweep_argv(store: Path, *where: str) -> list[str]:
    return [sys.executable, "-m", "xpnet", "sweep", *where, "--lr", "0.1,0.2,0.3,0.4",
            "--hidden", "10", "--iters", "3000", "--eval-every", "1000", "--store", str(store)]  # fmt: skip


def running_rows(store: Path) -> int:
    with contextlib.suppress(Exception):
        return len(read_runs(store))
    return 0


@pytest.mark.mnist
@pytest.mark.slow(reason="an embedded cluster started and interrupted three times")
@pytest.mark.reliability("signals")
@pytest.mark.parametrize("moment", ["runs claimed, cluster starting", "cluster up", "a run done"])
def test_ctrl_c_at_a_terminal_on_an_embedded_sweep_is_one_line(
    mnist_dir, tmp_path, no_leftovers, moment
) -> None:
    """SIGINT to the whole process group (a terminal's Ctrl-C), workers included, while the cluster
    starts, once it is up, or after a run: one line, status 130, no worker's traceback, no
    "leaked semaphore" warning; nothing left running."""
    store = tmp_path / "s.db"
    env = {**os.environ, "XPNET_DATA": str(mnist_dir)}
    proc = subprocess.Popen(sweep_argv(store, "--workers", "2"), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    try:
        if moment.startswith("runs claimed"):
            deadline = time.monotonic() + 120
            while not running_rows(store) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            assert proc.stdout.readline().startswith("sweep: 4 of 4 runs to do, on local cluster")
            if moment == "a run done":
                assert proc.stdout.readline().startswith("[1/4]")
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert (proc.returncode, err) == (
        130,
        "xpnet: interrupted. The same command continues the sweep.\n",
    )
    assert {r.status for r in read_runs(store)} <= {"done"}  # the rest given back


@pytest.mark.mnist
@pytest.mark.slow(reason="an external scheduler and worker started, one run trained, killed")
@pytest.mark.reliability("faults")
def test_a_scheduler_killed_mid_sweep_is_one_line(mnist_dir, tmp_path, no_leftovers) -> None:
    """kill -9 of an external scheduler while its worker trains: one line from the client (no
    client tracebacks), status 2; the runs not finished are given back."""
    dask = str(Path(sys.executable).parent / "dask")
    info = tmp_path / "scheduler.json"
    env = {**os.environ, "XPNET_DATA": str(mnist_dir)}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(info)], **quiet)  # fmt: skip
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not (info.exists() and info.read_text().strip().endswith("}")):
            assert time.monotonic() < deadline and scheduler.poll() is None
            time.sleep(0.05)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard"],
                                  **quiet)  # fmt: skip
        store = tmp_path / "s.db"
        proc = subprocess.Popen(sweep_argv(store, "--scheduler", str(info), "--timeout", "60"),
                                env=env, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)  # fmt: skip
        assert proc.stdout.readline().startswith("sweep: 4 of 4 runs to do, on cluster at")
        scheduler.kill()
        _, err = proc.communicate(timeout=120)
    finally:
        for p in (scheduler, worker):
            if p is not None:
                p.kill()
                p.wait()
    assert proc.returncode == 2 and len(err.splitlines()) <= 2, err
    assert err.splitlines()[-1].startswith("xpnet: error: The cluster cancelled"), err
    assert {r.status for r in read_runs(store)} <= {"done"}
