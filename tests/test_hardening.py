"""Every failure of the hardening pass (issue 16), through the command line and the Python API.

Each case is one row of a table: a command line (run in-process with
``main(argv)``), a Python call, or both, and the name the message must give
(the file or the argument). On the command line the run must end with exit
status 2 (1 for a diverged run) and exactly one line on stderr; in Python
with an :class:`~xpnet.errors.XpnetError` (so also ValueError / TypeError /
OSError where that is the meaning). Any other exception fails the test, as
does a failure that changed a file it was given.

The command line trains on four MNIST files of 8 and 4 samples (the loader
is pointed at them), so a row costs milliseconds.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import (
    declare_shape,
    exit_status,
    finish,
    read_state_file,
    run_bounded,
    sigint_reaches_children,
    wait_until,
    write_state_file,
)

import xpnet
from xpnet.cli import main
from xpnet.datasets import download_mnist, load_mnist
from xpnet.datasets import mnist as mnist_module
from xpnet.errors import DataError, XpnetError
from xpnet.training import load_history

SMALL = {
    key: (name, magic, 8 if key.startswith("train") else 4)
    for key, (name, magic, _) in mnist_module.FILES.items()
}
#: The same small run on the command line and in Python.
RUN = ["--batch-size", "2", "--hidden", "5", "--iters", "6", "--eval-every", "2", "--quiet"]


def idx_bytes(magic: int, count: int, seed: int = 0) -> bytes:
    dims = (count, 28, 28) if magic == 2051 else (count,)
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    values = np.random.default_rng(seed).integers(0, 256 if magic == 2051 else 10, size=dims)
    return header + values.astype(np.uint8).tobytes()


@dataclass
class World:
    """A small MNIST folder, a work folder and the files each case damages."""

    data: Path
    work: Path
    good: Path  # a checkpoint of the small run, made by the command line
    summary: Path  # its --json summary
    made: dict[str, Path] = field(default_factory=dict)

    def train_argv(self, *extra: str) -> list[str]:
        return ["train", "--data-dir", str(self.data), *RUN, *extra]

    def api_train(self, **kwargs: Any) -> Any:
        train_data, test_data = load_mnist(data_dir=self.data)
        net = xpnet.TwoLayerNet(784, 5, 10, seed=0)
        settings = dict(iters=6, batch_size=2, eval_every=2, seed=0, verbose=0)
        return xpnet.train(net, train_data, test_data, **{**settings, **kwargs})

    def once(self, name: str, make: Callable[[World], Path]) -> Path:
        """`make(self)`, made once per half of a case (reset() starts the next half afresh)."""
        if name not in self.made:
            self.made[name] = make(self)
        return self.made[name]

    def file(self, name: str, content: bytes | None = None) -> Path:
        path = self.work / name
        if content is not None:
            path.write_bytes(content)
        return path

    def tampered(self, name: str, edit: Callable[[dict, dict], None]) -> Path:
        meta, arrays = read_state_file(self.good)
        edit(meta, arrays)
        path = self.work / name
        write_state_file(path, meta, arrays)
        return path

    def summary_with(self, name: str, history: Any, drop: bool = False) -> Path:
        data = json.loads(self.summary.read_text())
        if drop:
            del data["history"]
        else:
            data["history"] = history
        # float("1e400") is infinity, which json writes as Infinity: write what a user might.
        return self.file(name, json.dumps(data).replace("Infinity", "1e400").encode())


@pytest.fixture(scope="module")
def prepared(backend, tmp_path_factory) -> Path:
    """Once per module: the small MNIST folder, a checkpoint and a summary of the small run."""
    root = tmp_path_factory.mktemp("prepared")
    data = root / "data"
    data.mkdir()
    for seed, (name, magic, count) in enumerate(SMALL.values()):
        (data / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(magic, count, seed), mtime=0))
    argv = ["train", "--data-dir", str(data), *RUN, "--checkpoint", str(root / "good.npz")]
    with pytest.MonkeyPatch.context() as patch, xpnet.use_backend(backend):
        patch.setattr(mnist_module, "FILES", SMALL)
        assert main([*argv, "--json", str(root / "summary.json")]) == 0
    return root


@pytest.fixture
def world(prepared, tmp_path, monkeypatch) -> World:
    """A fresh copy of the prepared files for one test, and a loader that expects them."""
    monkeypatch.setattr(mnist_module, "FILES", SMALL)
    shutil.copytree(prepared / "data", tmp_path / "data")
    ready = tmp_path / "ready"
    ready.mkdir()
    for name in ("good.npz", "summary.json"):
        shutil.copyfile(prepared / name, ready / name)
    (tmp_path / "work").mkdir()
    return World(
        data=tmp_path / "data", work=tmp_path / "work", good=ready / "good.npz",
        summary=ready / "summary.json",
    )  # fmt: skip


@pytest.fixture
def held_lock(world) -> Iterator[tuple[Path, int]]:
    """A checkpoint whose lock another process holds: (path, that process's id)."""
    path = world.file("busy.npz", world.good.read_bytes())
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield path, holder.pid
    finally:
        holder.stdin.close()
        exit_status(holder)
        holder.stdout.close()


HOLD_LOCK = """
import sys
from xpnet.training.lock import checkpoint_lock
with checkpoint_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
"""


# --- the table ----------------------------------------------------------------------------


@dataclass
class Case:
    """One failure: how to provoke it on the command line and in Python, and what must be named."""

    id: str
    category: str
    argv: Callable[[World], list[str]] | None
    api: Callable[[World], Any] | None
    names: Callable[[World], str]
    status: int = 2
    error: type[BaseException] = XpnetError


def damaged_copy(w: World, name: str, change: Callable[[bytes], bytes]) -> Path:
    return w.file(name, change(w.good.read_bytes()))


def flip_middle(raw: bytes) -> bytes:
    """One byte flipped in the middle of the largest array (W1): a bad CRC-32."""
    middle = len(raw) // 2
    return raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1 :]


