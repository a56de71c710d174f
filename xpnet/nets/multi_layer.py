"""MultiLayerNet and MultiLayerNetExtend: the book's chapter-6 networks, on any backend.

Fully connected networks with any number of hidden layers, built as a
:class:`~xpnet.nets.Sequential` with the book's signatures, parameter names
(``W1``, ``b1``, …, and ``gamma1``, ``beta1``, … with batch normalisation)
and methods (``predict(x, train_flg=False)``, ``loss``, ``accuracy``,
``gradient``, ``numerical_gradient``). Every pass reads ``net.params``, so
the book's ``optimizer.update(net.params, grads)`` takes effect whether it
updates arrays in place or replaces them.

What is not a parameter — batch normalisation's running statistics and the
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

from typing import Any

from .._validation import bounded_float, finite_float, one_of, positive_int
from ..backend import Backend, dtype_name, resolve_backend, resolve_dtype
from ..errors import XpnetTypeError, XpnetValueError
from ..layers import ACTIVATIONS, NORMALIZATIONS, Affine, Dropout, Layer
from ._layout import check_dtype_name
from ._sequential import Sequential

__all__ = ["MultiLayerNet", "MultiLayerNetExtend"]


class MultiLayerNet(Sequential):
    """``(Affine -> activation) x len(hidden_size_list) -> Affine -> softmax``, as in the book.

    Parameters
    ----------
    input_size, output_size : int
        784 and 10 for MNIST.
    hidden_size_list : sequence of int
        The width of each hidden layer, e.g. ``[100, 100, 100]``.
    activation : {"relu", "sigmoid"}
        Any name of :data:`xpnet.layers.ACTIVATIONS`.
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
        self._start(locals(), {})

    def _start(self, args: dict[str, Any], extend: dict[str, Any]) -> None:
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
        self._build(config, b, args["weight_init_std"], args["seed"])

    @classmethod
    def _checked_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """`config` with checked values (ints, floats, flags) in a fixed key order."""
        sizes = [positive_int(config.get(k), k) for k in ("input_size", "output_size")]
        hidden = config.get("hidden_size_list")
        if not isinstance(hidden, list | tuple) or not hidden:
            raise XpnetValueError(
                f"`hidden_size_list` must be a non-empty list of ints. Received: {hidden!r}."
            )
        decay = finite_float(config.get("weight_decay_lambda"), "weight_decay_lambda")
        if decay < 0:
            raise XpnetValueError(f"`weight_decay_lambda` must be >= 0. Received: {decay!r}.")
        out = {
            "class": cls.__name__,
            "input_size": sizes[0],
            "hidden_size_list": [positive_int(n, "hidden_size_list") for n in hidden],
            "output_size": sizes[1],
            "activation": one_of(config.get("activation"), "activation", tuple(ACTIVATIONS)),
            "weight_decay_lambda": decay,
        }
        if cls.EXTENDED:
            out.update(_extended_options(config))
        out["dtype"] = check_dtype_name(config.get("dtype"))
        return out

    @classmethod
    def _layers_of(cls, config: dict[str, Any]) -> tuple[list[Layer], tuple[int, ...]]:
        """``Affine -> [normalisation] -> activation -> [Dropout]`` per hidden layer; Affine."""
        norm = _normalization(config)
        layers: list[Layer] = []
        for units in config["hidden_size_list"]:
            layers.append(Affine(units=units))
            if norm is not None:
                layers.append(NORMALIZATIONS[norm]())
            layers.append(ACTIVATIONS[config["activation"]]())
            if config.get("use_dropout"):
                layers.append(Dropout(config["dropout_ration"]))
        layers.append(Affine(units=config["output_size"]))
        return layers, (config["input_size"],)

    def _describe(self) -> None:
        c = self.config
        self.hidden_size_list = list(c["hidden_size_list"])
        self.hidden_layer_num = len(self.hidden_size_list)
        self.activation = c["activation"]
        self.use_batchnorm = c.get("use_batchnorm", False)
        self.use_dropout = c.get("use_dropout", False)
        self.dropout_ration = c.get("dropout_ration", 0.5)
        self.normalization = _normalization(c)

    def get_config(self) -> dict[str, Any]:
        """What rebuilds this network's shape (not its weights): class, sizes, options, dtype."""
        return dict(self.config, hidden_size_list=list(self.hidden_size_list))


def _normalization(config: dict[str, Any]) -> str | None:
    """The hidden layers' normalisation: "batch" for the book's flag, or another registered name."""
    return config.get("normalization") or ("batch" if config.get("use_batchnorm") else None)


def _extended_options(config: dict[str, Any]) -> dict[str, Any]:
    """MultiLayerNetExtend's options, checked: the book's three and xpnet's `normalization`."""
    out: dict[str, Any] = {}
    for flag in ("use_dropout", "use_batchnorm"):
        if not isinstance(config.get(flag), bool):
            raise XpnetTypeError(f"`{flag}` must be True or False. Received: {config.get(flag)!r}.")
        out[flag] = config[flag]
    out["dropout_ration"] = bounded_float(config.get("dropout_ration"), "dropout_ration", 0.0, 1.0)
    norm = config.get("normalization")
    if norm is not None:
        one_of(norm, "normalization", tuple(NORMALIZATIONS))
        if config["use_batchnorm"] and norm != "batch":
            raise XpnetValueError(
                f"`use_batchnorm=True` asks for batch normalisation, `normalization={norm!r}` "
                "for another: give one of them."
            )
        # Batch normalisation keeps the book's flag alone, as files of xpnet 0.2 have it.
        out["use_batchnorm"] = norm == "batch"
        if norm != "batch":
            out["normalization"] = norm
    return out


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
    normalization : str, optional
        xpnet's generalisation of `use_batchnorm`: the name of any layer of
        :data:`xpnet.layers.NORMALIZATIONS` ("batch" is ``use_batchnorm=True``).
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
        normalization: str | None = None,
        backend: str | Backend | None = None,
        device: Any = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        extend = {
            "use_dropout": use_dropout,
            "dropout_ration": dropout_ration,
            "use_batchnorm": use_batchnorm,
            "normalization": normalization,
        }
        self._start(locals(), extend)
