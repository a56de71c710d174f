"""The sweep store where two features meet (issue 22): two sweeps at once, clients whose
process number was reused, rows not written by xpnet, a closed standard output, a
read-only file system.

The store does not depend on the array library: these tests run in the NumPy session.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_sweep import TINY, blobs

from xpnet.cli import main
from xpnet.errors import CheckpointError
from xpnet.sweep import driver, owner, read_runs, sweep
from xpnet.sweep.store import Store

pytestmark = pytest.mark.backend_independent
ROOT = Path(__file__).parents[1]
SPACE = {"lr": [0.1, 0.5, 1.0]}


def run(store, space=SPACE, **kwargs):
    options = {"client": "serial", "verbose": 0, "backend": "numpy", **TINY, **kwargs}
    return sweep(space, train_data=blobs(), store=store, **options)


def rows(store: Path) -> dict[str, tuple]:
    """key -> (status, client, attempts), read with plain sqlite3."""
    conn = sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)
    try:
        return {k: (s, c, a) for k, s, c, a in conn.execute(
            "SELECT key, status, client, attempts FROM runs")}  # fmt: skip
    finally:
        conn.close()


@contextlib.contextmanager
def sleeper():
    """A live process of this host that is no sweep: its number, for rows to name."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                            stdin=subprocess.PIPE)  # fmt: skip
    try:
        yield proc.pid
    finally:
        proc.stdin.close()
        proc.wait()


# --- two sweeps on one store ------------------------------------------------------------


@pytest.mark.reliability("sweep store")
def test_a_second_sweep_waits_while_the_first_starts_its_cluster(tmp_path, monkeypatch) -> None:
    """A sweep whose runs are claimed but not started yet (its cluster starting): a second sweep
    on the store is refused at once; the first then trains each run once."""
    store = tmp_path / "s.db"
    entered, go, results = threading.Event(), threading.Event(), {}
    real = driver.executor

    @contextlib.contextmanager
    def slow_to_start(*args, **kwargs):
        entered.set()  # claimed; now "starting the cluster"
        go.wait(60)
        with real(*args, **kwargs) as ex:
            yield ex

    monkeypatch.setattr(driver, "executor", slow_to_start)
    first = threading.Thread(target=lambda: results.update(first=run(store)))
    first.start()
    try:
        assert entered.wait(60)
        with pytest.raises(CheckpointError, match=r"sweep store .*s\.db is in use by process"):
            run(store)
    finally:
        go.set()
        first.join(60)
    assert results["first"].executed == 3
    assert [a for _, _, a in rows(store).values()] == [1, 1, 1]


TWO = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_sweep_store import run
from xpnet.errors import CheckpointError
start = Path({start!r})
while not start.exists():  # both processes go at once
    time.sleep(0.001)
try:
    print("executed", run(Path({store!r})).executed)
except CheckpointError as exc:
    print("refused", exc)
