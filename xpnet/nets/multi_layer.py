"""MultiLayerNet and MultiLayerNetExtend: the book's chapter-6 networks, on any backend.

Fully connected networks with any number of hidden layers, the book's
parameter names (``W1``, ``b1``, …, and ``gamma1``, ``beta1``, … with batch
normalisation) and its methods (``predict(x, train_flg=False)``, ``loss``,
``accuracy``, ``gradient``, ``numerical_gradient``). Layers are built from
``net.params`` at every call, so the book's ``optimizer.update(net.params,
grads)`` takes effect whether it updates arrays in place or replaces them.

What is not a parameter — BatchNormalization's running statistics and the
dropout key — lives in ``net.buffers`` (saved with the network, never
touched by an optimizer). Dropout masks are drawn from that key with
:func:`xpnet.random.key_uniform`: the same seed gives the same masks, and so
the same training run, on every backend.

Examples
--------
>>> import numpy as np
>>> net = MultiLayerNetExtend(784, [100, 100], 10, use_batchnorm=True, seed=0, backend="numpy")
>>> sorted(net.params)
['W1', 'W2', 'W3', 'b1', 'b2', 'b3', 'beta1', 'beta2', 'gamma1', 'gamma2']
>>> sorted(net.buffers)
['running_mean1', 'running_mean2', 'running_var1', 'running_var2']
>>> net.predict(np.zeros((3, 784), dtype=np.float32)).shape
(3, 10)
"""

from __future__ import annotations

import os
from typing import Any

from .._typing import Array, Namespace, Params
from .._validation import check_xt, finite_float
from ..backend import (
    Backend,
    asarray,
    cast_floating,
    dtype_name,
    namespace,
    resolve_backend,
    resolve_dtype,
)
from ..checking import GradientCheckReport, check_network_gradient
from ..errors import XpnetTypeError
from ..gradient import default_step, numerical_gradient
from ..layers import SoftmaxWithLoss
from ._init import check_weight_init
from ._multi_config import initial_arrays, multi_layer_spec, normalised_config
from ._sequential import (
    Stack,
    batched_loss,
    forward,
    masks,
    one_hot_target,
    train_pass,
)
from ._state import Spec, load_state, save_state

__all__ = ["MultiLayerNet", "MultiLayerNetExtend"]


