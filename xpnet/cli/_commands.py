"""``xpnet info``, ``xpnet gradcheck`` and ``xpnet plot``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ._output import STDOUT, check_json_path, people_to_stderr, write_json
from ._types import UsageError

__all__ = ["cmd_gradcheck", "cmd_info", "cmd_plot"]


def cmd_info(args: argparse.Namespace) -> int:
    from ..backend import BACKENDS, DEFAULT_PRECISION, available_devices, library_notes

    print(f"{'backend':<18}{'version':<13}devices")
    notes, settings = [], []
    for name in BACKENDS:
        try:
            devices = ", ".join(available_devices(name)) or "none usable (no GPU)"
            version = getattr(sys.modules[name], "__version__", "?")
        except ImportError as exc:
            version, devices = "-", "not installed: " + str(exc).rsplit("Install it with: ", 1)[-1]
        else:
            note = library_notes(name)
            notes += [f"{name}: {note}"] if note else []
            settings += _precision_setting(name)
        print(f"{name:<18}{version:<13}{devices}")
    for note in notes:
        print(note)
    print(
        f"matmul precision: training at {DEFAULT_PRECISION!r} (full float32) unless "
        "--precision high (TF32 on GPUs that have it); gradient checks always 'highest'"
        + (f" (libraries' own settings: {', '.join(settings)})" if settings else "")
    )
    return 0


def _precision_setting(name: str) -> list[str]:
    """``["torch highest"]``: library `name`'s own matmul precision now, if it has one."""
    from ..backend import precision_of

    level = precision_of(name)
    return [] if level is None else [f"{name} {level}"]


def cmd_gradcheck(args: argparse.Namespace) -> int:
    """Check TwoLayerNet's backpropagation; 0 when it passes, 1 when it does not."""
    from ..backend import resolve_backend
    from ..errors import GradientCheckError
    from ..nets import TwoLayerNet
    from ..random import default_rng

    check_json_path(args.json)
    b = resolve_backend(args.backend, args.device)
    if args.mnist:
        from ..datasets import load_mnist

        (x, t), _ = load_mnist(data_dir=args.data_dir, backend=b, dtype=args.dtype)
        x, t, inputs = x[: args.batch_size, ...], t[: args.batch_size], 784
    else:
        inputs, rng = 20, default_rng(args.seed)
        x = rng.normal((args.batch_size, inputs), dtype=args.dtype, backend=b)
        t = rng.integers(10, (args.batch_size,), backend=b)
    net = TwoLayerNet(
        inputs, args.hidden, 10, weight_init_std=0.5, activation=args.activation,
        backend=b, dtype=args.dtype, seed=args.seed,
    )  # fmt: skip
    try:
        report = net.check_gradient(
            x, t, mode=args.mode, order=args.order, directions=args.directions, seed=args.seed
        )
    except GradientCheckError as exc:
        report = exc.report
    with people_to_stderr(args.json == STDOUT):
        print(f"gradcheck of TwoLayerNet({inputs}, {args.hidden}, 10) on {b.name} ({b.device}):")
        print(report)
    if args.json:
        write_json(args.json, {"backend": b.name, "device": str(b.device), **report.to_dict()})
    return 0 if report.passed else 1


def cmd_plot(args: argparse.Namespace) -> int:
    from .. import plot
    from .._io import check_output_path

    check_output_path(args.out, "--out")
    plot.check_format(args.out, "--out")
    if args.figure == "curves":
        if (args.json is None) == (args.checkpoint is None) or len(args.json or [0]) != 1:
            raise UsageError("plot curves needs exactly one of --json FILE or --checkpoint FILE")
        fig = plot.learning_curves(
            _read_json_history(args.json[0])
            if args.json
            else _read_checkpoint_history(args.checkpoint)
        )
    elif args.figure == "sweep":
        if args.store is None:
            raise UsageError("plot sweep needs --store FILE (written by `xpnet sweep`)")
        fig = plot.sweep_accuracy(args.store)
    elif args.figure == "compare":
        if not args.json or len(args.json) < 2:
            raise UsageError("plot compare needs --json A.json B.json ... (two or more summaries)")
        read = [(path, *_read_json_summary(path)) for path in args.json]
        labels = _labels([(path, summary) for path, summary, _ in read])
        fig = plot.compare_curves({label: h for label, (_, _, h) in zip(labels, read, strict=True)})
    elif args.figure in ("filters", "misclassified"):
        fig = _chapter7_figure(args)
    elif args.figure == "optimizers":
        fig = plot.optimizer_paths(backend=args.backend, device=args.device)
    elif args.figure == "weight-init":
        fig = plot.weight_init_histograms(
            activation=args.activation, backend=args.backend, device=args.device
        )
    elif args.figure == "gradient-field":
        fig = plot.gradient_field(backend=args.backend, device=args.device)
    else:
        fig = plot.descent_path(backend=args.backend, device=args.device)
    plot.save_figure(fig, args.out)
    return 0


