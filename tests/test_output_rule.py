"""One output rule for every command: no output is the same file as an input or a store.

The rule lives in ``xpnet._io.check_distinct``; what each option names is one table,
``xpnet.cli._paths.PATHS``. The first test walks the real parser, so an option added
later without a row in the table fails here (issue 22, item 1).
"""

from __future__ import annotations

import argparse
import os
import pathlib

import pytest

from xpnet.cli import main
from xpnet.cli._parser import build_parser
from xpnet.cli._paths import PATHS, TEXT
from xpnet.sweep.store import Store

pytestmark = pytest.mark.backend_independent


def commands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> dict[str, argparse.ArgumentParser]:
    """Every command and sub-command of `parser`: {"train": ..., "sweep report": ...}."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix}{name}"] = sub
                found.update(commands(sub, f"{prefix}{name} "))
    return found


def free_text(action: argparse.Action) -> bool:
    """Whether an option takes text that could name a file: a value with no choices, kept
    as a string (no type, str, or a path class such as pathlib.Path), not parsed into a number."""
    takes_value = action.nargs != 0 and action.option_strings
    kind = action.type
    plain = kind is None or (isinstance(kind, type) and issubclass(kind, str | os.PathLike))
    return bool(takes_value and action.choices is None and plain)


def test_every_option_that_may_name_a_file_is_in_the_table() -> None:
    """The parser, walked: every free-text option of every command has a role in PATHS."""
    found = commands(build_parser())
    assert sorted(found) == sorted(PATHS), "a command without a row in xpnet/cli/_paths.py"
    for name, parser in found.items():
        options = {
            option: action
            for action in parser._actions
            for option in action.option_strings
            if option.startswith("--")
        }
        missing = [o for o, a in options.items() if free_text(a) and o not in PATHS[name]]
        assert not missing, f"`xpnet {name}` options without a role in PATHS: {missing}"
        stale = [o for o in PATHS[name] if o not in options]
        assert not stale, f"PATHS names options `xpnet {name}` does not have: {stale}"
        paths = [o for o, role in PATHS[name].items() if role != TEXT]
        assert all(free_text(options[o]) for o in paths), "a path option that parses its value"
        # check_paths reads each path option from the attribute its name gives
        assert all(options[o].dest == o[2:].replace("-", "_") for o in paths)


def test_the_walk_sees_a_new_option() -> None:
    """The check above is not vacuous: an unlisted option is found."""
    parser = build_parser()
    commands(parser)["sweep report"].add_argument("--summary", default=None)
    sub = commands(parser)["sweep report"]
    action = next(a for a in sub._actions if "--summary" in a.option_strings)
    assert free_text(action) and "--summary" not in PATHS["sweep report"]
    typed = sub.add_argument("--where", type=pathlib.Path)
    assert free_text(typed)


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A real sweep store, its symlink and hard link, a checkpoint name, and two summaries."""
    monkeypatch.chdir(tmp_path)
    with Store("r.db") as store:
        store.mark_running([("k1", {"lr": 0.1})], client="test")
        store.record("k1", {"status": "failed", "error": "XpnetValueError: for the test"})
    os.symlink("r.db", "link.db")
    os.link("r.db", "hard.db")
    for name in ("a.json", "b.json", "sched.json", "x.png"):
        pathlib.Path(name).write_text('{"history": {}}\n')
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b")
    return tmp_path


CASES = [
    (["sweep", "report", "--store", "r.db", "--json", "r.db"], "`--json` 'r.db' is the same file as `--store` 'r.db'"),
    (["sweep", "report", "--store", "r.db", "--json", "link.db"], "`--json` 'link.db' is the same file as `--store` 'r.db'"),
    (["sweep", "report", "--store", "link.db", "--json", "hard.db"], "`--json` 'hard.db' is the same file as `--store` 'link.db'"),
    (["sweep", "report", "--store", "r.db", "--json", "r.db-wal"], "is the -wal file of `--store` 'r.db'"),
    (["sweep", "report", "--store", "link.db", "--json", "r.db-shm"], "is the -shm file of `--store` 'link.db'"),
    (["sweep", "--serial", "--lr", "0.1", "--store", "r.db", "--json", "r.db"], "`--json` 'r.db' is the same file as `--store`"),
    (["sweep", "--lr", "0.1", "--scheduler", "sched.json", "--store", "s.db", "--json", "sched.json"], "as `--scheduler` 'sched.json'"),
    (["plot", "sweep", "--store", "x.png", "--out", "x.png"], "`--out` 'x.png' is the same file as `--store` 'x.png'"),
    (["plot", "sweep", "--store", "r.db", "--out", "r.db-wal"], "is the -wal file of `--store` 'r.db'"),
    (["plot", "curves", "--checkpoint", "a.json", "--out", "a.json"], "as `--checkpoint` 'a.json'"),
    (["plot", "compare", "--json", "a.json", "b.json", "--out", "b.json"], "`--out` 'b.json' is the same file as `--json` 'b.json'"),
    (["train", "--checkpoint", "c.npz", "--json", "c.npz"], "`--json` 'c.npz' is the same file as `--checkpoint` 'c.npz'"),
    (["train", "--checkpoint", "c.npz", "--plot", ".c.npz.lock"], "is the lock of `--checkpoint` 'c.npz'"),
    (["train", "--json", "a.json", "--plot", "a.json"], "`--plot` 'a.json' is the same file as `--json` 'a.json'"),
    (["train", "--data-dir", "data", "--json", "data/train-labels-idx1-ubyte.gz"], "as `--data-dir` 'data/train-labels-idx1-ubyte.gz'"),
    (["gradcheck", "--data-dir", "data", "--mnist", "--json", "data/train-labels-idx1-ubyte.gz"], "as `--data-dir`"),
]  # fmt: skip


@pytest.mark.reliability("data loss")
@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_no_output_overwrites_an_input_or_a_store(files, capsys, argv, message) -> None:
    """An output naming an input, a store (its -wal/-shm, lock, symlinks, hard links): one line."""
    before = {p: p.read_bytes() for p in files.rglob("*") if p.is_file() and not p.is_symlink()}
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err, err
    assert "writing it would destroy what it holds" in err
    after = {p: p.read_bytes() for p in files.rglob("*") if p.is_file() and not p.is_symlink()}
    assert after == before  # nothing written, nothing created


@pytest.mark.parametrize("summary", ["runs.json", "-", os.devnull])
def test_distinct_outputs_are_written(files, capsys, summary) -> None:
    """Outputs that name no input are written: a file, standard output, a device."""
    assert main(["sweep", "report", "--store", "r.db", "--json", summary]) == 1  # 1 failed run
    captured = capsys.readouterr()
    people = captured.err if summary == "-" else captured.out
    assert "1 runs in r.db: 0 done, 1 failed" in people
    if summary != os.devnull:
        text = captured.out if summary == "-" else (files / summary).read_text()
        assert '"key": "k1"' in text
