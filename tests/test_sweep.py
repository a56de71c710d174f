"""Sweeps run here (client="serial") on the backend under test: spaces, settings, store, reruns."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import types

import numpy as np
import pytest

import xpnet
from conftest import DEVICE_NAME
from xpnet.errors import (
    CheckpointError,
    NotInstalledError,
    XpnetError,
    XpnetTypeError,
    XpnetValueError,
)
from xpnet.sweep import Choice, LogUniform, Uniform, grid, random_search, read_runs, sweep
from xpnet.sweep.settings import plan, resolve, run_key


def blobs(n=160, d=6, c=3, seed=0):
    """Host arrays of a small separable problem: class k lives around the k-th corner."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=n)
    x = (rng.normal(0.0, 0.6, size=(n, d)) + np.eye(c, d)[labels]).astype(np.float32)
    return x, labels.astype(np.int64)


#: Every run of these tests: a tiny network, few iterations, two evaluations or three.
TINY = {"hidden": 8, "weight_init_std": 1.0, "iters": 60, "batch_size": 20, "eval_every": 25}


def run_sweep(backend, tmp_path, space, store="s.db", **kwargs):
    """A serial sweep on the backend under test, on blobs() with a test split."""
    train_data = kwargs.pop("train_data", blobs())
    settings = {**TINY, "backend": backend.name, "device": DEVICE_NAME, **kwargs}
    return sweep(space, train_data=train_data, test_data=blobs(n=60, seed=1),
                 store=tmp_path / store, client="serial", verbose=0, **settings)  # fmt: skip


def direct(backend, lr, seed=0, **overrides):
    """The same run as run_sweep's, by hand: a fresh TwoLayerNet and one train()."""
    b = backend
    labels = xpnet.backend.index_dtype(b.xp, b.device)
    (x, t), (xt, tt) = blobs(), blobs(n=60, seed=1)
    data = [xpnet.asarray(x, dtype="float32", backend=b), xpnet.asarray(t, dtype=labels, backend=b)]
    test = [
        xpnet.asarray(xt, dtype="float32", backend=b),
        xpnet.asarray(tt, dtype=labels, backend=b),
    ]
    net = xpnet.TwoLayerNet(6, 8, 3, weight_init_std=1.0, backend=b, seed=seed, **overrides)
    history = xpnet.train(net, tuple(data), tuple(test), iters=60, batch_size=20, lr=lr,
                          eval_every=25, seed=seed, verbose=0)  # fmt: skip
    return history


# --- spaces ----------------------------------------------------------------------------


@pytest.mark.backend_independent
def test_grid_is_every_combination_in_order() -> None:
    points = grid({"lr": [0.1, 1.0], "seed": range(3)})
    assert points == [{"lr": lr, "seed": s} for lr in (0.1, 1.0) for s in range(3)]


@pytest.mark.backend_independent
def test_random_search_is_reproducible_and_in_range() -> None:
    axes = {"lr": LogUniform(1e-6, 1e-2), "momentum": Uniform(0.5, 0.9), "hidden": [50, 100]}
    first, again = random_search(axes, n=200, seed=3), random_search(axes, n=200, seed=3)
    assert first == again and first != random_search(axes, n=200, seed=4)
    lrs = np.array([p["lr"] for p in first])
    assert lrs.min() >= 1e-6 and lrs.max() <= 1e-2
    # log-uniform: about a quarter of the draws in each of the four decades
    assert np.all(np.histogram(np.log10(lrs), bins=4, range=(-6, -2))[0] > 25)
    assert all(0.5 <= p["momentum"] <= 0.9 for p in first)
    assert {p["hidden"] for p in first} == {50, 100}
    assert Choice(["a", "b"]).values == ("a", "b")


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: grid({"lr": []}), XpnetValueError, "Axis `lr` is empty"),
        (lambda: grid({"lr": 0.1}), XpnetTypeError, "must be a list of values"),
        (lambda: grid({"activation": "relu"}), XpnetTypeError, "must be a list of values"),
        (lambda: grid({}), XpnetTypeError, "non-empty dict"),
        (lambda: LogUniform(0.0, 1.0), XpnetValueError, "must be positive on a log scale"),
        (lambda: Uniform(1.0, 1.0), XpnetValueError, "must be below `high`"),
        (lambda: Choice([]), XpnetValueError, "is empty"),
        (
            lambda: random_search({"lr": LogUniform(1e-3, 1)}, n=0),
            XpnetValueError,
            "`n` must be positive",
        ),
    ],
)
@pytest.mark.reliability("bad input")
def test_bad_spaces_are_clear_errors(make, error, match) -> None:
    with pytest.raises(error, match=match):
        make()


