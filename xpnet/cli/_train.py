"""``xpnet train``: the chapter's training run on MNIST, with its outputs."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from ._output import STDOUT, people_to_stderr, write_json
from ._types import UsageError

__all__ = ["cmd_train"]


def _check_stdout(args: argparse.Namespace) -> None:
    if args.checkpoint == STDOUT:
        raise UsageError(
            "--checkpoint needs a file to lock and resume from, not - (standard output)"
        )
    if args.json == STDOUT and args.plot == STDOUT:
        raise UsageError("--json - and --plot - both name standard output; give one a file path")
    if args.plot == STDOUT and sys.stdout.isatty():
        raise UsageError(
            "--plot - writes a PNG to standard output, which is a terminal: "
            "redirect it (--plot - > curves.png) or give a file path"
        )


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path writable, and no two naming the same file, before any work."""
    from .._io import check_output_path, same_file

    _check_stdout(args)
    outputs = [
        (f"--{o}", getattr(args, o))
        for o in ("checkpoint", "json", "plot")
        if getattr(args, o) not in (None, STDOUT)
    ]
    for option, path in outputs:
        check_output_path(path, option)
    for i, (first, a) in enumerate(outputs):
        for second, b in outputs[i + 1 :]:
            if same_file(a, b):
                raise UsageError(
                    f"{first} and {second} name the same file ({a}); give each its own"
                )
    if args.plot:
        from ..plot import check_format

        # Standard output takes PNG; the check also fails early without matplotlib.
        check_format("curves.png" if args.plot == STDOUT else args.plot, "--plot")


#: ``--model``: the fully connected networks (by --hidden) or the book's convolutional ones.
MODELS = ("mlp", "simple-convnet", "deep-convnet")


def _network(args: argparse.Namespace, b: Any, seed: int) -> Any:
    """The network of ``--model``; for "mlp", TwoLayerNet for one hidden layer and
    MultiLayerNet(Extend) for more, normalised or with dropout."""
    from ..nets import DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet

    where = {"backend": b, "dtype": args.dtype, "seed": seed}
    if args.model == "simple-convnet":
        init = 0.01 if args.weight_init is None else args.weight_init
        hidden = 100 if args.hidden is None else args.hidden[0]
        return SimpleConvNet(hidden_size=hidden, weight_init_std=init, **where)
    if args.model == "deep-convnet":
        return DeepConvNet(hidden_size=50 if args.hidden is None else args.hidden[0], **where)
    norm = "batch" if args.batch_norm else args.normalization
    if args.batch_norm and args.normalization not in (None, "batch"):
        raise UsageError(
            f"--batch-norm and --normalization {args.normalization} exclude each other"
        )
    extended = norm is not None or args.dropout is not None
    if len(args.hidden) == 1 and not extended:
        init = 0.01 if args.weight_init is None else args.weight_init
        return TwoLayerNet(784, args.hidden[0], 10, init, activation=args.activation, **where)
    init = "he" if args.weight_init is None else args.weight_init
    if not extended:
        return MultiLayerNet(784, args.hidden, 10, args.activation, init, **where)
    return MultiLayerNetExtend(
        784, args.hidden, 10, args.activation, init,
        use_dropout=args.dropout is not None,
        dropout_ration=0.5 if args.dropout is None else args.dropout,
        normalization=norm, **where,
    )  # fmt: skip


#: ``xpnet train`` options that are TrainConfig fields of the same name.
SETTINGS = (
    "iters", "batch_size", "sampling", "drop_last", "lr", "optimizer", "grad", "eval_every",
    "weight_decay", "validation", "compile", "checkpoint", "eval_samples", "precision",
)  # fmt: skip


def _overrides(args: argparse.Namespace, resuming: bool) -> dict[str, Any]:
    """The training settings given on the command line (those left out are not passed).

    The seed defaults to 0, as the book's runs are seeded; resuming a
    checkpoint without ``--seed`` continues with the checkpoint's.
    """
    given = {name: getattr(args, name) for name in SETTINGS if getattr(args, name) is not None}
    if args.seed is not None or not resuming:
        given["seed"] = 0 if args.seed is None else args.seed
    for flag in ("resume", "overwrite", "fail_on_divergence"):
        if getattr(args, flag):
            given[flag] = True
    return given


def cmd_train(args: argparse.Namespace) -> int:
    if args.model == "mlp" and args.hidden is None:
        args.hidden = [50]  # the chapter's TwoLayerNet
    from ..training.lock import checkpoint_lock, refuse_existing

    if args.resume and not args.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH")
    if args.overwrite and not args.checkpoint:
        raise UsageError("--overwrite needs --checkpoint PATH")
    if args.resume and args.overwrite:
        raise UsageError("--resume and --overwrite exclude each other: continue, or replace")
    if args.early_stopping and args.validation is None:
        raise UsageError("--early-stopping needs --validation FRACTION (the data it watches)")
    _check_outputs(args)
    if not args.checkpoint:
        return _train(args)
    # Before any data is read: a run already using this checkpoint, or one
    # that would replace it by mistake, is refused at once.
    with checkpoint_lock(args.checkpoint):
        refuse_existing(
            args.checkpoint, resume=args.resume, overwrite=args.overwrite,
            options=("--resume", "--overwrite"),
        )  # fmt: skip
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    # With a summary or figure on standard output, everything else goes to stderr.
    with people_to_stderr(STDOUT in (args.json, args.plot)):
        summary, history = _run(args)
    if args.json == STDOUT:
        write_json(STDOUT, summary)
    if args.plot == STDOUT:
        from ..plot import learning_curves

        learning_curves(history).savefig(sys.stdout.buffer, format="png", dpi=100)
        sys.stdout.flush()
    return 0


