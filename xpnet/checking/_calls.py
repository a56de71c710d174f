"""How a gradient check calls `f`: on its own copy, its value checked, the calls counted.

* Each call gets its own copy of the point (on libraries whose arrays can be
  changed in place), so an `f` that changes its argument (``z -= z.max()``,
  a softmax's guard) cannot move the points of later calls: the check
  compares the gradient of the function `f` computes, never of a moving
  target. With ``batched=True`` the stacks of points are built afresh for
  each call, but the arrays not being perturbed are broadcast views of the
  point (copies would cost a stack's memory for each): after each batched
  call they are checked to be unchanged, and an `f` that wrote into them is
  an error naming `f`.
* What `f` returns is checked as it comes: None, text, or an array of the
  wrong shape is an error naming `f`, never a ``TypeError`` from ``float()``.
* Long checks show a progress bar on a terminal (standard error).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from .._typing import Array, Namespace
from ..backend import is_writeable, to_numpy
from ..differences import NONE_MESSAGE
from ..errors import XpnetTypeError, XpnetValueError

__all__ = ["PROGRESS_FROM", "Counted", "host_floats"]

#: Checks of at least this many evaluations of `f` show a progress bar (on a terminal).
PROGRESS_FROM = 20_000


class Counted:
    """`f` on a dict of arrays: copies in, values checked, calls and points counted.

    Parameters
    ----------
    f : callable
        The user's function.
    single_key : key or None
        `f` takes the one array of the dict kept under this key; None: the dict.
    xp : namespace
        The arrays' namespace.
    point : dict of arrays
        The unperturbed point, which batched calls must leave as it is.
    planned : int
        Evaluations the check expects to make (for the progress bar).
    """

    def __init__(
        self,
        f: Callable[[Any], Any],
        single_key: Any,
        xp: Namespace,
        point: dict[Any, Array],
        planned: int = 0,
    ) -> None:
        self.f, self.single_key, self.xp, self.point = f, single_key, xp, point
        self.calls = self.points = 0
        self._pristine: dict[Any, Array] | None = None
        self.bar = None
        if planned >= PROGRESS_FROM:
            from tqdm.auto import tqdm

            # disable=None: shown only when standard error is a terminal.
            self.bar = tqdm(total=planned, unit="f", desc="check_grads", disable=None)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _own(self, arrays: dict[Any, Array]) -> dict[Any, Array]:
        """A copy of each array `f` could change in place (JAX's cannot be changed)."""
        xp = self.xp
        return {k: xp.asarray(a, copy=True) if is_writeable(a) else a for k, a in arrays.items()}

    def __call__(self, arrays: dict[Any, Array], points: int | None = None) -> Any:
        if points is None:
            arrays = self._own(arrays)
        elif self._pristine is None:
            self._pristine = self._own(self.point)
        value = self.f(arrays if self.single_key is None else arrays[self.single_key])
        self.calls += 1
        self.points += 1 if points is None else points
        if self.bar is not None:
            self.bar.update(1 if points is None else points)
        _check_value(value, points)
        if points is not None:
            self._check_unchanged()
        return value

    def _check_unchanged(self) -> None:
        """An error naming `f` if a batched call wrote into the point's arrays."""
        xp, pristine = self.xp, self._pristine
        assert pristine is not None
        for key, a in self.point.items():
            same = (a == pristine[key]) | ((a != a) & (pristine[key] != pristine[key]))
            if not bool(xp.all(same)):
                where = "x" if self.single_key is not None else f"x[{key!r}]"
                raise XpnetValueError(
                    f"`f` changed the arrays it was given in place ({where}): with "
                    "batched=True, the arrays not being perturbed are views of the point, which "
                    "`f` must not write to. Compute on new arrays (`z = z - z.max()`, not "
                    "`z -= z.max()`)."
                )


def _check_value(value: Any, points: int | None) -> None:
    """An error naming `f` unless it returned one number (or `points` values when batched)."""
    if value is None:
        raise XpnetTypeError(NONE_MESSAGE)
    want: tuple[int, ...] = ()
    if points is None:
        expected = "a scalar (a 0-d array or a float)"
    else:
        expected, want = f"{points} values, one per stacked point (batched=True)", (points,)
    if hasattr(value, "shape"):
        if tuple(value.shape) != want:
            raise XpnetValueError(
                f"`f` must return {expected}. Received: shape {tuple(value.shape)}."
            )
    elif points is not None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise XpnetTypeError(
            f"`f` must return {expected}. Received: {value!r:.80} ({type(value).__name__})."
        )


def host_floats(values: list[Any]) -> list[float]:
    """f's values (0-d arrays, floats, or 1-d stacks) as Python floats."""
    out: list[float] = []
    for v in values:
        out += to_numpy(v).reshape(-1).tolist() if hasattr(v, "shape") else [float(v)]
    return out
