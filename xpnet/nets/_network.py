"""Network: what every network has once — checks, the book's methods, gradients, state.

A subclass supplies the passes (:class:`~xpnet.nets.Sequential` derives them
from its layers): ``_forward(params, buffers, x, train=, key=)`` and
``_backward(params, caches, dout)``. Everything else is written here, once:

* inputs checked and cast to the network's dtype (Keras' rule for floats);
* the book's ``predict``, ``loss``, ``accuracy``, ``gradient``,
  ``numerical_gradient``; ``correct`` (a count on the device) for training;
* the pure forms the training step traces: ``loss_and_gradient`` and
  ``loss_gradient_buffers``;
* L2 weight decay, in :meth:`Network._with_penalty` (the one place it is computed);
* ``check_gradient``; ``save``/``load`` in xpnet's one state format.

Parameters are ``net.params`` (the book's dict, replaced by training after
every step, so an array taken from it before a run keeps its values);
buffers, arrays that no optimizer touches (batch normalisation's running
statistics, the dropout key), are ``net.buffers``, empty for most networks.
"""

from __future__ import annotations

import math
from typing import Any

from .._typing import Array, Namespace, Params
from .._validation import check_xt, finite_float, one_of, positive_int
from ..backend import Backend, cast_floating, namespace
from ..checking import GradientCheckReport, check_network_gradient
from ..gradient import default_step
from ..layers import softmax_loss, softmax_loss_backward
from ._state import Saved

__all__ = ["Network"]