def _run(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """Train, write the file outputs and print the human lines; the summary and History."""
    from .._io import output_exists
    from ..backend import float_warnings_off, resolve_backend
    from ..datasets import load_mnist
    from ..errors import XpnetWarning
    from ..training import EarlyStopping, TrainConfig, train
    from ..training.compile import choose_compiler
    from ..training.inputs import resolve_optimizer

    b = resolve_backend(args.backend, args.device)
    resuming = bool(args.resume and args.checkpoint and output_exists(args.checkpoint))
    overrides = _overrides(args, resuming)
    config = TrainConfig().replace(**overrides)  # every setting checked before any work
    if args.compile:  # before loading anything: can this backend compile this run?
        choose_compiler(True, b, grad=config.grad, optimizer=resolve_optimizer(config))
    # First: a size that cannot fit is refused before MNIST is read.
    net = _network(args, b, 0 if args.seed is None else args.seed)
    stopper = None if args.early_stopping is None else EarlyStopping(args.early_stopping)
    images = {"flatten": args.model == "mlp"}  # convolutions take (N, 1, 28, 28)
    (x_train, t_train), test = load_mnist(
        data_dir=args.data_dir, backend=b, dtype=args.dtype, **images
    )
    verbose = 0 if args.quiet else 1 if sys.stderr.isatty() else 2
    # A diverging run is reported in one line (xpnet's warnings print like its
    # errors), not after NumPy's floating-point warnings.
    with float_warnings_off(), warnings.catch_warnings():
        warnings.simplefilter("default", XpnetWarning)
        warnings.showwarning = _one_line_warnings(warnings.showwarning)
        history = train(
            net, (x_train, t_train), test, config=config, verbose=verbose, early_stopping=stopper
        )
    summary = _summary(args, b, history, net)
    stopped = ""
    best = None if stopper is None or stopper.stopped_iteration is None else stopper.best_iteration
    if stopper is not None and best is not None:
        # The network is the best one's again: report the accuracies measured for it.
        k = history.eval_iters.index(best)
        summary.update(train_acc=history.train_acc[k], test_acc=history.test_acc[k])
        summary["stopped_early"] = stopper.get_state()
        stopped = f"; stopped early, best at iteration {best}"
    if args.json not in (None, STDOUT):
        write_json(args.json, summary)
    if args.plot not in (None, STDOUT):
        from ..plot import learning_curves, save_figure

        save_figure(learning_curves(history), args.plot)
    if not args.quiet:
        accs = f"test acc {summary['test_acc']:.4f}, train acc {summary['train_acc']:.4f}"
        where = f"{b.name}, {b.device}, {args.dtype}"
        done = len(history.train_loss)
        print(f"{accs} after {done} iterations in {history.seconds:.1f} s ({where}){stopped}")
    return summary, history


def _one_line_warnings(show: Any) -> Any:
    """A ``warnings.showwarning`` that prints xpnet's warnings as one line, like its errors."""
    from ..errors import XpnetWarning

    def showwarning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if not issubclass(category, XpnetWarning):
            show(message, category, *args, **kwargs)
            return
        text = str(message).replace("fail_on_divergence=True", "--fail-on-divergence")
        print(f"xpnet: warning: {text}", file=sys.stderr, flush=True)

    return showwarning


def _summary(args: argparse.Namespace, b: Any, history: Any, net: Any) -> dict[str, Any]:
    """The run as JSON: where, the settings it ran with (a resumed run's included), the results."""
    run = history.config  # the settings the run used, taken from its checkpoint where resumed
    options = (
        "model", "hidden", "activation", "weight_init", "batch_norm", "dropout", "early_stopping",
    )  # fmt: skip
    optimizer = run["optimizer"]
    return {
        "backend": b.name,
        "device": str(b.device),
        "dtype": args.dtype,
        **{key: run[key] for key in ("iters", "batch_size", "sampling", "drop_last")},
        **{key: run[key] for key in ("grad", "seed")},
        **{key: getattr(args, key) for key in options},
        "normalization": net.get_config().get("normalization")
        or ("batch" if args.batch_norm else None),
        "optimizer": optimizer["class"].lower() if isinstance(optimizer, dict) else optimizer,
        "weight_decay": run["weight_decay"],
        "precision": run["precision"],
        "validation": run["validation"],
        "lr": optimizer.get("lr") if isinstance(optimizer, dict) else None,
        "network": net.get_config(),
        "seconds": history.seconds,
        "iters_per_second": len(history.train_loss) / history.seconds if history.seconds else None,
        "train_acc": history.train_acc[-1],
        "test_acc": history.test_acc[-1],
        "train_acc_history": history.train_acc,
        "test_acc_history": history.test_acc,
        "val_acc_history": history.val_acc,
        "history": history.to_dict(),
    }
