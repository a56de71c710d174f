"""``xpnet sweep`` (a grid or a random search, on Dask) and ``xpnet sweep report``.

Each setting option takes a SPEC: one value (fixed for every run), a list
``0.01,0.1,1``, an integer range ``0..4`` (both ends included), or, with
``--random N``, a range to draw from, ``1e-6:1e-2:log`` or ``0:1``. Any
other keyword of the network or of ``xpnet.train()`` is ``--set NAME=SPEC``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from .._validation import finite_float, non_negative_int, one_of, positive_float, positive_int
from ..sweep.settings import CORE, REQUIRED_DEFAULTS
from ..training import TrainConfig
from ._output import STDOUT, check_json_path, people_to_stderr, write_json
from ._types import POSITIVE_FLOAT, POSITIVE_INT, Parser, UsageError

__all__ = ["add_sweep_parser", "cmd_sweep"]

Check = Callable[[Any, str], Any]

DESCRIPTION = """\
Train a fresh network for every point of a grid (or of a random search) on an
embedded Dask cluster (one single-threaded worker per core), on one worker per
GPU (--gpus), on an existing cluster (--scheduler) or here (--serial). Each
result is committed to the SQLite --store as it arrives; the same command again
runs only what is missing. `xpnet sweep report` prints the best runs again.

SPEC: a value (fixed), a list 0.01,0.1,1, an integer range 0..4, or with
--random N a range to draw from, 1e-6:1e-2:log (log-uniform) or 0.5:0.99."""


def _literal(text: str) -> Any:
    """An int, a float, true/false/none, or else the text itself."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None, "null": None}.get(text.lower(), text)


def _backend(value: Any, name: str) -> Any:
    from ..backend import BACKENDS

    return one_of(value, name, BACKENDS)


def _any(value: Any, name: str) -> Any:
    return value


def _finite_or_name(value: Any, name: str) -> Any:
    return value if isinstance(value, str) else finite_float(value, name)


#: The defaults the help names: training's (TrainConfig) and a sweep's own (its CORE settings).
_D = {**TrainConfig.defaults(), **CORE, **REQUIRED_DEFAULTS}

#: option, setting, text -> value, check, help.
AXES: list[tuple[str, str, Callable[[str], Any], Check, str]] = [
    ("--lr", "lr", float, positive_float, "learning rate (default 0.1 for sgd)"),
    ("--hidden", "hidden", int, positive_int, f"hidden units (default {_D['hidden_size']})"),
    (
        "--batch-size",
        "batch_size",
        int,
        positive_int,
        f"mini-batch size (default {_D['batch_size']})",
    ),
    ("--iters", "iters", int, positive_int, f"training iterations (default {_D['iters']})"),
    (
        "--seed",
        "seed",
        int,
        non_negative_int,
        f"seed for weights and batches (default {_D['seed']})",
    ),
    ("--activation", "activation", str, _any, "hidden activation (default sigmoid)"),
    ("--weight-init-std", "weight_init_std", _literal, _finite_or_name, "initial weights' std"),
    ("--eval-every", "eval_every", int, positive_int, "iterations between evaluations"),
    ("--grad", "grad", str, _any, "backprop or numerical"),
    ("--backend", "backend", str, _backend, "array library (default: XPNET_BACKEND, else numpy)"),
    ("--dtype", "dtype", str, _any, f"floating dtype (default {_D['dtype']})"),
    ("--train-size", "train_size", int, positive_int, "train on the first N samples only"),
]


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
        "--timeout", type=POSITIVE_FLOAT, default=10.0, help="seconds to reach --scheduler"
    )
    s.add_argument("--retries", type=int, default=2, help="tries again of a run that raised")
    s.add_argument("--retry-failed", action="store_true", help="run failed runs again too")
    _add_output_options(s)
    actions = s.add_subparsers(dest="sweep_action", parser_class=Parser, metavar="{report}")
    r = actions.add_parser("report", help="the best runs of a store")
    _add_output_options(r)


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default="sweep.db", help="the SQLite store (default sweep.db)")
    p.add_argument("--top", type=POSITIVE_INT, default=10, help="rows of the table (default 10)")
    p.add_argument("--json", default=None, metavar="PATH", help="write every run as JSON")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


# -- specs ------------------------------------------------------------------------------