def no_accuracy_history(m: dict, a: dict) -> None:
    m["training"]["evaluations"] = [0, 0]
    for key in ("history.eval_iters", "history.train_acc", "history.test_acc"):
        a[key] = a[key][:0]


def gzip_bomb(w: World) -> Path:
    """The training images: a valid header for 8 images, then 64 MB of zeros (64 kB gzip)."""
    path = w.data / "train-images-idx3-ubyte.gz"
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(path, "wb") as file:
        file.write(packer.compress(idx_bytes(2051, 8)))
        for _ in range(64):
            file.write(packer.compress(bytes(1 << 20)))
        file.write(packer.flush())
    return path


def directory_named_like_mnist(w: World) -> Path:
    path = w.data / "train-labels-idx1-ubyte.gz"
    if not path.is_dir():
        path.unlink()
        path.mkdir()
    return path


def resume_argv(path_of: Callable[[World], Path]) -> Callable[[World], list[str]]:
    return lambda w: w.train_argv("--checkpoint", str(path_of(w)), "--resume")


def resume_api(path_of: Callable[[World], Path]) -> Callable[[World], Any]:
    return lambda w: w.api_train(checkpoint=path_of(w), resume=True)


def plot_argv(option: str, path_of: Callable[[World], Path]) -> Callable[[World], list[str]]:
    return lambda w: [
        "plot", "curves", f"--{option}", str(path_of(w)), "--out", str(w.work / "curves.png"),
    ]  # fmt: skip


def checkpoint_case(
    id: str,
    make: Callable[[World], Path],
    *,
    network: bool = True,
    history: bool = True,
    category: str = "bad input",
) -> list[Case]:
    """A damaged checkpoint: resumed on the command line and in Python, and its damaged part read.

    The damaged part is its network (TwoLayerNet.load) or its history (`xpnet plot
    curves --checkpoint`, load_history) or both; a reader of an intact part succeeds.
    """

    def path_of(w: World) -> Path:
        return w.once(id, make)

    def names(w: World) -> str:
        return str(path_of(w))

    cases = [Case(f"{id} (--resume)", category, resume_argv(path_of), resume_api(path_of), names)]
    if history:
        cases.append(Case(f"{id} (plot curves)", category, plot_argv("checkpoint", path_of),
                          lambda w: load_history(path_of(w)), names))  # fmt: skip
    if network:
        cases.append(Case(f"{id} (TwoLayerNet.load)", category, None,
                          lambda w: xpnet.TwoLayerNet.load(path_of(w)), names))  # fmt: skip
    return cases


def json_case(id: str, history: Any, drop: bool = False) -> Case:
    def path_of(w: World) -> Path:
        return w.once(id, lambda w: w.summary_with(f"{id}.json", history, drop))

    return Case(f"--json: {id}", "bad input", plot_argv("json", path_of), None,
                lambda w: f"--json {path_of(w)}", error=DataError)  # fmt: skip


def good_history(**changes: Any) -> dict:
    history = {"train_loss": [2.3, 2.2, 2.1], "eval_iters": [0, 2], "train_acc": [0.1, 0.2],
               "test_acc": [0.1, 0.3], "seconds": 1.0}  # fmt: skip
    return {**history, **changes}