# --- settings ----------------------------------------------------------------------------


@pytest.mark.backend_independent
def test_settings_go_where_the_signatures_take_them() -> None:
    s = resolve(
        {"lr": 1, "hidden": 20}, {"activation": "relu", "iters": 100}, data="d", backend="numpy"
    )
    p = plan(s)
    assert p.net_class is xpnet.TwoLayerNet
    assert p.net_kwargs == {"hidden_size": 20, "activation": "relu", "seed": 0}
    assert p.train_kwargs == {"iters": 100, "batch_size": 100, "lr": 1.0, "seed": 0}
    assert (p.backend, p.dtype, p.device) == ("numpy", "float32", None)
    # A default given explicitly, an int for a float, an alias: the same run, the same key.
    same = resolve({"lr": 1.0, "hidden_size": 20, "grad": "backprop"},
                   {"activation": "relu", "iters": 100}, data="d", backend="numpy")  # fmt: skip
    assert run_key(same) == run_key(s)
    assert run_key(resolve({"lr": 1.0, "hidden_size": 21}, {"activation": "relu", "iters": 100},
                           data="d", backend="numpy")) != run_key(s)  # fmt: skip


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("point", "fixed", "match"),
    [
        ({"lrr": 0.1}, {}, r"Unknown setting `lrr`.*Did you mean `lr`\?"),
        ({"lr": 0.1}, {"lr": 0.2}, "both swept and fixed"),
        ({"lr": -1.0}, {}, "`lr` must be a finite positive number"),
        ({"lr": float("nan")}, {}, "must be finite"),
        ({"checkpoint": "x.npz"}, {}, "the sweep fills it in"),
        ({"hidden": 5, "hidden_size": 5}, {}, "name the same setting"),
        ({"net": "ResNet"}, {}, "`net` must be one of"),
        ({"backend": "tensorflow"}, {}, "`backend` must be one of"),
        ({"optimizer": object()}, {}, "must be a number, a string"),
    ],
)
@pytest.mark.reliability("bad input")
def test_bad_settings_fail_before_any_work(tmp_path, point, fixed, match) -> None:
    x, t = blobs()
    with pytest.raises(XpnetError, match=match):
        sweep([point], train_data=(x, t), store=tmp_path / "s.db", client="serial", **fixed)
    assert not (tmp_path / "s.db").exists()


# --- runs ----------------------------------------------------------------------------------


def test_a_run_equals_training_by_hand(backend, tmp_path) -> None:
    """Each stored run holds exactly the numbers of one train() of a fresh network."""
    result = run_sweep(backend, tmp_path, [{"lr": 0.5, "seed": 0}, {"lr": 2.0, "seed": 1}])
    assert result.executed == 2 and [r.status for r in result.runs] == ["done"] * 2
    for record in result.runs:
        expected = direct(backend, record.settings["lr"], record.settings["seed"])
        assert record.eval_iters == expected.eval_iters == [0, 25, 50, 59]
        assert record.train_acc == expected.train_acc
        assert record.test_acc == expected.test_acc
        assert record.train_loss == expected.train_loss
        assert record.final_test_acc == expected.test_acc[-1]
        assert (record.backend, record.device) == (backend.name, str(backend.device))
        assert record.seconds > 0 and record.worker.endswith(f":{os.getpid()}")
    assert result.best(1)[0].final_test_acc == max(r.final_test_acc for r in result.runs)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's overflow, on the way to the error
@pytest.mark.reliability("faults")
def test_divergence_is_recorded_and_reruns_do_only_what_is_missing(backend, tmp_path) -> None:
    space = {"lr": [0.5, 1e30]}
    first = run_sweep(backend, tmp_path, space, activation="relu")
    good, bad = first.runs
    assert (good.status, bad.status, first.executed) == ("done", "failed", 2)
    assert bad.error.startswith("TrainingDivergedError: The training loss became")
    assert "lr=1e+30" in bad.error and bad.final_test_acc is None

    again = run_sweep(backend, tmp_path, space, activation="relu")
    assert again.executed == 0 and again.runs == first.runs

    wider = run_sweep(backend, tmp_path, {"lr": [0.5, 1e30, 2.0]}, activation="relu")
    assert wider.executed == 1 and wider.runs[:2] == first.runs

    retried = run_sweep(backend, tmp_path, space, activation="relu", retry_failed=True)
    assert retried.executed == 1 and retried.runs[0] == good
    assert retried.runs[1].status == "failed" and retried.runs[1].attempts == 2
    assert len(read_runs(tmp_path / "s.db")) == 3


def test_duplicate_points_run_once(backend, tmp_path) -> None:
    result = run_sweep(backend, tmp_path, [{"lr": 1}, {"lr": 1.0}, {"lr": 2.0}])
    assert result.executed == 2 and len(result.runs) == 2