def _value(option: str, text: str, convert: Callable[[str], Any], check: Check) -> Any:
    try:
        value = convert(text)
    except ValueError:
        raise UsageError(f"argument {option}: cannot read {text!r}") from None
    return check(value, option)


def _numbers(parts: list[str]) -> bool:
    """Whether `parts` read as numbers: "1e-6:1e-2" is a range, "cuda:1" a value."""
    try:
        [float(part) for part in parts]
    except ValueError:
        return False
    return True


def parse_spec(option: str, text: str, convert: Callable[[str], Any], check: Check) -> Any:
    """('fixed', value), ('axis', values) or ('range', (low, high, scale)) from a SPEC."""
    spec = text.strip()
    if not spec:
        raise UsageError(f"argument {option}: empty; give a value, a list a,b or a range")
    if ".." in spec:
        low, _, high = spec.partition("..")
        if not low.strip() or not high.strip():
            raise UsageError(f"argument {option}: incomplete range {spec!r}; write A..B, as 0..4")
        if convert is not int:
            raise UsageError(f"argument {option}: A..B ranges are for integer settings")
        a, b = (_value(option, v.strip(), convert, check) for v in (low, high))
        if a > b:
            raise UsageError(f"argument {option}: empty range {spec!r}")
        return "axis", list(range(a, b + 1))
    if ":" in spec and _numbers(spec.split(":")[:2]):
        parts = spec.split(":")
        scale = parts.pop() if len(parts) == 3 else "lin"
        if len(parts) != 2 or scale not in ("lin", "log") or "" in parts:
            raise UsageError(f"argument {option}: {spec!r} is not LOW:HIGH or LOW:HIGH:log")
        low, high = (_value(option, v, convert, check) for v in parts)
        return "range", (low, high, scale)
    items = spec.split(",")
    if any(not item.strip() for item in items):
        raise UsageError(f"argument {option}: empty value in {spec!r}")
    values = [_value(option, item.strip(), convert, check) for item in items]
    return ("axis", values) if len(items) > 1 else ("fixed", values[0])


def _specs(args: argparse.Namespace) -> list[tuple[str, str, Any]]:
    """(setting, kind, value) for every setting given on the command line."""
    found = []
    for option, setting, convert, check, _ in AXES:
        text = getattr(args, f"axis_{setting}")
        if text is not None:
            found.append((setting, *parse_spec(option, text, convert, check)))
    for item in args.set:
        name, eq, text = item.partition("=")
        if not eq or not name.strip().isidentifier():
            raise UsageError(f"argument --set: expected NAME=SPEC, got {item!r}")
        found.append((name.strip(), *parse_spec(f"--set {name}", text, _literal, _any)))
    return found


def build_space(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The space (grid or random points) and the fixed settings given by `args`."""
    from ..sweep import Choice, LogUniform, Uniform, grid, random_search

    fixed: dict[str, Any] = {}
    axes: dict[str, list[Any]] = {}
    draws: dict[str, Any] = {}
    for setting, kind, value in _specs(args):
        if setting in fixed or setting in axes or setting in draws:
            raise UsageError(f"setting {setting!r} is given twice")
        if kind == "fixed":
            fixed[setting] = value
        elif kind == "axis":
            axes[setting] = value
        elif args.random is None:
            low, high, _ = value
            raise UsageError(f"{setting} {low}:{high} is a range to draw from: add --random N")
        else:
            low, high, scale = value
            if isinstance(low, int) and isinstance(high, int) and scale == "lin":
                draws[setting] = Choice(range(low, high + 1))
            else:
                draws[setting] = (LogUniform if scale == "log" else Uniform)(low, high)
    if args.random is None:
        return (grid(axes) if axes else [{}]), fixed
    if not axes and not draws:
        raise UsageError("--random N needs a setting to vary, such as --lr 1e-6:1e-2:log")
    return random_search({**axes, **draws}, n=args.random, seed=args.random_seed), fixed


# -- commands ---------------------------------------------------------------------------


def cmd_sweep(args: argparse.Namespace) -> int:
    if args.sweep_action == "report":
        if _specs(args) or args.random is not None:
            raise UsageError("`xpnet sweep report` takes only --store, --top, --json, --quiet")
        return _report(args)
    from ..sweep import sweep

    space, fixed = build_space(args)
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
        verbose=0 if args.quiet else 1 if sys.stderr.isatty() else 2, **fixed,
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