CASES = [
    # -- data loss and concurrency ---------------------------------------------------------
    Case("existing checkpoint without --resume", "data loss",
         lambda w: w.train_argv("--checkpoint", str(w.file("old.npz", w.good.read_bytes()))),
         lambda w: w.api_train(checkpoint=w.file("old.npz", w.good.read_bytes())),
         lambda w: f"checkpoint {w.work / 'old.npz'} exists: continue it with "),
    Case("--resume with --overwrite", "data loss",
         lambda w: w.train_argv("--checkpoint", str(w.good), "--resume", "--overwrite"),
         lambda w: w.api_train(checkpoint=w.good, resume=True, overwrite=True),
         lambda w: "overwrite"),
    Case("--checkpoint and --json naming one file", "data loss",
         lambda w: w.train_argv("--checkpoint", str(w.work / "same.out"), "--json",
                                str(w.work / "same.out")),
         None, lambda w: "is the same file as `--checkpoint`"),
    Case("resuming a file that is not an xpnet file", "data loss",
         resume_argv(lambda w: w.file("notes.npz", b"some notes\n")),
         resume_api(lambda w: w.file("notes.npz", b"some notes\n")),
         lambda w: f"{w.work / 'notes.npz'}: not an xpnet file"),
    # -- files that are missing, empty, damaged or tampered with ---------------------------
    Case("plot curves --checkpoint on a missing file", "bad input",
         plot_argv("checkpoint", lambda w: w.work / "missing.npz"),
         lambda w: load_history(w.work / "missing.npz"), lambda w: str(w.work / "missing.npz")),
    Case("plot curves --checkpoint on a directory", "bad input",
         plot_argv("checkpoint", lambda w: w.work), lambda w: load_history(w.work),
         lambda w: f"{w.work}: is a directory"),
    Case("plot curves --checkpoint on an empty file", "bad input",
         plot_argv("checkpoint", lambda w: w.file("empty.npz", b"")),
         lambda w: load_history(w.file("empty.npz", b"")), lambda w: str(w.work / "empty.npz")),
    *checkpoint_case("truncated", lambda w: damaged_copy(w, "t.npz", lambda r: r[: len(r) // 2])),
    *checkpoint_case("one flipped byte in W1", lambda w: damaged_copy(w, "f.npz", flip_middle),
                     history=False),
    *checkpoint_case("W1 stored as raw bytes", lambda w: w.tampered(
        "void.npz", lambda m, a: a.update({"net.W1": a["net.W1"].view(np.void)})),
        history=False),
    *checkpoint_case("W1 stored as a string", lambda w: w.tampered(
        "str.npz", lambda m, a: a.update({"net.W1": np.full(a["net.W1"].shape, "x")})),
        history=False),
    *checkpoint_case("metadata stored as raw bytes", lambda w: _raw_meta(w)),
    *checkpoint_case("no accuracy history", lambda w: w.tampered("noacc.npz", no_accuracy_history),
                     network=False),
    *checkpoint_case("NaN weights", lambda w: w.tampered(
        "nan.npz", lambda m, a: a.update({"net.b1": a["net.b1"] * np.nan})), history=False),
    *checkpoint_case("W1 declaring 10**12 values", lambda w: _huge_member(w),
                     category="resource bounds"),
    Case("a negative mini-batch seed in a checkpoint", "bad input",
         resume_argv(lambda w: w.once("seed", _negative_seed)),
         lambda w: w.api_train(checkpoint=w.once("seed", _negative_seed), resume=True, seed=None),
         lambda w: str(w.work / "seed.npz")),
    Case("resuming with test data a checkpoint made without", "bad input",
         resume_argv(lambda w: w.once("notest", _without_test_data)), None,
         lambda w: f"{w.work / 'notest.npz'}: the checkpoint was trained without test data"),
    # -- --json summaries --------------------------------------------------------------------
    json_case("history a list", [1, 2, 3]),
    json_case("history null", None),
    json_case("history a string", "history"),
    json_case("no history", None, drop=True),
    json_case("a missing key", {k: v for k, v in good_history().items() if k != "train_acc"}),
    json_case("a loss of 1e400", good_history(train_loss=[2.3, 1e400, 2.1])),
    json_case("lists of different lengths", good_history(train_acc=[0.1])),
    json_case("an integer beyond float64", good_history(train_loss=[2.3, 10**400, 2.1])),
    json_case("strings for numbers", good_history(train_loss=["2.3", "2.2", "2.1"])),
    Case("--json not JSON", "bad input",
         plot_argv("json", lambda w: w.file("bad.json", b"{\"history\": [")), None,
         lambda w: f"--json {w.work / 'bad.json'}"),
    # -- sizes, values and options -----------------------------------------------------------
    Case("--hidden 1000000000", "resource bounds",
         lambda w: w.train_argv("--hidden", "1000000000"),
         lambda w: xpnet.TwoLayerNet(784, 10**9, 10),
         lambda w: "TwoLayerNet(784, 1000000000, 10) with float32 parameters needs "),
    Case("weight_init_std=1e300", "bad input", None,
         lambda w: xpnet.TwoLayerNet(784, 5, 10, weight_init_std=1e300),
         lambda w: "`weight_init_std` is too large for float32"),
    *[Case(f"dtype {d}", "bad input", lambda w, d=d: w.train_argv("--dtype", d),
           lambda w, d=d: xpnet.TwoLayerNet(4, 3, 2, dtype=d),
           lambda w, d=d: "dtype") for d in ("int32", "bool", "complex64")],
    Case("output name over 255 bytes", "bad input",
         lambda w: w.train_argv("--json", str(w.work / ("x" * 300 + ".json"))),
         lambda w: w.api_train(checkpoint=w.work / ("x" * 300 + ".npz")),
         lambda w: "file systems allow 255"),
    Case("--plot x.jpgg", "bad input", lambda w: w.train_argv("--plot", str(w.work / "x.jpgg")),
         None, lambda w: "x.jpgg"),
    Case("--lr 1e300", "bad input", lambda w: w.train_argv("--lr", "1e300"),
         lambda w: _quietly(lambda: w.api_train(lr=1e300)),
         lambda w: "lr=1e+300 is probably too large. Try a smaller one, such as 0.1.", status=1),
    Case("a network with NaN weights", "bad input", None,
         lambda w: xpnet.train(_nan_net(), *load_mnist(data_dir=w.data), iters=2,
                               batch_size=2, verbose=0),
         lambda w: "`net` parameter `b1` holds NaN or infinity"),
    # -- data --------------------------------------------------------------------------------
    Case("a gzip bomb as an MNIST file", "resource bounds",
         lambda w: _after(gzip_bomb(w), w.train_argv()),
         lambda w: _after(gzip_bomb(w), load_mnist(data_dir=w.data)),
         lambda w: f"{w.data / 'train-images-idx3-ubyte.gz'}: too long"),
    Case("XPNET_DATA a regular file", "bad input",
         lambda w: _after(_data_env(w), ["train", *RUN]),
         lambda w: _after(_data_env(w), load_mnist()),
         lambda w: f"{w.work / 'datafile'}: is a file, not a folder"),
    Case("a directory named like an MNIST file", "bad input",
         lambda w: _after(directory_named_like_mnist(w), w.train_argv()),
         lambda w: _after(directory_named_like_mnist(w), load_mnist(data_dir=w.data)),
         lambda w: f"{w.data / 'train-labels-idx1-ubyte.gz'}: is a directory"),
    Case("a mistyped --data-dir, no network", "data integrity",
         lambda w: ["train", "--data-dir", str(w.work / "mnsit"), *RUN], lambda w: _mistyped_download(w),
         lambda w: str(w.work / "mnsit")),
]  # fmt: skip


def _raw_meta(w: World) -> Path:
    meta, arrays = read_state_file(w.good)
    path = w.work / "meta.npz"
    raw = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8).view(np.void)
    with open(path, "wb") as file:
        np.savez(file, meta=raw, **arrays)
    return path


def _huge_member(w: World) -> Path:
    """A checkpoint whose W1 header declares 10**12 float32 values (4 TB); the file is 20 kB."""
    return w.file("huge.npz", declare_shape(w.good.read_bytes(), "net.W1", (10**12,)))


def _without_test_data(w: World) -> Path:
    path = w.work / "notest.npz"
    train_data, _ = load_mnist(data_dir=w.data)
    net = xpnet.TwoLayerNet(784, 5, 10, seed=0)
    xpnet.train(net, train_data, iters=4, batch_size=2, eval_every=2, seed=0, verbose=0,
                checkpoint=path)  # fmt: skip
    return path


def _nan_net() -> Any:
    net = xpnet.TwoLayerNet(784, 5, 10, seed=0)
    net.params["b1"] = net.params["b1"] * float("nan")
    return net


def _quietly(call: Callable[[], Any]) -> Any:
    """`call()` without NumPy's overflow warnings (the test run makes warnings errors)."""
    with xpnet.backend.float_warnings_off():
        return call()


def _after(done: object, value: Any) -> Any:
    """`value`, computed after `done` (a set-up step) in an argument list."""
    return value


def _data_env(w: World) -> Path:
    path = w.file("datafile", b"not a folder")
    os.environ["XPNET_DATA"] = str(path)  # restored after the test (the `isolated` fixture)
    return path


def _negative_seed(w: World) -> Path:
    return w.tampered("seed.npz", lambda m, a: m["training"]["settings"].update({"seed": -1}))


def _mistyped_download(w: World) -> None:
    """The folder is not left behind: the next attempt with the right name is not confused."""
    try:
        download_mnist(w.work / "mnsit", mirrors=["http://127.0.0.1:1/"], retries=1)
    finally:
        assert not (w.work / "mnsit").exists()


@pytest.fixture
def isolated(world, monkeypatch) -> World:
    """The world, with XPNET_DATA and the mirrors restored after each case."""
    monkeypatch.setenv("XPNET_DATA", os.environ.get("XPNET_DATA", ""))
    monkeypatch.setenv("XPNET_MNIST_MIRRORS", "http://127.0.0.1:1/")
    return world


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


def reset(w: World) -> None:
    """Undo what a case's command-line half set up, so the Python half provokes the same."""
    w.made.clear()
    for path in sorted(w.work.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=pytest.mark.reliability(c.category)) for c in CASES],
)
def test_every_failure_is_one_line_naming_what_is_wrong(isolated, capsys, case) -> None:
    """The issue's failures: exit 2 (1 if diverged) and one line on the command line, an XpnetError in Python."""
    w = isolated
    if case.argv is not None:
        argv = case.argv(w)
        before = snapshot(w.work)
        status = main(argv)
        err = capsys.readouterr().err
        assert status == case.status, err
        assert len(err.splitlines()) == 1 and err.endswith("\n"), err
        prefix = "xpnet: training failed: " if case.status == 1 else "xpnet: error: "
        assert err.startswith(prefix), err
        assert case.names(w) in err, err
        if case.status == 2:  # refused: nothing the user had was changed or removed
            after = snapshot(w.work)
            assert {k: v for k, v in after.items() if k in before} == before
    if case.api is not None:
        reset(w)
        expected = xpnet.errors.TrainingDivergedError if case.status == 1 else case.error
        with pytest.raises(expected) as info:
            case.api(w)
        assert isinstance(info.value, XpnetError)
        assert case.names(w) in str(info.value).splitlines()[0], str(info.value)


