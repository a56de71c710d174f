"""History: what a training run measured."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import CheckpointError, XpnetError

__all__ = ["History", "history_from_arrays", "history_from_dict"]


@dataclass(repr=False)
class History:
    """What a training run measured, as Python numbers (floats and ints, never arrays).

    Attributes
    ----------
    train_loss : list of float
        The mini-batch loss at every iteration (before that iteration's update).
    eval_iters : list of int
        The iterations after which accuracy was measured.
    train_acc, test_acc : list of float
        Accuracy on the whole training and test sets at those iterations
        (`test_acc` is empty without test data).
    val_acc : list of float
        Accuracy on the validation data at those iterations (empty without
        a ``validation`` split).
    seconds : float
        Wall-clock training time, evaluations included, over all sessions.
    compile_seconds : float
        The part of this session's `seconds` spent compiling (``train(compile=...)``).
    config : dict
        The settings the run used (:meth:`TrainConfig.to_dict`, with the
        optimizer's own settings), a resumed run's as taken from its
        checkpoint; not saved with the history.

    Examples
    --------
    >>> History(train_loss=[2.3, 0.5], eval_iters=[0, 1], train_acc=[0.1, 0.9])
    History(2 iterations, last loss 0.5000, train acc 0.9000, 0.0 s)
    """

    train_loss: list[float] = field(default_factory=list)
    eval_iters: list[int] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0
    compile_seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        """A one-line summary (the lists may hold 10,000 losses)."""
        parts = [f"{len(self.train_loss)} iterations"]
        if self.train_loss:
            parts.append(f"last loss {self.train_loss[-1]:.4f}")
        if self.train_acc:
            parts.append(f"train acc {self.train_acc[-1]:.4f}")
        if self.test_acc:
            parts.append(f"test acc {self.test_acc[-1]:.4f}")
        if self.val_acc:
            parts.append(f"val acc {self.val_acc[-1]:.4f}")
        return f"History({', '.join(parts)}, {self.seconds:.1f} s)"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's plain-text view: one line, not every loss."""
        accs = ", ".join(
            f"{name}={values[-1]:.4f}"
            for name, values in (("train_acc", self.train_acc), ("test_acc", self.test_acc))
            if values
        )
        p.text(
            f"History({len(self.train_loss)} iterations, {len(self.eval_iters)} evaluations"
            f"{', ' + accs if accs else ''}, seconds={self.seconds:.1f})"
        )

    def _repr_html_(self) -> str:
        """A small table for Jupyter: accuracy per evaluation (at most 20 rows shown)."""
        losses = self.train_loss
        caption = f"History: {len(losses)} iterations in {self.seconds:.1f} s"
        if losses:
            caption += f", last loss {losses[-1]:.4f}"
        header = ["iteration", "train acc"] + (["test acc"] if self.test_acc else [])
        rows = [
            [str(it), f"{acc:.4f}"] + ([f"{self.test_acc[i]:.4f}"] if self.test_acc else [])
            for i, (it, acc) in enumerate(zip(self.eval_iters, self.train_acc, strict=False))
        ]
        if len(rows) > 20:  # the first and last ten evaluations
            rows = [*rows[:10], ["…"] * len(header), *rows[-10:]]
        cells = "".join(
            "<tr>" + "".join(f'<td style="text-align:right">{c}</td>' for c in row) + "</tr>"
            for row in rows
        )
        head = "".join(f"<th>{name}</th>" for name in header)
        return (
            f"<table><caption>{caption}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{cells}</tbody></table>"
        )

    def to_dict(self) -> dict[str, Any]:
        """The history as a JSON-able dict (the ``history`` of ``xpnet train --json``)."""
        data = asdict(self)
        del data["config"]  # settings, not measurements: a summary has them beside
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """The inverse of :meth:`to_dict`."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Compact host arrays for checkpoints: 8 bytes per loss, not a JSON string."""
        return {
            "train_loss": np.asarray(self.train_loss, dtype=np.float64),
            "eval_iters": np.asarray(self.eval_iters, dtype=np.int64),
            "train_acc": np.asarray(self.train_acc, dtype=np.float64),
            "test_acc": np.asarray(self.test_acc, dtype=np.float64),
            "val_acc": np.asarray(self.val_acc, dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], seconds: float) -> History:
        """The inverse of :meth:`to_arrays`."""
        return cls(
            train_loss=arrays["train_loss"].tolist(),
            eval_iters=arrays["eval_iters"].tolist(),
            train_acc=arrays["train_acc"].tolist(),
            test_acc=arrays["test_acc"].tolist(),
            val_acc=arrays["val_acc"].tolist() if "val_acc" in arrays else [],
            seconds=seconds,
        )


def history_from_arrays(
    where: str,
    arrays: dict[str, np.ndarray],
    *,
    iteration: int | None = None,
    seconds: float = 0.0,
    error: type[XpnetError] = CheckpointError,
) -> History:
    """A :class:`History` from its arrays, refused unless it is one a run could have made.

    One loss per iteration (`iteration`, or as many as there are), all
    finite; one train accuracy per evaluation and as many test accuracies or
    none, all in [0, 1]; evaluations at increasing iterations, the first
    after iteration 0 once any iteration ran.

    Raises
    ------
    `error` (CheckpointError by default)
        "`where`: damaged history (what is wrong)."
    """
    loss, evals = arrays["train_loss"], arrays["eval_iters"]
    train_acc, test_acc = arrays["train_acc"], arrays["test_acc"]
    val_acc = arrays.get("val_acc", np.zeros(0))
    n = len(loss) if iteration is None else iteration
    accs = np.concatenate([train_acc, test_acc, val_acc])
    problems = {
        f"{len(loss)} losses for {n} iterations": loss.shape != (n,),
        "a loss that is NaN or infinite": not np.all(np.isfinite(loss)),
        f"{len(train_acc)} train accuracies for {len(evals)} evaluations": (
            train_acc.shape != evals.shape
        ),
        f"{len(test_acc)} test accuracies for {len(evals)} evaluations": (
            test_acc.shape != (0,) and test_acc.shape != evals.shape
        ),
        f"{len(val_acc)} validation accuracies for {len(evals)} evaluations": (
            val_acc.shape != (0,) and val_acc.shape != evals.shape
        ),
        "an accuracy outside [0, 1]": not np.all((accs >= 0) & (accs <= 1)),
        "evaluations not at increasing iterations of the run": not (
            np.all(np.diff(evals) > 0) and np.all((evals >= 0) & (evals < max(n, 1)))
        ),
        "no evaluation after iteration 0": n > 0 and (len(evals) == 0 or evals[0] != 0),
        f"a training time of {seconds!r} seconds": not (math.isfinite(seconds) and seconds >= 0),
    }
    found = [what for what, bad in problems.items() if bad]
    if found:
        raise error(f"{where}: damaged history ({found[0]}).")
    return History.from_arrays(arrays, seconds=seconds)


def history_from_dict(
    where: str, data: Any, *, error: type[XpnetError] = CheckpointError
) -> History:
    """The inverse of ``History.to_dict()`` for data read from JSON, checked like a checkpoint's.

    Raises `error` naming `where` and the key when `data` is not such a dict:
    a list, null or a string instead, a missing key, a value that is not a
    list of finite numbers (JSON's ``1e400`` reads as infinity), lists whose
    lengths disagree.
    """
    keys = ("train_loss", "eval_iters", "train_acc", "test_acc")
    if not isinstance(data, dict):
        raise error(
            f"{where}: `history` must be an object with keys {', '.join(keys)}. "
            f"Received: {type(data).__name__}."
        )
    arrays = {}
    for key in keys + ("val_acc",) * ("val_acc" in data):  # older summaries have no val_acc
        value = data.get(key)
        if not (
            isinstance(value, list)
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise error(f"{where}: `history.{key}` must be a list of numbers.")
        try:
            array = np.asarray(value, dtype=np.float64)
        except OverflowError:  # an integer beyond float64
            array = np.full(len(value), np.inf)
        if key == "eval_iters":
            if not np.all(np.isfinite(array) & (array == np.round(array))):
                raise error(f"{where}: `history.eval_iters` must be a list of integers.")
            array = array.astype(np.int64)
        arrays[key] = array
    seconds = data.get("seconds", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise error(f"{where}: `history.seconds` must be a number.")
    try:
        seconds = float(seconds)
    except OverflowError:
        seconds = math.inf
    return history_from_arrays(where, arrays, seconds=seconds, error=error)
