"""One line for what a sweep is told wrongly (issue 22, items 9, 11, 13, 15, 16): its own options
through --set, a word argparse did not know, a scheduler file that is missing or not one, more
workers than the machine runs, a sweep too large to start without --yes; and a learning rate
past float's range. No cluster is started here.
"""

from __future__ import annotations

import inspect

import pytest

import xpnet
from xpnet.cli import main
from xpnet.cli._space import MAX_RUNS, OWN
from xpnet.errors import XpnetValueError
from xpnet.sweep import driver, sweep
from xpnet.sweep.cluster import PER_CORE, cores, most_workers

pytestmark = pytest.mark.backend_independent


def one_line(capsys, argv, status=2) -> str:
    assert main(argv) == status
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("xpnet: error: "), err
    return err


SWEEP_KEYWORDS = [
    name
    for name, p in inspect.signature(sweep).parameters.items()
    if p.kind is not inspect.Parameter.VAR_KEYWORD
]


def test_every_keyword_of_sweep_is_known_to_the_command_line() -> None:
    """A keyword added to sweep() must say where the command line takes it (cli/_sweep.py)."""
    assert sorted(OWN) == sorted(SWEEP_KEYWORDS)


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize("name", SWEEP_KEYWORDS)
def test_set_with_an_option_of_the_sweep_itself_is_one_line(tmp_path, capsys, name) -> None:
    """`--set verbose=1` (any of sweep()'s own keywords): one line saying where it goes."""
    store = tmp_path / "s.db"
    err = one_line(capsys, ["sweep", "--serial", "--lr", "0.1", "--set", f"{name}=1",
                            "--store", str(store)])  # fmt: skip
    assert f"`{name}` is an option of the sweep itself, not a setting of its runs" in err
    assert not store.exists()


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize(
    ("argv", "unknown"),
    [
        (["--lr", "0.1", "--bogus", "3"], "--bogus 3"),
        (["--bogus", "3", "--lr", "0.1"], "--bogus 3"),
        (["--lr", "0.1", "3"], "3"),
        (["report", "--bogus"], "--bogus"),
    ],
)
def test_an_unknown_option_is_named_not_taken_for_a_sub_command(
    tmp_path, capsys, argv, unknown
) -> None:
    """`sweep --lr 0.1 --bogus 3`: "unrecognized arguments: --bogus 3", not "invalid choice"."""
    err = one_line(capsys, ["sweep", *argv, "--store", str(tmp_path / "s.db")])
    assert err == f"xpnet: error: unrecognized arguments: {unknown}\n"


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Scheduler file '{path}' does not exist"),
        ("garbage{", "'{path}' is not a Dask scheduler file: not JSON"),
        ('{"id": "Scheduler-1"}', "'{path}' is not a Dask scheduler file: it names no address"),
        ('["tcp://127.0.0.1:1"]', "it names no address"),
    ],
    ids=["missing", "not JSON", "no address", "a list"],
)
def test_a_scheduler_file_that_is_not_one_is_one_line(tmp_path, capsys, content, message) -> None:
    """--scheduler FILE.json missing, not JSON, or without an address: one line, no Dask traceback."""
    pytest.importorskip("distributed")
    path = tmp_path / "scheduler.json"
    if content is not None:
        path.write_text(content)
    err = one_line(capsys, ["sweep", "--lr", "0.1", "--scheduler", str(path), "--timeout", "1",
                            "--store", str(tmp_path / "s.db")])  # fmt: skip
    assert message.format(path=path) in err
    assert "missing port number" not in err


@pytest.mark.reliability("resource bounds")
def test_more_workers_than_the_machine_runs_are_refused_up_front(
    tmp_path, capsys, monkeypatch
) -> None:
    """--workers 1000 on a few cores: refused in one line naming the bound, before any starts."""
    bound, why = most_workers()
    assert bound <= PER_CORE * cores()
    err = one_line(capsys, ["sweep", "--lr", "0.1", "--workers", str(bound + 1), "--store",
                            str(tmp_path / "s.db")])  # fmt: skip
    assert f"`workers`={bound + 1} is more than this machine can run: {why}" in err
    assert f"at most --workers {bound}" in err
    with pytest.raises(XpnetValueError, match="more than this machine can run"):
        sweep({"lr": [0.1]}, workers=10**6, store=tmp_path / "s.db", verbose=0)
    assert not (tmp_path / "s.db").exists()
    # the memory, where it is the tighter bound: 2 GB hold 6 workers of 300 MB
    monkeypatch.setattr("xpnet._memory.host_memory", lambda: 2 * 10**9)
    monkeypatch.setattr("xpnet.sweep.cluster.cores", lambda: 64)
    assert most_workers() == (
        6,
        "2,000,000,000 bytes (2.0 GB) of memory available, about 300 MB per worker",
    )


@pytest.mark.reliability("resource bounds")
@pytest.mark.parametrize(
    "argv",
    [["--random", "1000000", "--lr", "1e-4:1:log"], ["--seed", "0..200", "--hidden", "1..100"]],
    ids=["--random 1000000", "a grid of 20,301"],
)
def test_a_sweep_too_large_to_start_needs_yes(tmp_path, capsys, monkeypatch, argv) -> None:
    """More than 10,000 runs: refused at once (before its points are made) unless --yes."""
    store = ["--store", str(tmp_path / "s.db")]
    err = one_line(capsys, ["sweep", *argv, *store])
    assert f"more than {MAX_RUNS:,}" in err and "add --yes" in err
    made = []
    monkeypatch.setattr("xpnet.sweep.sweep", lambda space, **kw: made.append(len(space)) or 1 / 0)
    monkeypatch.setattr("xpnet.cli._space.MAX_RUNS", 10**7)
    with pytest.raises(ZeroDivisionError):  # past the check: the space is made and handed on
        main(["sweep", *argv, "--yes", *store])
    assert made and made[0] > MAX_RUNS


def test_preparing_many_runs_says_so(capsys, monkeypatch) -> None:
    """Preparing a large space shows progress (a line per run is not the place for it)."""
    monkeypatch.setattr(driver, "PREPARING_FROM", 3)
    points = [{"lr": lr} for lr in (0.1, 0.2, 0.3)]
    runs = driver._runs(points, {"backend": "numpy"}, "mnist", False, verbose=2)
    assert len(runs) == 3 and capsys.readouterr().out == "sweep: preparing 3 runs\n"


@pytest.mark.reliability("bad input")
@pytest.mark.parametrize("value", [10**400, -(10**400)], ids=["10**400", "-10**400"])
def test_a_rate_past_float_range_is_refused(value) -> None:
    """SGD(lr=10**400): the float check's own error, not OverflowError."""
    with pytest.raises(
        XpnetValueError,
        match=r"`lr` must be a finite positive number. Received: an integer of 401 digits",
    ):
        xpnet.optim.SGD(lr=value)
    with pytest.raises(XpnetValueError, match=r"`momentum` must be finite"):
        xpnet.optim.Momentum(lr=0.1, momentum=value)