# --- concurrency: the lock ------------------------------------------------------------------


@pytest.mark.reliability("concurrency")
def test_a_checkpoint_in_use_is_refused_at_once(isolated, held_lock, capsys) -> None:
    """Another process holds the checkpoint: one line naming it and its process, nothing touched."""
    w = isolated
    path, pid = held_lock
    stale = w.file(f".{path.name}.abcd1234.tmp", b"the other run's temporary")
    before = snapshot(w.work)
    missing = w.work / "no-data-here"
    for extra in ([], ["--resume"], ["--overwrite"]):
        argv = ["train", "--data-dir", str(missing), *RUN, "--checkpoint", str(path), *extra]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == f"xpnet: error: checkpoint {path} is in use by process {pid}; wait for " \
                      "that run to end, or stop it.\n"  # fmt: skip
    with pytest.raises(xpnet.errors.CheckpointError, match=f"in use by process {pid}"):
        w.api_train(checkpoint=path, resume=True)
    assert snapshot(w.work) == before and stale.exists() and not missing.exists()


@pytest.mark.reliability("concurrency")
def test_the_lock_follows_symlinks_and_is_removed_afterwards(isolated, held_lock) -> None:
    """A second name (a symlink) of a checkpoint in use is refused too; a finished run leaves no lock."""
    w = isolated
    path, pid = held_lock
    link = w.work / "alias.npz"
    link.symlink_to(path)
    with pytest.raises(xpnet.errors.CheckpointError, match=f"in use by process {pid}"):
        w.api_train(checkpoint=link, resume=True)
    fresh = w.work / "fresh.npz"
    w.api_train(checkpoint=fresh)
    assert sorted(p.name for p in w.work.iterdir() if "fresh" in p.name) == ["fresh.npz"]


