"""History: what a training run measured."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["History"]


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
        return asdict(self)

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
