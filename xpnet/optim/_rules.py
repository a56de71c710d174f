"""The chapter-6 update rules, each as the book writes it, on whole arrays."""

from __future__ import annotations

from typing import Any

from .._typing import Array
from .._validation import bounded_float, one_of, positive_float
from ..backend import namespace
from ..errors import XpnetTypeError, XpnetValueError
from ._base import OPTIMIZERS, Ops, Optimizer
from .schedules import CosineDecay, StepDecay

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "AdaGrad",
    "Adam",
    "AdamW",
    "Momentum",
    "Nesterov",
    "RMSprop",
    "from_config",
    "get",
]

#: The book's guard against dividing by zero in AdaGrad, RMSprop and Adam.
EPS = 1e-7


class SGD(Optimizer):
    """Stochastic gradient descent: ``W <- W - lr * dW``.

    Parameters
    ----------
    lr : float, Schedule or callable
        The learning rate (see :class:`Optimizer`).
    """

    name = "sgd"

    def __init__(self, lr: Any = 0.01) -> None:
        super().__init__(lr)

    def rule(
        self, param: Array, grad: Array, slots: dict[str, Array], lr: Any, ops: Ops
    ) -> tuple[Array, dict[str, Array]]:
        return ops.sub(param, lr * grad), slots


class Momentum(SGD):
    """Momentum: ``v <- momentum * v - lr * dW``, then ``W <- W + v``.

    Parameters
    ----------
    lr : float, Schedule or callable
    momentum : float
        In [0, 1); 0 is plain SGD.
    """

    name = "momentum"
    slots = ("v",)

    def __init__(self, lr: Any = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = bounded_float(momentum, "momentum", 0.0, 1.0)

    def rule(
        self, param: Array, grad: Array, slots: dict[str, Array], lr: Any, ops: Ops
    ) -> tuple[Array, dict[str, Array]]:
        v = ops.sub(ops.mul(slots["v"], self.momentum), lr * grad)
        return ops.add(param, v), {"v": v}

    def settings(self) -> dict[str, Any]:
        return {"momentum": self.momentum}


class Nesterov(Momentum):
    """Nesterov's accelerated gradient, in the book's form (Bengio et al., 2012).

    ``v <- momentum * v - lr * dW``, then
    ``W <- W + momentum**2 * v - (1 + momentum) * lr * dW``.
    """

    name = "nesterov"

    def rule(
        self, param: Array, grad: Array, slots: dict[str, Array], lr: Any, ops: Ops
    ) -> tuple[Array, dict[str, Array]]:
        m = self.momentum
        v = ops.sub(ops.mul(slots["v"], m), lr * grad)
        return ops.sub(ops.add(param, m * m * v), (1 + m) * lr * grad), {"v": v}


class AdaGrad(SGD):
    """AdaGrad: ``h <- h + dW**2``, then ``W <- W - lr * dW / (sqrt(h) + 1e-7)``."""

    name = "adagrad"
    slots = ("h",)

    def rule(
        self, param: Array, grad: Array, slots: dict[str, Array], lr: Any, ops: Ops
    ) -> tuple[Array, dict[str, Array]]:
        xp = namespace(param)
        h = ops.add(slots["h"], grad * grad)
        return ops.sub(param, lr * grad / (xp.sqrt(h) + EPS)), {"h": h}


class RMSprop(SGD):
    """RMSprop: ``h <- decay_rate * h + (1 - decay_rate) * dW**2``, then as AdaGrad.

    Parameters
    ----------
    lr : float, Schedule or callable
    decay_rate : float
        How much of the running average each step keeps, in [0, 1).
    """

    name = "rmsprop"
    slots = ("h",)

    def __init__(self, lr: Any = 0.01, decay_rate: float = 0.99) -> None:
        super().__init__(lr)
        self.decay_rate = bounded_float(decay_rate, "decay_rate", 0.0, 1.0)

    def rule(
        self, param: Array, grad: Array, slots: dict[str, Array], lr: Any, ops: Ops
    ) -> tuple[Array, dict[str, Array]]:
        xp = namespace(param)
        h = ops.add(ops.mul(slots["h"], self.decay_rate), (1 - self.decay_rate) * grad * grad)
        return ops.sub(param, lr * grad / (xp.sqrt(h) + EPS)), {"h": h}

    def settings(self) -> dict[str, Any]:
        return {"decay_rate": self.decay_rate}


class Adam(SGD):
    """Adam (Kingma and Ba, 2015), as the book writes it.

    At step ``t = 1, 2, …``: ``m <- m + (1 - beta1) * (dW - m)``,
    ``v <- v + (1 - beta2) * (dW**2 - v)``, then
    ``W <- W - lr_t * m / (sqrt(v) + 1e-7)`` with the bias correction folded
    into ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)``.

    Parameters
    ----------
    lr : float, Schedule or callable
    beta1 : float
        Decay rate of the first moment estimate, in (0, 1).
    beta2 : float
        Decay rate of the second moment estimate, in (0, 1).
    """

    name = "adam"
    slots = ("m", "v")
    counts_steps = True

    def __init__(self, lr: Any = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        super().__init__(lr)
        self.beta1 = bounded_float(beta1, "beta1", 0.0, 1.0, low_open=True)
        self.beta2 = bounded_float(beta2, "beta2", 0.0, 1.0, low_open=True)

    def rate(self, state: dict[str, Array], like: Array) -> Any:
        xp = namespace(like)
        t = self.step_count(state, like) + 1
        return super().rate(state, like) * xp.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)

    def rule(
        self, param: Array, grad: Array, slots: dict[str, Array], lr: Any, ops: Ops
    ) -> tuple[Array, dict[str, Array]]:
        xp = namespace(param)
        m = ops.add(slots["m"], (1 - self.beta1) * (grad - slots["m"]))
        v = ops.add(slots["v"], (1 - self.beta2) * (grad * grad - slots["v"]))
        return ops.sub(param, lr * m / (xp.sqrt(v) + EPS)), {"m": m, "v": v}

    def settings(self) -> dict[str, Any]:
        return {"beta1": self.beta1, "beta2": self.beta2}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019).

    Each step first shrinks the weights, ``W <- W - lr * weight_decay * W``,
    then takes the book's Adam step; the decay is not part of the gradient,
    so Adam's scaling does not weaken it for parameters with large
    gradients (as it weakens L2 decay added to the loss). As the L2 decay of
    networks, it applies to weights, parameters of two or more dimensions
    (``W`` of Affine and Convolution), not to biases or normalisation scales.

    Parameters
    ----------
    lr : float, Schedule or callable
    beta1 : float
        As :class:`Adam`.
    beta2 : float
        As :class:`Adam`.
    weight_decay : float
        The decoupled decay rate, >= 0 (0 is Adam).

    Examples
    --------
    >>> import numpy as np
    >>> opt = AdamW(lr=0.1, weight_decay=0.5)
    >>> params = {"W": np.ones((1, 2)), "b": np.ones(2)}
    >>> new, _ = opt.apply(params, {"W": np.zeros((1, 2)), "b": np.zeros(2)}, opt.init(params))
    >>> new["W"], new["b"]  # no gradient: only the weights shrink, by lr * weight_decay
    (array([[0.95, 0.95]]), array([1., 1.]))
    """

    name = "adamw"

    def __init__(
        self, lr: Any = 0.001, beta1: float = 0.9, beta2: float = 0.999, weight_decay: float = 0.01
    ) -> None:
        super().__init__(lr, beta1, beta2)
        self.weight_decay = bounded_float(weight_decay, "weight_decay", 0.0, float("inf"))

    def rate(self, state: dict[str, Array], like: Array) -> Any:
        """The learning rate itself (for the decay), and Adam's corrected one."""
        return Optimizer.rate(self, state, like), super().rate(state, like)

    def rule(
        self, param: Array, grad: Array, slots: dict[str, Array], lr: Any, ops: Ops
    ) -> tuple[Array, dict[str, Array]]:
        rate, corrected = lr
        if param.ndim >= 2 and self.weight_decay:
            param = ops.sub(param, (rate * self.weight_decay) * param)
        return super().rule(param, grad, slots, corrected, ops)

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "weight_decay": self.weight_decay}