def test_validation_fraction_holds_out_the_same_samples_as_explicit_arrays(
    backend, tmp_path
) -> None:
    """validation=0.25 equals passing the book's split (shuffled once, the first quarter held out)."""
    x, t = blobs()
    order = np.random.default_rng(0).permutation(len(x))
    held, rest = order[: len(x) // 4], order[len(x) // 4 :]
    by_fraction = run_sweep(backend, tmp_path, {"lr": [0.5, 2.0]}, validation=0.25)
    by_arrays = run_sweep(backend, tmp_path, {"lr": [0.5, 2.0]}, store="t.db",
                          train_data=(x[rest], t[rest]), validation=(x[held], t[held]))  # fmt: skip
    for a, b in zip(by_fraction.runs, by_arrays.runs, strict=True):
        assert a.final_val_acc is not None and a.final_val_acc == b.final_val_acc
        assert (a.train_acc, a.test_acc, a.train_loss) == (b.train_acc, b.test_acc, b.train_loss)
    assert xpnet.sweep.report.metric(by_fraction.runs) == "val_acc"
    assert by_fraction.best(1)[0].final_val_acc == max(r.final_val_acc for r in by_fraction.runs)
    assert by_fraction.runs[0].settings["validation"] == 0.25


def test_validation_goes_to_train_when_train_takes_it(backend, tmp_path, monkeypatch) -> None:
    """When train() accepts `validation` (chapter 6), the sweep hands the split to it and
    stores the History's val_acc curve."""
    import xpnet.sweep.run as run_module

    seen = {}

    def train_with_validation(net, train_data, test_data=None, *, validation=None, **kwargs):
        history = xpnet.train(net, train_data, test_data, **kwargs)
        seen["n"] = validation[0].shape[0]
        return types.SimpleNamespace(
            **{**history.to_dict(), "val_acc": [0.25] * len(history.eval_iters)}
        )

    monkeypatch.setattr(run_module, "train", train_with_validation)
    result = run_sweep(backend, tmp_path, {"lr": [0.5]}, validation=0.25)
    assert seen["n"] == 40
    assert result.runs[0].val_acc == [0.25] * 4 and result.runs[0].final_val_acc == 0.25


def test_network_keywords_are_axes(backend, tmp_path) -> None:
    result = run_sweep(backend, tmp_path, {"activation": ["sigmoid", "relu"]}, lr=1.0)
    sigmoid, relu = result.runs
    assert sigmoid.train_acc == direct(backend, 1.0).train_acc
    assert relu.train_acc == direct(backend, 1.0, activation="relu").train_acc
    assert result.table().splitlines()[0].split()[:2] == ["rank", "activation"]


# --- the store -----------------------------------------------------------------------------


def _sqlite_with(path, *statements):
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda p: p.write_text("lr,acc\n0.1,0.9\n"),
            "is not an xpnet sweep store: not an SQLite database",
        ),
        (
            lambda p: _sqlite_with(p, "CREATE TABLE t (a)"),
            r"an SQLite database with tables \['t'\]",
        ),
        (lambda p: p.mkdir(), "must be a file path, not a directory"),
        (
            lambda p: _sqlite_with(
                p,
                "CREATE TABLE meta (name, value)",
                "CREATE TABLE runs (key)",
                "INSERT INTO meta VALUES ('format', 'xpnet-sweep')",
                "INSERT INTO meta VALUES ('schema_version', '99')",
            ),
            "schema version 99 .* reads version 1",
        ),
    ],
)
@pytest.mark.reliability("data integrity")
def test_a_file_that_is_not_this_store_is_refused(tmp_path, make, match) -> None:
    path = tmp_path / "s.db"
    make(path)
    before = path.read_bytes() if path.is_file() else None
    x, t = blobs()
    with pytest.raises(XpnetError, match=match):
        sweep({"lr": [0.1]}, train_data=(x, t), store=path, client="serial", verbose=0, iters=5)
    if path.is_dir():
        return
    assert path.read_bytes() == before  # left as it was
    with pytest.raises(CheckpointError, match=match):
        read_runs(path)


@pytest.mark.backend_independent
def test_reading_a_missing_store_says_so(tmp_path) -> None:
    with pytest.raises(CheckpointError, match=r"No sweep store at .*does not exist"):
        read_runs(tmp_path / "nothing.db")


