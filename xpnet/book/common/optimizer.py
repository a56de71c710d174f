"""The book's ``common/optimizer.py``: xpnet's update rules, updating as the book does.

``SGD(lr=0.01)``, ``Momentum(lr=0.01, momentum=0.9)``, ``Nesterov``,
``AdaGrad(lr=0.01)``, ``RMSprop(lr=0.01, decay_rate=0.99)`` and
``Adam(lr=0.001, beta1=0.9, beta2=0.999)`` are xpnet's (:mod:`xpnet.optim`)
with the book's ``update(params, grads)``, which here behaves exactly as the
book's ``params[key] -= ...``: arrays are changed in place (the book's own
networks keep references to them in their layers), Python numbers are
replaced by new numbers. A gradient from another library than its parameter
(the backend's, for a parameter a script made with ``np``) is brought to the
parameter's library first. ``import *`` also gives ``np``, as the book's
module does (its ``optimizer_compare_mnist.py`` relies on that).

Examples
--------
>>> params = {"x": -7.0, "y": 2.0}
>>> SGD(lr=0.95).update(params, {"x": -0.7, "y": 4.0})
>>> params
{'x': -6.335, 'y': -1.7999999999999998}
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ... import optim as _optim
from ...backend import asarray, backend_of, is_writeable, library_of, to_numpy

__all__ = ["SGD", "AdaGrad", "Adam", "Momentum", "Nesterov", "RMSprop", "np"]


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.ndarray)


def _home(grad: Any, param: Any) -> Any:
    """`grad` in `param`'s library, device and dtype."""
    if _is_number(grad):
        grad = np.asarray(grad, dtype=np.float64)
    if library_of(grad) != library_of(param):
        grad = asarray(to_numpy(grad), backend=backend_of(param))
    return grad if grad.dtype == param.dtype else backend_of(param).xp.astype(grad, param.dtype)


class _BookUpdate(_optim.Optimizer):
    """The book's ``update``: in place for arrays, new values for Python numbers."""

    def update(self, params: dict[str, Any], grads: dict[str, Any]) -> None:
        numbers_ = {k for k, v in params.items() if _is_number(v)}
        work = {
            k: np.asarray(v, dtype=np.float64) if k in numbers_ else v for k, v in params.items()
        }
        homed = {k: _home(grads[k], work[k]) for k in work if k in grads}
        in_place = all(is_writeable(v) for v in work.values())
        if self.state is None:
            self.state = self.init(work)
        new, self.state = self.apply(work, homed, self.state, in_place=in_place)
        for key, value in new.items():
            params[key] = float(value) if key in numbers_ else value


class SGD(_BookUpdate, _optim.SGD):
    """``W -= lr * dW``."""


class Momentum(_BookUpdate, _optim.Momentum):
    """``v = momentum * v - lr * dW``; ``W += v``."""


class Nesterov(_BookUpdate, _optim.Nesterov):
    """Nesterov's accelerated gradient, as the book writes it."""


class AdaGrad(_BookUpdate, _optim.AdaGrad):
    """``h += dW * dW``; ``W -= lr * dW / (sqrt(h) + 1e-7)``."""


class RMSprop(_BookUpdate, _optim.RMSprop):
    """AdaGrad with a decaying ``h``."""


class Adam(_BookUpdate, _optim.Adam):
    """Adam, with the book's bias-corrected rate."""
