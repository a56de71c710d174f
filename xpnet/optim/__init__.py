"""Optimizers: rules that turn gradients into parameter updates.

The book's chapter-6 rules — :class:`SGD`, :class:`Momentum`,
:class:`Nesterov`, :class:`AdaGrad`, :class:`RMSprop`, :class:`Adam` — with
its names and keywords, so its scripts run unchanged. Every rule registers
itself by name in :data:`OPTIMIZERS` (what ``train(optimizer="adam")`` and
``xpnet train --optimizer`` take). Every optimizer has two
faces:

* the book's: ``optimizer.update(params, grads)`` replaces the entries of the
  dict it is given (the network sees the new values) and keeps its own state;
* a pure one, which training and compiled steps use:
  ``state = optimizer.init(params)`` then
  ``params, state = optimizer.apply(params, grads, state)``. It returns new
  values and changes nothing, so it works on immutable arrays (JAX), can be
  traced by a compiler, and reads nothing back to the host.

The state is a dict of arrays on the parameters' backend and device (``v.W1``
for Momentum's velocity of ``W1``; ``m.W1``, ``v.W1`` and the step count
``step`` for Adam; empty for SGD with a constant rate); checkpoints save it
as ``optim.<name>`` with the names :meth:`Optimizer.state_spec` announces.
The learning rate may be a schedule (:class:`StepDecay`, :class:`CosineDecay`
or any callable ``step -> lr``); the step count is then part of the state.

Examples
--------
>>> import numpy as np
>>> params = {"w": np.array([1.0, 2.0])}
>>> SGD(lr=0.5).update(params, {"w": np.array([2.0, 2.0])})
>>> params["w"]
array([0., 1.])
>>> adam = Adam(lr=0.1)
>>> state = adam.init(params)
>>> sorted(state)
['m.w', 'step', 'v.w']
>>> new, state = adam.apply(params, {"w": np.array([1.0, -1.0])}, state)
>>> new["w"].round(4), state["step"]
(array([-0.1,  1.1]), array([1], dtype=int32))
>>> point = {"x": -7.0, "y": 2.0}  # the book's naive comparison: Python floats
>>> adam = Adam(lr=0.3)
>>> for _ in range(2):
...     adam.update(point, {"x": point["x"] / 10.0, "y": 2.0 * point["y"]})
>>> round(float(point["x"]), 4), round(float(point["y"]), 4)
(-6.4004, 1.4022)
"""

from . import _base, _rules, schedules
from ._base import *  # noqa: F403
from ._rules import *  # noqa: F403
from .schedules import *  # noqa: F403

# What each module lists in its __all__ is public here: a new rule is a class in _rules.py.
__all__ = sorted({name for module in (_base, _rules, schedules) for name in module.__all__})