@pytest.mark.reliability("concurrency")
def test_a_store_in_use_by_a_live_sweep_is_refused(backend, tmp_path) -> None:
    """Rows marked running by another live process on this host: a second sweep waits its turn."""
    import socket

    from xpnet.sweep.store import Store

    # Lives until killed below (it reads a pipe that nobody writes to).
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    try:
        with Store(tmp_path / "s.db") as store:
            store.mark_running([("k", {"lr": 1.0})], client=f"{socket.gethostname()}:{other.pid}")
        with pytest.raises(CheckpointError, match=f"in use by another sweep .*:{other.pid}"):
            run_sweep(backend, tmp_path, {"lr": [0.5]})
    finally:
        other.kill()
        other.wait()
        other.stdin.close()
    assert run_sweep(backend, tmp_path, {"lr": [0.5]}).executed == 1  # its owner is gone


@pytest.mark.reliability("data loss")
def test_a_store_that_cannot_be_written_loses_nothing_stored(
    backend, tmp_path, monkeypatch
) -> None:
    """A full disk while recording a result: one clear error; what was stored stays, the run that
    could not be recorded is given back (not left `running`); a rerun ends it."""
    import xpnet.sweep.store as store_module

    first = run_sweep(backend, tmp_path, {"lr": [0.5]})
    connect = store_module.connect

    class DiskFull:
        def __init__(self, conn):
            self.conn = conn

        def __getattr__(self, name):
            return getattr(self.conn, name)

        def execute(self, sql, *args):
            if sql.startswith("UPDATE runs"):
                raise sqlite3.OperationalError("database or disk is full")
            return self.conn.execute(sql, *args)

    monkeypatch.setattr(store_module, "connect", lambda *a, **k: DiskFull(connect(*a, **k)))
    with pytest.raises(
        xpnet.errors.OutputError, match=r"cannot write to the sweep store .*disk is full"
    ):
        run_sweep(backend, tmp_path, {"lr": [0.5, 2.0]})
    monkeypatch.setattr(store_module, "connect", connect)
    stored = read_runs(tmp_path / "s.db")
    assert stored == first.runs
    assert run_sweep(backend, tmp_path, {"lr": [0.5, 2.0]}).executed == 1


# --- optional libraries ------------------------------------------------------------------


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_missing_dask_names_the_extra(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    x, t = blobs()
    with pytest.raises(NotInstalledError, match=r"pip install 'xpnet\[distributed\]'"):
        sweep({"lr": [0.1]}, train_data=(x, t), store=tmp_path / "s.db", verbose=0, iters=5)


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_gpus_without_dask_cuda_names_the_extra(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "dask_cuda", None)
    x, t = blobs()
    with pytest.raises(NotInstalledError, match=r"dask-cuda.*pip install 'xpnet\[cuda12\]'"):
        sweep(
            {"lr": [0.1]}, train_data=(x, t), store=tmp_path / "s.db", verbose=0, iters=5, gpus=True
        )


# --- the figure ----------------------------------------------------------------------------


def _record(key, status="done", acc=None, **settings):
    from xpnet.sweep.store import RunRecord

    return RunRecord(key, {"seed": 0, **settings}, status, final_test_acc=acc)


@pytest.mark.backend_independent
def test_sweep_figure_is_a_heat_map_for_a_two_setting_grid() -> None:
    pytest.importorskip("matplotlib")
    from xpnet.plot import sweep_accuracy

    runs = [_record(f"{lr}-{h}", acc=lr / 10 + h / 1000, lr=lr, hidden_size=h)
            for lr in (0.1, 1.0, 3.0) for h in (20, 50)]  # fmt: skip
    runs.append(_record("bad", status="failed", lr=9.0, hidden_size=20))
    fig = sweep_accuracy(runs)
    (ax,) = [a for a in fig.axes if a.images]
    cells = ax.images[0].get_array()
    assert cells.shape == (3, 2)  # lr (rows) by hidden_size (columns): the settings' order
    assert cells[2, 1] == pytest.approx(0.35)  # lr 3.0, hidden 50
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("lr", "hidden_size")
    assert {t.get_text() for t in ax.texts} >= {"0.350", "0.030"}


@pytest.mark.backend_independent
def test_sweep_figure_has_a_panel_per_setting_and_marks_failures() -> None:
    pytest.importorskip("matplotlib")
    from xpnet.plot import sweep_accuracy

    runs = [_record(str(i), acc=0.5, lr=10.0**-i, activation="relu", seed=i) for i in range(4)]
    runs.append(_record("x", status="failed", lr=10.0, activation="sigmoid", seed=9))
    fig = sweep_accuracy(runs)
    assert [a.get_xlabel() for a in fig.axes] == ["seed", "lr", "activation"]
    lr_axis = fig.axes[1]
    assert lr_axis.get_xscale() == "log" and lr_axis.get_legend() is not None
    with pytest.raises(XpnetValueError, match="settings differ"):
        sweep_accuracy(runs[:1])