def get(optimizer: Any, lr: Any = None) -> Optimizer:
    """An optimizer from its name (``"adam"``) with learning rate `lr` (its default if None).

    An :class:`Optimizer` instance is returned as it is (then `lr` must be None).

    Examples
    --------
    >>> get("adam")
    Adam(lr=0.001, beta1=0.9, beta2=0.999)
    >>> get("momentum", lr=0.1)
    Momentum(lr=0.1, momentum=0.9)
    """
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise XpnetTypeError(
                "`lr` applies to an optimizer given by name; this one was built with "
                f"lr={optimizer.lr!r}. Received: lr={lr!r}."
            )
        return optimizer
    if not isinstance(optimizer, str):
        raise XpnetTypeError(
            f"`optimizer` must be a name ({', '.join(OPTIMIZERS)}) or an Optimizer. "
            f"Received: {optimizer!r}."
        )
    cls = OPTIMIZERS[one_of(optimizer.lower(), "optimizer", tuple(OPTIMIZERS))]
    return cls() if lr is None else cls(positive_float(lr, "lr") if not callable(lr) else lr)


#: Schedules that can be rebuilt from their settings (``get_config()``).
SCHEDULES: dict[str, Any] = {"StepDecay": StepDecay, "CosineDecay": CosineDecay}


def from_config(config: Any) -> Optimizer:
    """The optimizer that ``get_config()`` described (as checkpoints save it).

    Examples
    --------
    >>> from_config(Adam(lr=0.01).get_config())
    Adam(lr=0.01, beta1=0.9, beta2=0.999)
    """
    try:
        settings = dict(config)
        cls = OPTIMIZERS[settings.pop("class").lower()]
        lr = settings.pop("lr")
        if isinstance(lr, dict):
            lr = dict(lr)
            lr = SCHEDULES[lr.pop("class")](**lr)
        return cls(lr, **settings)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise XpnetValueError(
            f"Cannot rebuild the optimizer {config!r} ({type(exc).__name__}: {exc}); "
            "give the optimizer itself."
        ) from None
