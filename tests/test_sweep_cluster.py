"""Sweeps on real Dask clusters: the same numbers as serially, and faults that lose nothing.

Every cluster here is two worker processes on 127.0.0.1, closed by the test
that started it, which also checks that no process it started is left.
Clusters are started in one test session only (NumPy, the default), since
they test the sweep's machinery rather than a backend.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import bound, finish, wait_until

from xpnet.sweep import read_runs, sweep
from xpnet.sweep.cluster import MALLOC, QUIET, local_cluster

distributed = pytest.importorskip("distributed")
dask_utils = pytest.importorskip("dask.utils")
psutil = pytest.importorskip("psutil")  # a dependency of distributed

pytestmark = pytest.mark.backend_independent  # clusters run NumPy: one session starts them

#: Runs of these tests: ~0.3 s each on a quiet core; slow enough to kill things mid-sweep.
SETTINGS = {"hidden": 8, "weight_init_std": 1.0, "iters": 1500, "batch_size": 20, "eval_every": 500,
            "backend": "numpy"}  # fmt: skip
SPACE = {"lr": [0.5, 1.0, 2.0], "seed": [0, 1]}
ROOT = Path(__file__).parents[1]


def blobs(n=160, d=6, c=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=n)
    x = (rng.normal(0.0, 0.6, size=(n, d)) + np.eye(c, d)[labels]).astype(np.float32)
    return x, labels.astype(np.int64)


def leftovers(before: set[int]) -> list[str]:
    """Processes started since `before` that still run (multiprocessing's resource tracker,
    which lives as long as this process, aside)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if child.pid not in before and "resource_tracker" not in command:
            found.append(f"{child.pid}: {command[:80]}")
    return found


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on loopback, as the embedded cluster makes them."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    cluster = local_cluster(2)  # what sweep(client=None, workers=2) starts
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()
    wait_until(lambda: not leftovers(before), "the cluster's processes to end")


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The reference: the same sweep, run here one run after another."""
    store = tmp_path_factory.mktemp("serial") / "serial.db"
    return sweep(SPACE, train_data=blobs(), store=store, client="serial", verbose=0, **SETTINGS)


def numbers(runs):
    return {r.key: (r.status, r.eval_iters, r.train_acc, r.train_loss) for r in runs}


def test_a_cluster_gives_the_serial_numbers(client, serial, tmp_path) -> None:
    result = sweep(
        SPACE, train_data=blobs(), store=tmp_path / "s.db", client=client, verbose=0, **SETTINGS
    )
    assert result.executed == 6
    assert numbers(result.runs) == numbers(serial.runs)
    workers = set(client.scheduler_info()["workers"])
    assert {r.worker for r in result.runs} <= workers
    # Each worker runs its numeric libraries on one thread, and malloc as glibc adapts it.
    assert set(client.run(lambda: os.environ["OMP_NUM_THREADS"]).values()) == {"1"}
    environ = client.run(lambda: {k: os.environ.get(k) for k in MALLOC})
    assert all(e == MALLOC for e in environ.values())


def test_dask_monitors_the_embedded_cluster_slowly(client) -> None:
    """Dask's default tick (50 a second) and profiler (100 a second) would take CPU from runs."""

    def on_worker(dask_worker):
        return {name: pc.callback_time for name, pc in dask_worker.periodic_callbacks.items()}

    def on_scheduler(dask_scheduler):
        return {name: pc.callback_time for name, pc in dask_scheduler.periodic_callbacks.items()}

    tick = 1000 * dask_utils.parse_timedelta(QUIET["distributed.admin.tick.interval"])
    workers = list(client.run(on_worker).values())
    assert len(workers) == 2
    assert all(w["tick"] == tick and "profile" not in w for w in workers)
    assert client.run_on_scheduler(on_scheduler)["tick"] == tick


@pytest.mark.slow(reason="each worker imports torch")
def test_workers_train_torch_on_one_thread(client) -> None:
    pytest.importorskip("torch")

    def threads():
        import torch

        return torch.get_num_threads()

    assert set(client.run(threads).values()) == {1}


@pytest.mark.reliability("faults")
def test_a_worker_killed_mid_run_is_retried(client, serial, tmp_path) -> None:
    """SIGKILL a worker while it trains: Dask runs that run again elsewhere; every run ends
    exactly once in the store, with the serial numbers."""
    pids = client.run(os.getpid)
    killed = []

    def kill_a_busy_worker():
        deadline = time.monotonic() + bound(60)
        while time.monotonic() < deadline:
            busy = client.run(lambda dask_worker: len(dask_worker.state.executing))
            victims = [address for address, n in busy.items() if n]
            if victims:
                os.kill(pids[victims[0]], signal.SIGKILL)
                killed.append(victims[0])
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    try:
        result = sweep(SPACE, train_data=blobs(), store=tmp_path / "s.db", client=client,
                       verbose=0, **SETTINGS)  # fmt: skip
    finally:
        killer.join()
    assert killed, "no worker was busy"
    runs = read_runs(tmp_path / "s.db")
    assert len(runs) == 6 and all(r.attempts == 1 for r in runs)
    assert numbers(runs) == numbers(serial.runs) == numbers(result.runs)
    client.wait_for_workers(2, timeout=bound(60))  # the nanny restarted it
    assert killed[0] not in client.scheduler_info()["workers"]


CLIENT = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_sweep_cluster import SETTINGS, SPACE, blobs
from xpnet.sweep import sweep
sweep(SPACE, train_data=blobs(), store={store!r}, client={address!r}, verbose=0, **SETTINGS)
"""


def done_rows(store: Path) -> dict[str, float]:
    if not store.exists():
        return {}
    conn = sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT key, finished FROM runs WHERE status = 'done'"))
    except sqlite3.OperationalError:  # the tables are not there yet
        return {}
    finally:
        conn.close()


@pytest.mark.reliability("data loss")
def test_a_client_killed_mid_sweep_loses_nothing_finished(client, serial, tmp_path) -> None:
    """SIGKILL the client process after some runs were stored: they stay; a rerun does the rest."""
    store = tmp_path / "s.db"
    code = CLIENT.format(tests=str(ROOT / "tests"), store=str(store),
                         address=client.scheduler.address)  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: done_rows(store), "a finished run in the store", process=proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = finish(proc)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    before = done_rows(store)
    assert 1 <= len(before) < 6
    assert {r.status for r in read_runs(store)} <= {"done", "running"}

    result = sweep(SPACE, train_data=blobs(), store=store, client=client, verbose=0, **SETTINGS)
    assert result.executed == 6 - len(before)
    after = done_rows(store)
    assert len(after) == 6 and all(after[key] == finished for key, finished in before.items())
    assert numbers(result.runs) == numbers(serial.runs)