class MultiLayerNet:
    """``(Affine -> activation) x len(hidden_size_list) -> Affine -> softmax``, as in the book.

    Parameters
    ----------
    input_size, output_size : int
        784 and 10 for MNIST.
    hidden_size_list : sequence of int
        The width of each hidden layer, e.g. ``[100, 100, 100]``.
    activation : {"relu", "sigmoid"}
    weight_init_std : float or {"relu", "he", "sigmoid", "xavier"}
        A number is the standard deviation of every layer's initial weights;
        "relu"/"he" give ``sqrt(2 / n_in)`` and "sigmoid"/"xavier"
        ``sqrt(1 / n_in)`` for a layer with n_in inputs. Biases start at 0.
    weight_decay_lambda : float
        L2 weight decay: ``0.5 * lambda * sum(W**2)`` over the weight
        matrices is added to the loss (and ``lambda * W`` to their gradients).
    backend, device, dtype
        Where the arrays live; float32 by default.
    seed : int, optional
        Seed of the initial weights (and of the dropout masks): the same seed
        gives the same network on every backend.
    """

    #: Whether the network takes MultiLayerNetExtend's batchnorm/dropout options.
    EXTENDED = False

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Any,
        output_size: int,
        activation: str = "relu",
        weight_init_std: float | str = "relu",
        weight_decay_lambda: float = 0,
        *,
        backend: str | Backend | None = None,
        device: Any = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        self._build(locals(), {})

    def _build(self, args: dict[str, Any], extend: dict[str, Any]) -> None:
        b = resolve_backend(args["backend"], args["device"])
        hidden = args["hidden_size_list"]
        if not isinstance(hidden, list | tuple):
            raise XpnetTypeError(
                "`hidden_size_list` must be a list of ints. Received: "
                f"{hidden!r} ({type(hidden).__name__})."
            )
        config = {
            "class": type(self).__name__,
            "input_size": args["input_size"],
            "hidden_size_list": list(hidden),
            "output_size": args["output_size"],
            "activation": args["activation"],
            "weight_decay_lambda": args["weight_decay_lambda"],
            **extend,
            "dtype": dtype_name(resolve_dtype(b, args["dtype"]), xp=b.xp),
        }
        self.weight_init_std = check_weight_init(args["weight_init_std"], config["dtype"], b)
        self._configure(config, b)
        self._initialise(args["seed"])

    def _configure(self, config: dict[str, Any], b: Backend) -> None:
        """Take a checked `config` as this network's shape; make no arrays."""
        self.config = normalised_config(config, type(self).__name__, extended=self.EXTENDED)
        c = self.config
        self.input_size, self.output_size = c["input_size"], c["output_size"]
        self.hidden_size_list = list(c["hidden_size_list"])
        self.hidden_layer_num = len(self.hidden_size_list)
        self.activation = c["activation"]
        self.weight_decay_lambda = c["weight_decay_lambda"]
        self.use_batchnorm = c.get("use_batchnorm", False)
        self.use_dropout = c.get("use_dropout", False)
        self.dropout_ration = c.get("dropout_ration", 0.5)
        self.backend = b
        self.dtype = resolve_dtype(b, c["dtype"])
        self.stack = Stack(
            sizes=(self.input_size, *self.hidden_size_list, self.output_size),
            activation=self.activation,
            weight_decay_lambda=self.weight_decay_lambda,
            use_batchnorm=self.use_batchnorm,
            use_dropout=self.use_dropout,
            dropout_ratio=self.dropout_ration,
        )

    def _initialise(self, seed: int | None) -> None:
        """Weights from xpnet's host RNG; biases, gamma, beta and statistics as the book."""
        self.params, self.buffers = initial_arrays(
            self.stack.sizes, self.weight_init_std, seed,
            batchnorm=self.use_batchnorm, dropout=self.use_dropout,
            backend=self.backend, dtype=self.dtype,
        )  # fmt: skip

    def __repr__(self) -> str:
        c = self.get_config()
        shown = ", ".join(f"{k}={v!r}" for k, v in c.items() if k not in ("class", "dtype"))
        return (
            f"{c['class']}({shown}, backend={self.backend.name!r}, "
            f"device={self.backend.device!r}, dtype={self.dtype!r})"
        )

    # -- the book's methods --------------------------------------------------------

    def predict(self, x: Array, train_flg: bool = False) -> Array:
        """Scores (N, output_size) of the last Affine layer (before softmax), as in the book.

        ``train_flg=True`` runs in training mode, as a training step does: it
        updates the running statistics and moves the dropout key on.
        """
        x = self._cast(x)
        xp = self._check_xt(x, None)
        out, _, buffers = forward(
            xp, self.stack, self.params, self.buffers, self._flat(x), train=train_flg, advance=True
        )
        self.buffers = buffers
        return out

    def loss(self, x: Array, t: Array, train_flg: bool = False) -> Array:
        """Cross-entropy of the softmax of :meth:`predict` plus the weight decay term (0-d)."""
        x = self._cast(x)
        xp = self._check_xt(x, t)
        scores = self.predict(x, train_flg)
        loss = SoftmaxWithLoss(xp=xp).forward(scores, t)
        if self.weight_decay_lambda:
            for i in range(1, self.hidden_layer_num + 2):
                W = self.params[f"W{i}"]
                loss = loss + 0.5 * self.weight_decay_lambda * xp.sum(W * W)
        return loss

    def accuracy(self, x: Array, t: Array) -> float:
        """Fraction of samples whose top score is the label, in test mode, as a Python float."""
        x = self._cast(x)
        self._check_xt(x, t)
        return int(self.correct(x, t, check_input=False)) / x.shape[0]

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

        The count stays on the device; `params` and `buffers` as in
        :meth:`loss_and_gradient` (training passes them to compiled evaluations).
        """
        if check_input:
            x = self._cast(x)
        xp = self._check_xt(x, t) if check_input else self.backend.xp
        p = self.params if params is None else params
        b = self.buffers if buffers is None else buffers
        out = forward(xp, self.stack, p, b, self._flat(x), train=False)[0]
        predicted = xp.argmax(out, axis=1)
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

    # -- pure forms, for training -------------------------------------------------------

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
        if check_input:
            x = self._cast(x)
            self._check_xt(x, t)
        p = self.params if params is None else params
        b = self.buffers if buffers is None else buffers
        loss, grads, _ = train_pass(
            self.backend.xp, self.stack, p, b, self._flat(x), t, advance=False
        )
        return loss, grads

    def loss_gradient_buffers(
        self,
        x: Array,
        t: Array,
        *,
        params: Params | None = None,
        buffers: dict[str, Array] | None = None,
        check_input: bool = True,
    ) -> tuple[Array, Params, dict[str, Array]]:
        """One training pass, purely: the loss, the gradients and the buffers after it.

        The dropout key moves on first and the masks come from the new key;
        the running statistics move towards the batch's. Nothing is changed:
        the training step carries the returned buffers to the next one.
        """
        if check_input:
            x = self._cast(x)
            self._check_xt(x, t)
        p = self.params if params is None else params
        b = self.buffers if buffers is None else buffers
        return train_pass(self.backend.xp, self.stack, p, b, self._flat(x), t, advance=True)

    def numerical_gradient(
        self,
        x: Array,
        t: Array,
        *,
        params: Params | None = None,
        buffers: dict[str, Array] | None = None,
        h: float | None = None,
    ) -> Params:
        """The gradient of the training-mode loss by central differences, with the batched engine.

        Every perturbed network of a chunk is evaluated in one call
        (:func:`xpnet.numerical_gradient` with ``batched=True``), with the
        dropout masks of the current key held fixed and BatchNormalization
        on each perturbed network's own batch statistics.
        """
        x = self._cast(x)
        xp = self._check_xt(x, t)
        p = self.params if params is None else params
        b = self.buffers if buffers is None else buffers
        step = default_step(xp, self.dtype) if h is None else finite_float(h, "h")
        flat = self._flat(x)
        target = one_hot_target(xp, t, self.output_size, self.dtype)
        fixed = masks(self.stack, b.get("dropout_key"), flat.shape[0], self.dtype)
        grads = {}
        for name in p:

            def losses(points: Array, name: str = name) -> Array:
                return batched_loss(xp, self.stack, {**p, name: points}, fixed, flat, target)

            grads[name] = numerical_gradient(losses, p[name], h=step, batched=True)
        return grads

    def check_gradient(
        self, x: Array, t: Array, *, mode: str = "full", **options: Any
    ) -> GradientCheckReport:
        """Check :meth:`loss_and_gradient` against finite differences; raise if they differ.

        The training-mode loss is checked at the buffers as they are: the
        dropout masks of the current key are held fixed on both sides, and
        batch normalisation uses each perturbed network's batch statistics.

        Parameters
        ----------
        x : array, shape (N, input_size) or (N, ...) flattening to it
            A batch; a floating one of another dtype is cast to the network's.
        t : array, shape (N,) labels or (N, output_size) one-hot targets
        mode : {"full", "fast"}
            ``"full"`` compares every parameter with :meth:`numerical_gradient`
            (the batched engine); ``"fast"``, derivatives along random
            directions over all parameters (2 loss evaluations each).
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

        Examples
        --------
        >>> import numpy as np
        >>> net = MultiLayerNet(4, [3], 2, dtype="float64", seed=0, backend="numpy")
        >>> x = np.random.default_rng(0).random((5, 4))
        >>> report = net.check_gradient(x, np.array([0, 1, 1, 0, 1]))
        >>> report.passed, sorted(report.arrays)
        (True, ['W1', 'W2', 'b1', 'b2'])
        """
        return check_network_gradient(self, self._cast(x), t, mode=mode, **options)

    def _cast(self, x: Array) -> Array:
        """A floating input of another dtype, cast to the network's (as Keras does)."""
        return cast_floating(x, self.backend.xp, self.dtype)

    def _flat(self, x: Array) -> Array:
        return x if x.ndim == 2 else self.backend.xp.reshape(x, (x.shape[0], -1))

    def _check_xt(self, x: Array, t: Array | None) -> Namespace:
        first = self.params["W1"]
        xp = namespace(x, first) if t is None else namespace(x, t, first)
        check_xt(
            xp, x, t, input_size=self.input_size, output_size=self.output_size, dtype=self.dtype
        )
        return xp

    # -- state: one format for networks and checkpoints -----------------------------------

    def get_config(self) -> dict[str, Any]:
        """What rebuilds this network's shape (not its weights): class, sizes, options, dtype."""
        return dict(self.config, hidden_size_list=list(self.hidden_size_list))

    @classmethod
    def state_spec(cls, config: dict[str, Any]) -> Spec:
        """The arrays a network with `config` saves: parameters, then buffers.

        Checks `config` without allocating anything.
        """
        return multi_layer_spec(normalised_config(config, cls.__name__, extended=cls.EXTENDED))

    def state_arrays(self) -> Params:
        """The arrays :meth:`save` writes: the parameters and the buffers."""
        return {**self.params, **self.buffers}

    def set_state_arrays(self, arrays: dict[str, Any]) -> None:
        """Take host arrays (checked against :meth:`state_spec`) as parameters and buffers."""
        spec = self.state_spec(self.get_config())
        values = {
            name: asarray(arrays[name], dtype=dtype, backend=self.backend)
            for name, (_, dtype) in spec.items()
        }
        names = set(self.param_names())
        self.params = {k: v for k, v in values.items() if k in names}
        self.buffers = {k: v for k, v in values.items() if k not in names}

    def param_names(self) -> list[str]:
        """The parameters' names, in the book's order: W1, b1, …, then gamma1, beta1, …."""
        names = [f"{p}{i}" for i in range(1, self.hidden_layer_num + 2) for p in ("W", "b")]
        if self.use_batchnorm:
            hidden = range(1, self.hidden_layer_num + 1)
            names += [f"{p}{i}" for i in hidden for p in ("gamma", "beta")]
        return names

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the network (parameters and buffers) to one ``.npz`` file, atomically."""
        save_state(path, self)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        backend: str | Backend | None = None,
        device: Any = None,
    ) -> Any:
        """Read a network written by :meth:`save` (or a checkpoint's), checked first."""
        state = load_state(path, cls)
        net = cls.__new__(cls)
        net._configure(state.meta["network"], resolve_backend(backend, device))
        net.weight_init_std = 0.0
        net.set_state_arrays(state.network)
        return net


class MultiLayerNetExtend(MultiLayerNet):
    """MultiLayerNet with the book's options for batch normalisation and dropout.

    Each hidden layer is ``Affine -> [BatchNormalization] -> activation ->
    [Dropout]``. Parameters as :class:`MultiLayerNet`, plus:

    Parameters
    ----------
    use_dropout : bool
    dropout_ration : float
        The fraction of units dropped, in [0, 1) (the book's spelling).
    use_batchnorm : bool
        Adds ``gammaN`` (ones) and ``betaN`` (zeros) to the parameters, and
        ``running_meanN``, ``running_varN`` to :attr:`buffers`.
    """

    EXTENDED = True

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Any,
        output_size: int,
        activation: str = "relu",
        weight_init_std: float | str = "relu",
        weight_decay_lambda: float = 0,
        use_dropout: bool = False,
        dropout_ration: float = 0.5,
        use_batchnorm: bool = False,
        *,
        backend: str | Backend | None = None,
        device: Any = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        extend = {
            "use_dropout": use_dropout,
            "dropout_ration": dropout_ration,
            "use_batchnorm": use_batchnorm,
        }
        self._build(locals(), extend)