"""


@pytest.mark.reliability("sweep store")
def test_two_sweeps_started_together_train_each_run_once(tmp_path) -> None:
    """Two processes start the same sweep on one store at the same moment: every run is trained
    exactly once (one sweep does them; the other is refused, or finds them done)."""
    store, start = tmp_path / "s.db", tmp_path / "go"
    code = TWO.format(tests=str(ROOT / "tests"), start=str(start), store=str(store))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    start.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    said = sorted(out.split()[0] + (out.split()[1] if out.startswith("executed") else "")
                  for out, _ in outs)  # fmt: skip
    assert said in (["executed0", "executed3"], ["executed3", "refused"]), outs
    assert [a for _, _, a in rows(store).values()] == [1, 1, 1]


# --- clients that are gone --------------------------------------------------------------


def test_a_client_is_its_host_its_process_and_when_it_started() -> None:
    me = owner.me()
    host, pid, start = owner.parse(me)
    assert (host, pid) == (socket.gethostname(), os.getpid()) and start
    assert owner.state(me) == "mine"
    assert owner.parse("h:12") == ("h", 12, None)  # as xpnet 0.2 wrote it
    with sleeper() as other:
        alive = f"{host}:{other}:{owner.start_time(other)}"
        assert owner.state(alive) == "alive"
        assert owner.state(f"{host}:{other}:1") == "dead"  # the number, another process
        assert owner.state(f"{host}:{other}") == "unknown"  # 0.2: cannot tell
    assert owner.state(alive) == "dead"
    assert owner.state("elsewhere.invalid:1:2") == "unknown"
    assert owner.state(None) == "unknown"


@pytest.mark.reliability("sweep store")
def test_runs_left_by_a_dead_client_whose_number_was_reused_are_taken_over(tmp_path) -> None:
    """Rows `running` for a client whose process number now belongs to another live process
    (PID reuse): the next sweep sees the start times differ and runs them."""
    store = tmp_path / "s.db"
    first = run(store)
    with sleeper() as pid, Store(store) as db:
        db.mark_running([(r.key, r.settings) for r in first.runs],
                        f"{socket.gethostname()}:{pid}:1")  # fmt: skip
        again = run(store)
    assert again.executed == 3 and all(r.status == "done" for r in again.runs)
    assert {c for _, c, _ in rows(store).values()} == {owner.me()}


@pytest.mark.reliability("sweep store")
@pytest.mark.parametrize("where", ["another host", "xpnet 0.2, number in use"])
def test_runs_that_cannot_be_told_dead_need_steal(tmp_path, capsys, where) -> None:
    """Rows `running` for a client on another host, or of xpnet 0.2 whose number is in use:
    refused with a hint, run with steal=True (`--steal`)."""
    store = tmp_path / "s.db"
    first = run(store)
    with sleeper() as pid:
        client = "elsewhere.invalid:77:123" if "host" in where else f"{socket.gethostname()}:{pid}"
        with Store(store) as db:
            db.mark_running([(r.key, r.settings) for r in first.runs], client)
        before = rows(store)
        with pytest.raises(CheckpointError, match=r"in use by another sweep .*--steal"):
            run(store)
        assert rows(store) == before  # nothing claimed, nothing changed
        assert run(store, steal=True).executed == 3
    assert {s for s, _, _ in rows(store).values()} == {"done"}


def test_steal_reaches_the_sweep_from_the_command_line(tmp_path, monkeypatch) -> None:
    seen = {}

    def fake(space, **kwargs):
        seen.update(kwargs)
        raise CheckpointError("stop here")

    monkeypatch.setattr("xpnet.sweep.sweep", fake)
    assert (
        main(["sweep", "--lr", "0.1", "--serial", "--steal", "--store", str(tmp_path / "s.db")])
        == 2
    )
    assert seen["steal"] is True


# --- runs given back ---------------------------------------------------------------------


class ClosesAfter(io.StringIO):
    """Standard output whose reader goes away after `lines` lines (`| head -2`)."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.left = lines

    def write(self, text: str) -> int:
        if self.left <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.left -= text.count("\n")
        return super().write(text)


@pytest.mark.reliability("sweep store")
def test_a_sweep_stopped_early_gives_back_the_runs_it_did_not_finish(tmp_path, monkeypatch) -> None:
    """Standard output closed after two lines (`| head -2`): what finished is stored, the runs
    not finished are given back as they were (no row left `running`, a failed run keeps its
    error and count), and the same sweep then does the rest."""
    store = tmp_path / "s.db"
    first = run(store, {"lr": [0.1, 1.0]})
    failed = first.runs[1]
    with Store(store) as db:  # lr=1.0 failed before: to be retried, last
        db.record(failed.key, {"status": "failed", "error": "XpnetValueError: as it was"})
    before = rows(store)[failed.key]
    monkeypatch.setattr(sys, "stdout", ClosesAfter(2))  # "sweep: ..." and the first run's line
    with pytest.raises(BrokenPipeError):
        run(store, {"lr": [0.1, 0.5, 2.0, 1.0]}, retry_failed=True, verbose=2)
    monkeypatch.undo()
    stored = {r.settings["lr"]: r for r in read_runs(store)}
    assert {lr: r.status for lr, r in stored.items()} == {0.1: "done", 1.0: "failed", 0.5: "done",
                                                           2.0: "done"}  # fmt: skip
    assert stored[1.0].error == "XpnetValueError: as it was"
    assert rows(store)[failed.key] == before
    assert run(store, {"lr": [0.1, 0.5, 2.0, 1.0]}, retry_failed=True).executed == 1


# --- rows xpnet did not write ------------------------------------------------------------


def tamper(store: Path, *statements: str) -> None:
    conn = sqlite3.connect(store)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