def _chapter7_figure(args: argparse.Namespace) -> Any:
    """The filters of a convolutional network before and after training, or its misses."""
    from .. import plot
    from .._io import npz_members
    from ..nets import DeepConvNet, SimpleConvNet
    from ..nets._state import read_meta

    if args.checkpoint is None:
        raise UsageError(f"plot {args.figure} needs --checkpoint FILE (a convolutional network)")
    npz_members(args.checkpoint)  # a readable file first, or one line saying why not
    kind = read_meta(args.checkpoint)["network"].get("class")
    classes: dict[str, Any] = {"SimpleConvNet": SimpleConvNet, "DeepConvNet": DeepConvNet}
    if kind not in classes:
        raise UsageError(
            f"plot {args.figure} needs a convolutional network (SimpleConvNet, DeepConvNet); "
            f"{args.checkpoint} holds a {kind}"
        )
    net = classes[kind].load(args.checkpoint, backend=args.backend, device=args.device)
    if args.figure == "filters":
        config = {k: v for k, v in net.get_config().items() if k not in ("class", "dtype")}
        start = classes[kind](**_book_arguments(kind, config), seed=args.seed, backend="numpy")
        return plot.conv_filters(net, start)
    from ..datasets import load_mnist

    _, (x, t) = load_mnist(data_dir=args.data_dir, flatten=False, backend=net.backend)
    return plot.misclassified(net, x, t)


def _book_arguments(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """A convolutional network's constructor arguments from its config."""
    if kind == "DeepConvNet":
        params = config.pop("conv_params")
        config.update({f"conv_param_{i}": p for i, p in enumerate(params, 1)})
    return config


def _read_json_history(path: str) -> Any:
    """The history of a summary written by ``xpnet train --json``, checked before plotting."""
    return _read_json_summary(path)[1]


def _read_json_summary(path: str) -> tuple[dict[str, Any], Any]:
    """A summary written by ``xpnet train --json``, and its checked History."""
    from .. import _memory
    from ..errors import DataError
    from ..training.history import history_from_dict

    where = f"--json {path}"
    try:
        with open(path, "rb") as file:
            # Parsed, JSON takes several times its size in Python objects.
            size = os.fstat(file.fileno()).st_size
            _memory.check_fits(
                8 * size, _memory.host_memory(), where, "on this machine", error=DataError
            )
            summary = json.loads(file.read())
    except OSError as exc:
        raise DataError(f"{where}: cannot be read: {exc.strerror or exc}.") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise DataError(
            f"{where}: not a summary written by `xpnet train --json` ({reason})."
        ) from None
    if not isinstance(summary, dict) or "history" not in summary:
        raise DataError(f"{where}: not a summary written by `xpnet train --json` (no `history`).")
    return summary, history_from_dict(where, summary["history"], error=DataError)


#: The settings of a summary that name a run in a comparison, and how each is shown.
COMPARED = {
    "optimizer": lambda v: str(v),
    "lr": lambda v: f"lr={v:g}" if isinstance(v, int | float) else "lr=default",
    "hidden": lambda v: "hidden " + ",".join(map(str, v)) if isinstance(v, list) else str(v),
    "activation": lambda v: str(v),
    "weight_init": lambda v: f"init {v}",
    "batch_norm": lambda v: "batch norm" if v else "no batch norm",
    "normalization": lambda v: f"{v} norm" if v else "no norm",
    "dropout": lambda v: f"dropout {v:g}" if isinstance(v, int | float) else "no dropout",
    "weight_decay": lambda v: f"decay {v:g}" if isinstance(v, int | float) else str(v),
    "batch_size": lambda v: f"batch {v}",
    "sampling": lambda v: str(v),
    "iters": lambda v: f"{v} iters",
    "seed": lambda v: f"seed {v}",
    "backend": lambda v: str(v),
    "dtype": lambda v: str(v),
}


def _labels(summaries: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each run's name in a comparison: the settings that differ between the runs.

    Runs that differ in no recorded setting are named by their files.
    """
    differing = [
        key
        for key in COMPARED
        if len({json.dumps(summary.get(key), sort_keys=True) for _, summary in summaries}) > 1
    ]
    labels = []
    for path, summary in summaries:
        shown = [COMPARED[key](summary.get(key)) for key in differing]
        labels.append(", ".join(shown) if shown else Path(path).stem)
    if len(set(labels)) < len(labels):  # the same settings twice: the files tell them apart
        labels = [
            f"{label} [{Path(path).name}]"
            for label, (path, _) in zip(labels, summaries, strict=True)
        ]
    return labels


def _read_checkpoint_history(path: str) -> Any:
    from ..training import load_history

    return load_history(path)