@pytest.mark.reliability("concurrency")
def test_a_lock_left_by_a_killed_run_is_taken_over(isolated) -> None:
    """SIGKILL leaves `.NAME.lock` behind; the OS released the lock, so the next run proceeds."""
    w = isolated
    path = w.work / "state.npz"
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "locked"
    proc.kill()
    exit_status(proc)
    proc.stdin.close()
    proc.stdout.close()
    lock = w.work / ".state.npz.lock"
    assert lock.read_text().strip() == str(proc.pid)
    w.api_train(checkpoint=path)
    assert path.exists() and not lock.exists()


@pytest.mark.backend_independent
@pytest.mark.reliability("concurrency")
def test_the_lock_is_reentrant_in_its_thread_only(tmp_path) -> None:
    """The command line and train() both take the lock in one thread; another thread is refused."""
    import threading

    from xpnet.training.lock import checkpoint_lock

    path = tmp_path / "state.npz"
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            with checkpoint_lock(path):
                pass
        except XpnetError as exc:
            errors.append(exc)

    with checkpoint_lock(path), checkpoint_lock(path):  # the CLI, then train()
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(errors) == 1 and "this process, in another thread" in str(errors[0])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.reliability("data loss")
def test_overwrite_replaces_and_resume_continues(isolated) -> None:
    """--overwrite starts afresh over an existing checkpoint; --resume continues it."""
    w = isolated
    path = w.file("state.npz", w.good.read_bytes())
    missing = w.work / "no-data-here"  # refused before any data is looked for
    argv = ["train", "--data-dir", str(missing), *RUN, "--checkpoint", str(path)]
    assert main(argv) == 2 and not missing.exists()
    assert main(w.train_argv("--checkpoint", str(path), "--overwrite", "--seed", "1")) == 0
    assert read_state_file(path)[0]["training"]["settings"]["seed"] == 1
    assert main(w.train_argv("--checkpoint", str(path), "--resume", "--seed", "1")) == 0
    assert sorted(p.name for p in w.work.iterdir()) == ["state.npz"]


# --- signals ---------------------------------------------------------------------------------

#: The command line in a process of its own, on the small MNIST of `world` (argv: data dir, ...).
SMALL_CLI = """
import sys
import xpnet.datasets.mnist as m
m.FILES = {k: (n, magic, 8 if k.startswith("train") else 4) for k, (n, magic, _) in m.FILES.items()}
from xpnet.cli import main
sys.exit(main(sys.argv[1:]))
"""