DAMAGE = [
    ("settings that are not JSON", "UPDATE runs SET settings = '{lr: 0.1'", "`settings` is not JSON"),
    ("settings that are a list", "UPDATE runs SET settings = '[1, 2]'", "`settings` is [1, 2] (list), not a JSON object"),
    ("a 7-byte train_loss", "UPDATE runs SET train_loss = x'00010203040506'", "`train_loss` holds 7 bytes, not float64 values"),
    ("train_loss as text", "UPDATE runs SET train_loss = 'abc'", "`train_loss` is 'abc' (str), not float64 bytes"),
    ("test_acc='5'", "UPDATE runs SET test_acc = '5'", "`test_acc` is 5 (int), not a list"),
    ("final_test_acc='5'", "UPDATE runs SET final_test_acc = '5'", "`final_test_acc` is 5.0, not an accuracy in [0, 1]"),
    ("final_test_acc='high'", "UPDATE runs SET final_test_acc = 'high'", "`final_test_acc` is 'high' (str), not a number"),
    ("an accuracy of 3", "UPDATE runs SET train_acc = '[0.5, 3]'", "`train_acc` holds 3 (int), not accuracies in [0, 1]"),
    ("histories of two lengths", "UPDATE runs SET train_acc = '[0.5]'", "histories differ in length"),
    ("seconds as text", "UPDATE runs SET seconds = 'long'", "`seconds` is 'long' (str), not a number"),
    ("a missing column", "ALTER TABLE runs DROP COLUMN train_loss", "its table of runs has no column train_loss"),
    ("a key that is not text", "UPDATE runs SET key = x'07' WHERE rowid = 1", "`key` is b'\\x07' (bytes), not text"),
]  # fmt: skip


@pytest.fixture(scope="module")
def good_store(tmp_path_factory) -> bytes:
    store = tmp_path_factory.mktemp("good") / "s.db"
    run(store)
    return store.read_bytes()


@pytest.mark.reliability("sweep store")
@pytest.mark.parametrize(("what", "statement", "message"), DAMAGE, ids=[d[0] for d in DAMAGE])
def test_rows_xpnet_did_not_write_are_one_line(tmp_path, capsys, good_store, what, statement,
                                               message) -> None:  # fmt: skip
    """A store edited by hand or by another program: `sweep report`, `plot sweep`, `sweep` and
    read_runs refuse it in one line naming the column; the sweep trains nothing."""
    store = tmp_path / "s.db"
    store.write_bytes(good_store)
    tamper(store, statement)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        read_runs(store)
    argvs = [["sweep", "report", "--store", str(store)]]
    if _has_matplotlib():
        argvs.append(["plot", "sweep", "--store", str(store), "--out", str(tmp_path / "f.png")])
    for argv in argvs:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and message in err and str(store) in err, err
    before = rows(store) if "column" not in what else None
    with pytest.raises(CheckpointError, match=re.escape(message)):
        run(store, {"lr": [0.1, 0.5, 1.0, 2.0]})  # one run more: it must not be trained
    if before is not None:
        assert rows(store) == before
    assert not (tmp_path / "f.png").exists()


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


# --- read-only file systems --------------------------------------------------------------


@contextlib.contextmanager
def read_only(folder: Path):
    """`folder` seen through a read-only bind mount (as root), or made read-only (others)."""
    view = folder.parent / f"{folder.name}-ro"
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(view)],
                             capture_output=True).returncode == 0  # fmt: skip
    if mounted:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], capture_output=True)
    try:
        if not mounted:
            view.rmdir()
            folder.chmod(0o555)
            view = folder
        probe = view / ".probe"
        try:
            probe.touch()
        except OSError:
            yield view
        else:
            probe.unlink()
            pytest.skip("cannot make a read-only folder here (root without mount)")
    finally:
        if mounted:
            subprocess.run(["umount", str(view)], capture_output=True)
            view.rmdir()
        folder.chmod(0o755)


@pytest.mark.reliability("sweep store")
def test_a_store_on_a_read_only_file_system_is_read(tmp_path, capsys) -> None:
    """A finished store on a read-only file system is read (no -shm needed); one whose write-ahead
    log still holds runs is refused in one line saying what to do."""
    folder = tmp_path / "runs"
    folder.mkdir()
    expected = run(folder / "s.db").runs
    with read_only(folder) as view:
        assert read_runs(view / "s.db") == expected
        assert main(["sweep", "report", "--store", str(view / "s.db")]) == 0
        assert "3 runs in" in capsys.readouterr().out
        assert sorted(os.listdir(view)) == ["s.db"]
    (folder / "s.db-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(60))  # runs not checkpointed
    with (
        read_only(folder) as view,
        pytest.raises(
            CheckpointError, match=r"its folder cannot be written .*s\.db-wal holds runs"
        ),
    ):
        read_runs(view / "s.db")