class Network(Saved):
    """Base class of xpnet's networks (see the module's description).

    Attributes
    ----------
    params, buffers : dict of arrays
    backend : Backend
    dtype : the backend's dtype object
    input_shape : tuple of int
        One sample's shape; ``input_size`` is its number of elements.
    output_size : int
        The number of classes.
    weight_decay_lambda : float
        The network's own L2 weight decay (the book's), 0 for none.
    """

    params: Params
    buffers: dict[str, Array]
    backend: Backend
    dtype: Any
    input_shape: tuple[int, ...]
    output_size: int
    weight_decay_lambda: float = 0.0
    #: The parameters' names; the decayed ones and each one's own axes (for stacked sums).
    _param_names: tuple[str, ...] = ()
    _decayed: tuple[str, ...] = ()
    _axes: dict[str, tuple[int, ...]]

    @property
    def input_size(self) -> int:
        return math.prod(self.input_shape)

    def param_names(self) -> list[str]:
        """The parameters' names, in the book's order: W1, b1, …, then gamma1, beta1, …."""
        return list(self._param_names)

    # -- what subclasses supply ------------------------------------------------------------

    def _forward(
        self, params: Params, buffers: dict[str, Array], x: Array, *, train: bool, advance: bool
    ) -> tuple[Array, Any, dict[str, Array]]:
        """Scores, what :meth:`_backward` needs, and the buffers after the pass."""
        raise NotImplementedError

    def _backward(self, params: Params, caches: Any, dout: Array) -> Params:
        raise NotImplementedError

    # -- inputs -------------------------------------------------------------------------

    def _cast(self, x: Array) -> Array:
        """A floating input of another dtype, cast to the network's (as Keras does)."""
        return cast_floating(x, self.backend.xp, self.dtype)

    def _shaped(self, x: Array) -> Array:
        """`x` with samples of :attr:`input_shape` (a flat image for a dense network…)."""
        if tuple(x.shape[1:]) == self.input_shape:
            return x
        return self.backend.xp.reshape(x, (x.shape[0], *self.input_shape))

    def _checked(self, x: Array, t: Array | None) -> tuple[Namespace, Array]:
        """Cast and check a batch (and its targets, unless None); return `xp` and the batch."""
        x = self._cast(x)
        first = next(iter(self.params.values()))
        xp = namespace(x, first) if t is None else namespace(x, t, first)
        check_xt(  # NaN or infinity in x is refused here, at the door, not per batch
            xp, x, t, input_size=self.input_size, output_size=self.output_size,
            dtype=self.dtype, finite=True,
        )  # fmt: skip
        return xp, self._shaped(x)

    def _ready(self, x: Array, t: Array, check_input: bool) -> Array:
        return self._checked(x, t)[1] if check_input else self._shaped(x)

    # -- the book's methods ---------------------------------------------------------------

    def predict(self, x: Array, train_flg: bool = False) -> Array:
        """Scores (N, output_size) of the last layer, before softmax, as in the book.

        ``train_flg=True`` runs in training mode, as a training step does: it
        updates the running statistics and moves the dropout key on.
        """
        _, x = self._checked(x, None)
        out, _, buffers = self._forward(self.params, self.buffers, x, train=train_flg, advance=True)
        self.buffers = buffers
        return out

    def loss(self, x: Array, t: Array, train_flg: bool = False) -> Array:
        """Cross-entropy of the softmax of the scores plus the weight decay term (0-d).

        ``train_flg=True`` is a training-mode pass, as in :meth:`predict`.
        """
        xp, x = self._checked(x, t)
        scores, _, buffers = self._forward(
            self.params, self.buffers, x, train=train_flg, advance=True
        )
        self.buffers = buffers
        return self._with_penalty(xp, softmax_loss(xp, scores, t)[0], self.params)

    def accuracy(self, x: Array, t: Array, batch_size: int | None = None) -> float:
        """Fraction of samples whose top score is the label (test mode), as a Python float.

        `t` may be integer labels (N,) or one-hot (N, C). The hits are counted
        `batch_size` samples at a time (all at once by default), on the device,
        and read back once: the value is exact, hits / N.
        """
        _, x = self._checked(x, t)
        n = x.shape[0]
        step = n if batch_size is None else positive_int(batch_size, "batch_size")
        hits: Any = 0
        for start in range(0, n, step):
            part = slice(start, min(start + step, n))  # the standard has no stops past the end
            hits = hits + self.correct(x[part, ...], t[part, ...], check_input=False)
        return int(hits) / n

    def correct(
        self,
        x: Array,
        t: Array,
        *,
        params: Params | None = None,
        buffers: dict[str, Array] | None = None,
        check_input: bool = True,
    ) -> Array:
        """How many samples' top score (in test mode) is the label: a 0-d integer array.

        The count stays on the device: training adds nothing to read back,
        and compiles it with the step. `params` and `buffers` default to the
        network's; ``check_input=False`` skips checking `x` and `t`.
        """
        x = self._ready(x, t, check_input)
        xp = self.backend.xp
        p = self.params if params is None else params
        b = self.buffers if buffers is None else buffers
        predicted = xp.argmax(self._forward(p, b, x, train=False, advance=False)[0], axis=1)
        labels = xp.argmax(t, axis=1) if t.ndim == 2 else t
        return xp.count_nonzero(predicted == xp.astype(labels, predicted.dtype))

    def gradient(self, x: Array, t: Array) -> Params:
        """The gradient of the training-mode loss by backpropagation, as the book's ``gradient``.

        Like one training step it updates :attr:`buffers` (running statistics,
        the dropout key); :meth:`numerical_gradient` called next sees the same
        dropout masks, so the two can be compared.
        """
        _, grads, self.buffers = self.loss_gradient_buffers(x, t)
        return grads

    # -- pure forms, for training ---------------------------------------------------------

    def loss_gradient_buffers(
        self,
        x: Array,
        t: Array,
        *,
        params: Params | None = None,
        buffers: dict[str, Array] | None = None,
        check_input: bool = True,
        weight_decay: float = 0.0,
        advance: bool = True,
    ) -> tuple[Array, Params, dict[str, Array]]:
        """One training pass, purely: the loss, the gradients and the buffers after it.

        The dropout key moves on first (``advance=False``: it stays) and the
        masks come from it; the running statistics move towards the batch's.
        `weight_decay` adds to the network's own ``weight_decay_lambda``
        (``train(weight_decay=...)``). Nothing is changed.
        """
        x = self._ready(x, t, check_input)
        p = self.params if params is None else params
        b = self.buffers if buffers is None else buffers
        xp = self.backend.xp
        scores, caches, new_buffers = self._forward(p, b, x, train=True, advance=advance)
        loss, cache = softmax_loss(xp, scores, t)
        grads = self._backward(p, caches, softmax_loss_backward(cache, xp=xp))
        for decay in (self.weight_decay_lambda, weight_decay):  # the network's, then the run's
            if decay:
                loss = self._with_penalty(xp, loss, p, decay)
                grads = self._with_penalty_gradient(grads, p, decay)
        return loss, {name: grads[name] for name in p}, new_buffers

    def loss_and_gradient(
        self,
        x: Array,
        t: Array,
        *,
        params: Params | None = None,
        buffers: dict[str, Array] | None = None,
        check_input: bool = True,
    ) -> tuple[Array, Params]:
        """The training-mode loss and gradients at the buffers as they are; nothing changes.

        The dropout masks are those of the current key (the last training
        pass's), as :meth:`numerical_gradient` uses them.
        """
        loss, grads, _ = self.loss_gradient_buffers(
            x, t, params=params, buffers=buffers, check_input=check_input, advance=False
        )
        return loss, grads

    def _with_penalty(
        self, xp: Namespace, loss: Array, params: Params, decay: float | None = None
    ) -> Array:
        """`loss` plus the book's weight decay term ``0.5 * decay * sum(W**2)`` over the weights.

        The one place xpnet computes L2 decay: the network's own
        ``weight_decay_lambda`` (the default `decay`) and ``train(weight_decay=)``
        both come here; the gradient gets ``decay * W``. Biases and
        normalisation scales are not decayed. A weight stacked on a leading
        axis gives one term each.
        """
        decay = self.weight_decay_lambda if decay is None else decay
        if not decay:
            return loss
        total: Any = 0.0
        for name in self._decayed:
            W = params[name]
            total = total + 0.5 * decay * xp.sum(W * W, axis=self._axes[name])
        return loss + total

    def _with_penalty_gradient(self, grads: Params, params: Params, decay: float) -> Params:
        """`grads` plus the gradient of :meth:`_with_penalty`'s term, ``decay * W``."""
        return {
            name: g + decay * params[name] if name in self._decayed else g
            for name, g in grads.items()
        }

    def _loss_at(self, params: Params, buffers: dict[str, Array], x: Array, t: Array) -> Array:
        """The training-mode loss (the forward pass only), at the buffers as they are."""
        xp = self.backend.xp
        scores = self._forward(params, buffers, x, train=True, advance=False)[0]
        return self._with_penalty(xp, softmax_loss(xp, scores, t)[0], params)

    # -- gradient checks ------------------------------------------------------------------

    def numerical_gradient(
        self,
        x: Array,
        t: Array,
        *,
        params: Params | None = None,
        buffers: dict[str, Array] | None = None,
        h: float | None = None,
        weight_decay: float = 0.0,
        **options: Any,
    ) -> Params:
        """The gradient of the training-mode loss by central differences.

        The dropout masks of the current key are held fixed and batch
        normalisation runs on each perturbed network's batch statistics.
        `weight_decay` (a run's, ``train(weight_decay=)``) adds its exact
        gradient ``weight_decay * W``, as backpropagation does.
        """
        xp, x = self._checked(x, t)
        p = self.params if params is None else params
        b = self.buffers if buffers is None else buffers
        step = default_step(xp, self.dtype) if h is None else finite_float(h, "h")
        grads = self._numerical(p, b, x, t, step, **options)
        return self._with_penalty_gradient(grads, p, weight_decay) if weight_decay else grads

    def _numerical(
        self,
        params: Params,
        buffers: dict[str, Array],
        x: Array,
        t: Array,
        h: float,
        **options: Any,
    ) -> Params:
        raise NotImplementedError

    def check_gradient(
        self, x: Array, t: Array, *, mode: str = "full", **options: Any
    ) -> GradientCheckReport:
        """Check :meth:`loss_and_gradient` against finite differences; raise if they differ.

        The training-mode loss is checked at the buffers as they are: the
        dropout masks of the current key are held fixed on both sides, and
        batch normalisation uses each perturbed network's batch statistics.

        Parameters
        ----------
        x : array, shape (N, *input_shape) or (N, input_size)
            A batch; a floating one of another dtype is cast to the network's.
        t : array, shape (N,) labels or (N, output_size) one-hot targets
        mode : {"full", "fast"}
            ``"full"`` compares every parameter with :meth:`numerical_gradient`;
            ``"fast"``, derivatives along random directions over all
            parameters (2 loss evaluations each).
        **options
            ``order``, ``h``, ``rtol``, ``atol``, ``directions``, ``seed``: those of
            :func:`xpnet.checking.check_network_gradient`.

        Returns
        -------
        GradientCheckReport
            One row per parameter (full mode), or one for all (fast mode).

        Raises
        ------
        xpnet.errors.GradientCheckError
            With the report (worst elements, both values) as its message.
        """
        one_of(mode, "mode", ("full", "fast"))
        _, x = self._checked(x, t)
        buffers = self.buffers

        def loss_at(params: Params) -> Array:  # the forward pass only
            return self._loss_at(params, buffers, x, t)

        return check_network_gradient(self, x, t, mode=mode, loss=loss_at, **options)
