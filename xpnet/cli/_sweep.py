"""``xpnet sweep`` (a grid or a random search, on Dask) and ``xpnet sweep report``.

What each setting option takes, and the space it makes: :mod:`._space`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from ._output import STDOUT, check_json_path, people_to_stderr, write_json
from ._space import AXES, MAX_RUNS, build_space, specs
from ._types import POSITIVE_FLOAT, POSITIVE_INT, Parser, UsageError

__all__ = ["add_sweep_parser", "build_space", "cmd_sweep"]

DESCRIPTION = """\
Train a fresh network for every point of a grid (or of a random search) on an
embedded Dask cluster (one single-threaded worker per core), on one worker per
GPU (--gpus), on an existing cluster (--scheduler) or here (--serial). Each
result is committed to the SQLite --store as it arrives; the same command again
runs only what is missing. `xpnet sweep report` prints the best runs again.

SPEC: a value (fixed), a list 0.01,0.1,1, an integer range 0..4, or with
--random N a range to draw from, 1e-6:1e-2:log (log-uniform) or 0.5:0.99."""


def add_sweep_parser(sub: Any) -> None:
    """``xpnet sweep [SETTINGS] [--random N]`` and ``xpnet sweep report``."""
    s = sub.add_parser(
        "sweep", help="train many networks (a grid or a random search) on Dask",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    group = s.add_argument_group("settings (SPEC: 0.1 | 0.01,0.1,1 | 0..4 | 1e-6:1e-2:log)")
    for option, setting, _, _, text in AXES:
        group.add_argument(option, dest=f"axis_{setting}", metavar="SPEC", help=text)
    group.add_argument(
        "--set", action="append", default=[], metavar="NAME=SPEC",
        help="any other keyword of the network or xpnet.train() (repeatable)",
    )  # fmt: skip
    s.add_argument("--random", type=POSITIVE_INT, metavar="N", help="draw N random points")
    s.add_argument("--random-seed", type=int, default=0, help="seed of the draws (default 0)")
    s.add_argument("--device", default=None, help="device of every run (default: the backend's)")
    s.add_argument("--data-dir", default=None, help="MNIST folder (default: XPNET_DATA)")
    s.add_argument(
        "--validation", type=POSITIVE_FLOAT, default=None, metavar="FRACTION",
        help="hold out this fraction of the training data; rank runs on it",
    )  # fmt: skip
    where = s.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=POSITIVE_INT, help="local worker processes (default: cores)"
    )
    where.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, or its file")
    where.add_argument("--gpus", action="store_true", help="one worker per GPU (dask-cuda)")
    where.add_argument("--serial", action="store_true", help="run here, one run after another")
    s.add_argument(
        "--timeout", type=POSITIVE_FLOAT, default=10.0,
        help="seconds to reach --scheduler, and to wait for its first worker (default 10)",
    )  # fmt: skip
    s.add_argument("--retries", type=int, default=2, help="tries again of a run that raised")
    s.add_argument("--retry-failed", action="store_true", help="run failed runs again too")
    s.add_argument(
        "--steal", action="store_true",
        help="take over runs another sweep left running when it cannot be told dead "
        "(it ran on another host, or is an older xpnet's process)",
    )  # fmt: skip
    s.add_argument(
        "--yes", action="store_true", help=f"start a sweep of more than {MAX_RUNS:,} runs"
    )
    _add_output_options(s)
    actions = s.add_subparsers(
        dest="sweep_action", parser_class=Parser, metavar="{report}", action=_Actions
    )
    r = actions.add_parser("report", help="the best runs of a store")
    _add_output_options(r)


class _AnyWord(Mapping[str, Any]):
    """The sub-commands of ``xpnet sweep``, letting any word through to :class:`_Actions`."""

    def __init__(self, names: dict[str, Any]) -> None:
        self.names = names

    def __getitem__(self, name: str) -> Any:
        return self.names[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return True


class _Actions(argparse._SubParsersAction):
    """``xpnet sweep``'s sub-commands: a word that is none (``--bogus 3``'s 3) is unrecognised.

    argparse would take it for a sub-command's name and say "argument {report}:
    invalid choice", hiding the option it did not know; given back as an
    unrecognised argument, the error names both, and the options after it
    are still read.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices = _AnyWord(self._name_parser_map)  # type: ignore[assignment]

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        if values and values[0] not in self._name_parser_map:
            _, rest = parser.parse_known_args(values[1:], namespace)
            key = argparse._UNRECOGNIZED_ARGS_ATTR
            setattr(namespace, key, [*getattr(namespace, key, []), values[0], *rest])
            return
        super().__call__(parser, namespace, values, option)


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default="sweep.db", help="the SQLite store (default sweep.db)")
    p.add_argument("--top", type=POSITIVE_INT, default=10, help="rows of the table (default 10)")
    p.add_argument("--json", default=None, metavar="PATH", help="write every run as JSON")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


# -- commands ---------------------------------------------------------------------------


def cmd_sweep(args: argparse.Namespace) -> int:
    if args.sweep_action == "report":
        if specs(args) or args.random is not None:
            raise UsageError("`xpnet sweep report` takes only --store, --top, --json, --quiet")
        return _report(args)
    from ..sweep import sweep
    from ..sweep.remote import silence_dask

    space, fixed = build_space(args)
    if not args.serial:
        silence_dask()  # one line says what went wrong; Dask's own logs with --debug
    check_json_path(args.json)
    if args.device is not None:
        fixed["device"] = args.device
    if args.retries < 0:
        raise UsageError("argument --retries: must be 0 or more")
    client = "serial" if args.serial else args.scheduler
    result = sweep(
        space, store=args.store, client=client, retries=args.retries,
        retry_failed=args.retry_failed, workers=args.workers, gpus=args.gpus,
        timeout=args.timeout, data_dir=args.data_dir, validation=args.validation,
        verbose=0 if args.quiet else 1 if sys.stderr.isatty() else 2, steal=args.steal, **fixed,
    )  # fmt: skip
    return _finish(args, result.runs, f"{result.executed} run now")


def _report(args: argparse.Namespace) -> int:
    from ..sweep import read_runs

    check_json_path(args.json)
    return _finish(args, read_runs(args.store), None)


def _finish(args: argparse.Namespace, runs: list[Any], note: str | None) -> int:
    counts = {s: sum(r.status == s for r in runs) for s in ("done", "failed", "running")}
    if args.json:
        _write_json(args.json, runs)
    with people_to_stderr(args.json == STDOUT):
        _print_runs(args, runs, counts, note)
    return 0 if counts["done"] or not counts["failed"] else 1


def _print_runs(
    args: argparse.Namespace, runs: list[Any], counts: dict[str, int], note: str | None
) -> None:
    """The lines for people: the counts, the table of the best runs, the first failures."""
    from ..sweep import table
    from ..sweep.report import axes, format_value

    if not args.quiet:
        shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n or s != "running")
        print(f"{len(runs)} runs in {args.store}: {shown}" + (f" ({note})" if note else ""))
        if counts["done"]:
            print(table(runs, args.top))
        names = axes(runs)
        for r in [r for r in runs if r.status == "failed"][:3]:
            what = " ".join(f"{n}={format_value(r.settings.get(n))}" for n in names)
            print(f"failed ({what}): {str(r.error).splitlines()[0]}")


def _write_json(path: str, runs: list[Any]) -> None:
    from ..sweep import rank
    from ..sweep.report import metric

    records = [{k: v for k, v in r.to_dict().items() if k != "train_loss"} for r in runs]
    best = [r.key for r in rank(runs)]
    write_json(path, {"metric": metric(runs), "ranking": best, "runs": records})
