"""History: what a training run measured."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["History"]


@dataclass
class History:
    """What a training run measured, as Python numbers.

    Attributes
    ----------
    train_loss : list of float
        The mini-batch loss at every iteration (before that iteration's update).
    eval_iters : list of int
        The iterations after which accuracy was measured.
    train_acc, test_acc : list of float
        Accuracy on the whole training and test sets at those iterations
        (`test_acc` is empty without test data).
    seconds : float
        Wall-clock training time, evaluations included, over all sessions.
    """

    train_loss: list[float] = field(default_factory=list)
    eval_iters: list[int] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0

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
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Compact host arrays for checkpoints: 8 bytes per loss, not a JSON string."""
        return {
            "train_loss": np.asarray(self.train_loss, dtype=np.float64),
            "eval_iters": np.asarray(self.eval_iters, dtype=np.int64),
            "train_acc": np.asarray(self.train_acc, dtype=np.float64),
            "test_acc": np.asarray(self.test_acc, dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], seconds: float) -> History:
        """The inverse of :meth:`to_arrays`."""
        return cls(
            train_loss=arrays["train_loss"].tolist(),
            eval_iters=arrays["eval_iters"].tolist(),
            train_acc=arrays["train_acc"].tolist(),
            test_acc=arrays["test_acc"].tolist(),
            seconds=seconds,
        )