def start_small_cli(w: World, *argv: str) -> subprocess.Popen:
    """The command line in a child process, on the backend under test (``XPNET_BACKEND``).

    Signals and locks are the same whatever the array library: the children
    run on NumPy and array-api-strict only, which start in a second (PyTorch
    and JAX take several to import on a CI machine).
    """
    name = os.environ.get("XPNET_BACKEND") or "numpy"
    if name not in ("numpy", "array_api_strict"):
        pytest.skip("backend-independent; run in the numpy and array_api_strict sessions")
    with sigint_reaches_children():
        return subprocess.Popen(
            [sys.executable, "-c", SMALL_CLI, "train", "--data-dir", str(w.data), *argv],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip


def wait_for(path: Path, proc: subprocess.Popen) -> None:
    wait_until(path.exists, f"{path} to appear", process=proc)


@pytest.mark.reliability("signals")
@pytest.mark.parametrize(("signame", "status"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_sigterm_and_sighup_save_and_resume_exactly(isolated, signame, status) -> None:
    """SIGTERM/SIGHUP to `xpnet train`: saved, one line, 143/129; --resume equals a straight run.

    (What `timeout`, Docker and Slurm send.) The resumed run ends exactly where an
    uninterrupted run of as many iterations ends.
    """
    import signal

    w = isolated
    path = w.work / "state.npz"
    settings = ["--batch-size", "2", "--hidden", "5", "--eval-every", "50", "--quiet"]
    proc = start_small_cli(w, *settings, "--iters", "1000000", "--checkpoint", str(path))
    wait_for(path, proc)
    proc.send_signal(getattr(signal, signame))
    _, err = finish(proc)
    assert proc.returncode == status, err
    stopped = read_state_file(path)[0]["training"]["iteration"]
    assert err == (
        f"xpnet: interrupted ({signame} at iteration {stopped}). "
        "With --checkpoint, continue with --resume.\n"
    )
    assert sorted(p.name for p in w.work.iterdir()) == ["state.npz"]  # no lock, no temporary
    iters = ["--iters", str(stopped + 60)]
    argv = ["train", "--data-dir", str(w.data), *settings, *iters]
    assert main([*argv, "--checkpoint", str(path), "--resume"]) == 0
    assert main([*argv, "--checkpoint", str(w.work / "straight.npz")]) == 0
    resumed, straight = read_state_file(path), read_state_file(w.work / "straight.npz")
    assert resumed[0]["training"]["iteration"] == stopped + 60
    for key, value in straight[1].items():
        np.testing.assert_array_equal(resumed[1][key], value, err_msg=key)


@pytest.mark.reliability("concurrency")
def test_two_real_runs_on_one_checkpoint(isolated) -> None:
    """A second `xpnet train` on a checkpoint in use fails at once, naming the first's process.

    It fails before reading any data; the first run goes on undisturbed, stops on
    SIGTERM and leaves no lock behind.
    """
    import signal

    w = isolated
    path = w.work / "state.npz"
    first = start_small_cli(w, *RUN, "--iters", "1000000", "--checkpoint", str(path))
    wait_for(path, first)
    second = run_bounded(
        [sys.executable, "-m", "xpnet", "train", "--data-dir", str(w.work / "nothing"),
         "--checkpoint", str(path), "--resume"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert second.returncode == 2, second.stderr
    assert second.stderr == (
        f"xpnet: error: checkpoint {path} is in use by process {first.pid}; wait for that "
        "run to end, or stop it.\n"
    )
    assert first.poll() is None and not (w.work / "nothing").exists()
    first.send_signal(signal.SIGTERM)
    _, err = finish(first)
    assert first.returncode == 143, err
    assert sorted(p.name for p in w.work.iterdir()) == ["state.npz"]
    iteration = read_state_file(path)[0]["training"]["iteration"]
    more = ["--iters", str(iteration + 4), "--checkpoint", str(path), "--resume"]
    assert main(w.train_argv(*more)) == 0  # whole, and free to be continued
    assert read_state_file(path)[0]["training"]["iteration"] == iteration + 4


HOOK_INTERRUPT = """
import os, runpy, signal, sys
module, sys.argv = sys.argv[1], ["xpnet", *sys.argv[2:]]
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == module:
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
runpy.run_module("xpnet", run_name="__main__", alter_sys=True)
"""


@pytest.mark.backend_independent
@pytest.mark.reliability("signals")
@pytest.mark.parametrize(
    ("module", "argv"),
    [("xpnet.cli", ["info"]), ("matplotlib", ["plot", "descent-path", "--out", "OUT"])],
    ids=["importing the command line", "importing matplotlib for plot"],
)
def test_ctrl_c_while_importing_is_one_line(tmp_path, module, argv) -> None:
    """Ctrl-C while `python -m xpnet` imports its command line or a command's library: one line, 130."""
    pytest.importorskip("matplotlib")
    argv = [str(tmp_path / "f.png") if a == "OUT" else a for a in argv]
    with sigint_reaches_children():
        result = run_bounded(
            [sys.executable, "-c", HOOK_INTERRUPT, module, *argv],
            capture_output=True, text=True,
        )  # fmt: skip
    assert (result.returncode, result.stderr) == (130, "xpnet: interrupted.\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.backend_independent
@pytest.mark.reliability("signals")
@pytest.mark.parametrize("command", ["info", "plot", "gradcheck", "train"])
def test_the_resume_hint_is_only_for_train(monkeypatch, capsys, command) -> None:
    """Ctrl-C in `info`, `plot` or `gradcheck` says nothing about --resume."""
    from xpnet import cli

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, command, interrupted)
    argv = {"plot": ["plot", "descent-path", "--out", "x.png"]}.get(command, [command])
    assert main(argv) == 130
    hint = " With --checkpoint, continue with --resume." if command == "train" else ""
    assert capsys.readouterr().err == f"xpnet: interrupted.{hint}\n"


# --- resource bounds ------------------------------------------------------------------------


def peak_bytes(call: Callable[[], Any]) -> int:
    """Bytes allocated at the peak of `call()`, as tracemalloc sees them (NumPy's buffers too)."""
    import tracemalloc

    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


class StopAfter(xpnet.optim.SGD):
    """SGD that presses Ctrl-C (a real SIGINT) after `at` updates."""

    def __init__(self, lr: float, at: int) -> None:
        super().__init__(lr)
        self.calls, self.at = 0, at

    def apply(self, params, grads, state):
        self.calls += 1
        if self.calls == self.at:
            import signal

            os.kill(os.getpid(), signal.SIGINT)
        return super().apply(params, grads, state)


def small_problem(backend, n: int):
    rng = np.random.default_rng(0)
    x = xpnet.asarray(rng.random((n, 4)).astype(np.float32))
    t = xpnet.asarray(
        rng.integers(0, 2, n), dtype=xpnet.backend.index_dtype(backend.xp, backend.device)
    )
    return x, t


@pytest.mark.reliability("resource bounds")
def test_a_hundred_million_iterations_in_one_evaluation_block(backend, record_property) -> None:
    """iters = eval_every = 10**8: mini-batch indices are drawn per chunk, not 4 GB up front."""
    data = small_problem(backend, n=50)
    net = xpnet.TwoLayerNet(4, 3, 2, seed=0)
    # Eager: StopAfter presses Ctrl-C from Python at its 5th step, which a compiled
    # loop (JAX's default) would trace once and never call again.
    warm_up = StopAfter(0.1, at=-1)  # JAX compiles what it runs first: not under tracemalloc
    xpnet.train(net, data, iters=2, batch_size=5, optimizer=warm_up, verbose=0, compile=False)

    def run() -> None:
        with pytest.raises(KeyboardInterrupt):
            xpnet.train(net, data, iters=10**8, eval_every=10**8, batch_size=5, seed=0,
                        optimizer=StopAfter(0.1, at=5), verbose=0, compile=False)  # fmt: skip

    peak = peak_bytes(run)
    record_property("peak MB for 5 of 10**8 iterations", round(peak / 1e6, 2))
    assert peak < 4e6  # 10**8 x 5 indices of 8 bytes would be 4 GB


@pytest.mark.reliability("resource bounds")
def test_a_million_iteration_checkpoint_is_under_10_mb(backend, tmp_path, record_property) -> None:
    """The loss history is a float64 array in the checkpoint (8 bytes an iteration), not JSON."""
    from xpnet.training.checkpoint import Progress, write_checkpoint

    n, every = 1_000_000, 600
    evals = [*range(0, n, every), n - 1]
    history = xpnet.History(
        train_loss=np.random.default_rng(0).random(n).tolist(), eval_iters=evals,
        train_acc=[0.5] * len(evals), test_acc=[0.5] * len(evals), seconds=3600.0,
    )  # fmt: skip
    net = xpnet.TwoLayerNet(784, 50, 10, seed=0)
    optimizer = xpnet.optim.SGD(0.1)
    path = tmp_path / "long.npz"
    settings = {"batch_size": 100, "eval_every": every, "grad": "backprop", "train_size": 60000}
    write_checkpoint(path, net, optimizer, settings, Progress(n, history, {}))
    size = path.stat().st_size
    record_property("checkpoint MB for 1,000,000 iterations", round(size / 1e6, 2))
    assert size < 10e6
    assert load_history(path).train_loss == history.train_loss


@pytest.mark.reliability("resource bounds")
def test_initial_weights_are_drawn_in_their_dtype(backend, record_property) -> None:
    """No float64 copy: building a float32 network allocates its weights once (xpnet 0.1: 3x)."""
    w1 = 2000 * 5000 * 4
    peak = peak_bytes(lambda: xpnet.TwoLayerNet(2000, 5000, 10, seed=0))
    record_property("peak / W1 bytes", round(peak / w1, 2))
    assert peak < 1.5 * w1


@pytest.mark.reliability("resource bounds")
def test_sizes_are_checked_against_the_memory_there_is(backend, monkeypatch, tmp_path) -> None:
    """With 1 MB available: a 4 MB network and a 4 MB file are refused with both numbers."""
    net = xpnet.TwoLayerNet(100, 10000, 10, seed=0)
    net.save(tmp_path / "net.npz")
    if backend.library.free_memory(backend.device) is not None:
        pytest.skip("on an accelerator the network must fit in the device's memory")
    monkeypatch.setattr(xpnet._memory, "host_memory", lambda: 10**6)
    with pytest.raises(xpnet.errors.XpnetValueError, match=(
        r"TwoLayerNet\(100, 10000, 10\) with float32 parameters needs 4,440,040 bytes \(4.4 MB\), "
        r"more than the 1,000,000 bytes \(1.0 MB\) of memory available on this machine; reduce"
    )):  # fmt: skip
        xpnet.TwoLayerNet(100, 10000, 10)
    with pytest.raises(xpnet.errors.CheckpointError, match="reading its arrays needs 4,440,040"):
        xpnet.TwoLayerNet.load(tmp_path / "net.npz")


@pytest.mark.backend_independent
def test_host_memory_is_read() -> None:
    """Linux reports MemAvailable; anything else at least says nothing rather than nonsense."""
    available = xpnet._memory.host_memory()
    assert available is None or 1e6 < available < 1e16


# --- values and arrays --------------------------------------------------------------------------


@pytest.mark.reliability("bad input")
def test_a_numpy_scalar_learning_rate_is_accepted(backend) -> None:
    """train(lr=np.float32(0.1)): any real scalar type, as the validators promise."""
    data = small_problem(backend, n=50)
    for lr in (np.float32(0.1), np.int64(1)):
        h = xpnet.train(xpnet.TwoLayerNet(4, 3, 2, seed=0), data, iters=3, batch_size=5, lr=lr,
                        verbose=0)  # fmt: skip
        assert len(h.train_loss) == 3 and all(np.isfinite(h.train_loss))


@pytest.mark.reliability("bad input")
def test_big_endian_arrays_work_on_every_backend(backend, tmp_path) -> None:
    """Data and files in the other byte order (`>f4`) arrive in the machine's, on every backend."""
    rng = np.random.default_rng(0)
    host = rng.random((20, 4)).astype(">f4")
    x = xpnet.asarray(host)
    assert x.dtype == backend.xp.float32
    np.testing.assert_array_equal(xpnet.to_numpy(x), host.astype("<f4"))
    t = xpnet.asarray((np.arange(20) % 2).astype(">i8"))
    net = xpnet.TwoLayerNet(4, 3, 2, seed=0)
    h = xpnet.train(net, (x, t), iters=3, batch_size=5, verbose=0)
    assert all(np.isfinite(h.train_loss))
    # A network file whose arrays are big-endian loads as native float32.
    net.save(tmp_path / "net.npz")
    meta, arrays = read_state_file(tmp_path / "net.npz")
    write_state_file(tmp_path / "be.npz", meta, {k: v.astype(">f4") for k, v in arrays.items()})
    loaded = xpnet.TwoLayerNet.load(tmp_path / "be.npz")
    for name, value in net.params.items():
        assert loaded.params[name].dtype == backend.xp.float32
        np.testing.assert_array_equal(xpnet.to_numpy(loaded.params[name]), xpnet.to_numpy(value))


@pytest.mark.usefixtures("backend")  # PyTorch's devices: runs where torch is
@pytest.mark.reliability("bad input")
def test_torch_devices_are_checked() -> None:
    """`--device cpu:5` on PyTorch: one line naming the device, not a silent CPU."""
    pytest.importorskip("torch")
    import io
    from contextlib import redirect_stderr

    err = io.StringIO()
    with redirect_stderr(err):
        assert main(["gradcheck", "--backend", "torch", "--device", "cpu:5"]) == 2
    assert err.getvalue().count("\n") == 1 and "'cpu:5'" in err.getvalue()
    with pytest.raises(xpnet.errors.BackendError, match="'cpu:5'"):
        xpnet.TwoLayerNet(4, 3, 2, backend="torch", device="cpu:5")


@pytest.mark.reliability("data integrity")
def test_a_lying_cache_is_not_believed(world) -> None:
    """A cache holding label 200, and one built from an older source (older mtime): rebuilt."""
    caches = sorted(world.data.glob("train-labels-idx1-ubyte.*.npy"))
    assert len(caches) == 1, caches  # built by the world's first run
    np.save(caches[0], np.full(8, 200, dtype=np.uint8))
    (_, t), _ = load_mnist(data_dir=world.data, backend="numpy")
    expected = np.frombuffer(idx_bytes(2049, 8, seed=1)[8:], dtype=np.uint8)
    np.testing.assert_array_equal(xpnet.to_numpy(t), expected)
    source = world.data / "train-labels-idx1-ubyte.gz"
    source.write_bytes(gzip.compress(idx_bytes(2049, 8, seed=7), mtime=0))
    os.utime(source, (0, 0))  # as tar, rsync -a and cp -p leave a replaced file
    (_, t), _ = load_mnist(data_dir=world.data, backend="numpy")
    expected = np.frombuffer(idx_bytes(2049, 8, seed=7)[8:], dtype=np.uint8)
    np.testing.assert_array_equal(xpnet.to_numpy(t), expected)


@pytest.mark.reliability("resource bounds")
def test_an_accelerator_reports_its_own_memory(backend) -> None:
    """On a GPU (PyTorch, CuPy) a network is checked against the device's free memory."""
    free = backend.library.free_memory(backend.device)
    if free is None:
        pytest.skip(f"{backend.name} on {backend.device}: host memory is what counts")
    assert 0 < free < 1 << 50
    hidden = free // (4 * 794) + 1  # just over what fits in float32
    with pytest.raises(xpnet.errors.XpnetValueError, match=f"available on {backend.name} "):
        xpnet.TwoLayerNet(784, hidden, 10)


@pytest.mark.reliability("bad input")
def test_a_diverged_network_may_still_resume_its_checkpoint(isolated) -> None:
    """NaN weights are refused for a fresh run, not when the checkpoint's weights replace them."""
    w = isolated
    path = w.file("state.npz", w.good.read_bytes())
    train_data, test_data = load_mnist(data_dir=w.data)
    net = _nan_net()
    xpnet.train(net, train_data, test_data, iters=8, batch_size=2, eval_every=2, seed=0,
                verbose=0, checkpoint=path, resume=True)  # fmt: skip
    assert all(np.isfinite(xpnet.to_numpy(v)).all() for v in net.params.values())
