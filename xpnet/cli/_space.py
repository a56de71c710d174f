"""What ``xpnet sweep`` is asked to vary: SPECs, ``--set``, and the space they make.

Each setting option takes a SPEC: one value (fixed for every run), a list
``0.01,0.1,1``, an integer range ``0..4`` (both ends included), or, with
``--random N``, a range to draw from, ``1e-6:1e-2:log`` or ``0:1``. Any
other keyword of the network or of ``xpnet.train()`` is ``--set NAME=SPEC``;
the sweep's own keywords (``verbose``, ``store``...) are refused there, with
the option that gives each. A space of more than :data:`MAX_RUNS` runs is
refused before its points are made, unless ``--yes``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from .._validation import finite_float, non_negative_int, one_of, positive_float, positive_int
from ..sweep.settings import CORE, REQUIRED_DEFAULTS
from ..training import TrainConfig
from ..training.inputs import CHAPTER_SGD_LR
from ._types import UsageError

__all__ = ["AXES", "MAX_RUNS", "OWN", "build_space", "parse_spec", "specs"]

Check = Callable[[Any, str], Any]

#: Runs a sweep may have without --yes.
MAX_RUNS = 10_000
#: Seconds to prepare one run (its settings resolved and keyed): 0.16 ms measured on a
#: 2-core machine in 2026, so 10**6 runs take minutes before the first one starts.
PREPARE_SECONDS = 2e-4


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
    ("--lr", "lr", float, positive_float, f"learning rate (default {CHAPTER_SGD_LR} for sgd)"),
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


def specs(args: argparse.Namespace) -> list[tuple[str, str, Any]]:
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
        _not_an_option_of_the_sweep(name.strip())
        found.append((name.strip(), *parse_spec(f"--set {name}", text, _literal, _any)))
    return found


#: The sweep's own keywords (xpnet.sweep.sweep), and where the command line takes each.
OWN = {
    "space": "the setting options (--lr 0.01,0.1 ...)", "train_data": None, "test_data": None,
    "validation": "--validation", "store": "--store", "client": "--scheduler or --serial",
    "retries": "--retries", "retry_failed": "--retry-failed", "workers": "--workers",
    "gpus": "--gpus", "timeout": "--timeout", "data_dir": "--data-dir", "verbose": "--quiet",
    "steal": "--steal",
}  # fmt: skip


def _not_an_option_of_the_sweep(name: str) -> None:
    """`--set verbose=1` would reach sweep() twice: say where that option is given instead."""
    if name not in OWN:
        return
    where = OWN[name]
    hint = f"give it with {where}" if where else "the command line reads MNIST (--data-dir)"
    raise UsageError(
        f"argument --set: `{name}` is an option of the sweep itself, not a setting of its runs; "
        f"{hint}"
    )


def _check_size(args: argparse.Namespace, axes: dict[str, list[Any]]) -> None:
    """Refuse a sweep of more than MAX_RUNS runs, before its points are made, unless --yes."""
    size = args.random if args.random is not None else math.prod(len(v) for v in axes.values())
    if size <= MAX_RUNS or args.yes:
        return
    shown = f"--random {size}" if args.random is not None else "the grid's settings multiplied"
    raise UsageError(
        f"this sweep trains {size:,} networks ({shown}), more than {MAX_RUNS:,}: preparing its "
        f"runs alone takes a while (about {size * PREPARE_SECONDS:.0f} s), and each then trains. "
        "Make it smaller, or add --yes to start it anyway."
    )


def build_space(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The space (grid or random points) and the fixed settings given by `args`."""
    from ..sweep import Choice, LogUniform, Uniform, grid, random_search

    fixed: dict[str, Any] = {}
    axes: dict[str, list[Any]] = {}
    draws: dict[str, Any] = {}
    for setting, kind, value in specs(args):
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
    _check_size(args, axes)
    if args.random is None:
        return (grid(axes) if axes else [{}]), fixed
    if not axes and not draws:
        raise UsageError("--random N needs a setting to vary, such as --lr 1e-6:1e-2:log")
    return random_search({**axes, **draws}, n=args.random, seed=args.random_seed), fixed
