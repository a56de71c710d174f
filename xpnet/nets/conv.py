"""SimpleConvNet and DeepConvNet: the book's chapter-7 and chapter-8 networks, on any backend.

Both are :class:`~xpnet.nets.Sequential` networks with the book's signatures
and parameter names (``W1``, ``b1`` for the first convolution…), its
methods (``predict(x, train_flg=False)``, ``loss``, ``accuracy(x, t,
batch_size=100)``, ``gradient``, ``numerical_gradient``) and its
``save_params``/``load_params`` (in xpnet's state format, never pickle).

Examples
--------
>>> import numpy as np
>>> net = SimpleConvNet(seed=0, backend="numpy")
>>> [(name, tuple(p.shape)) for name, p in net.params.items()][:4]
[('W1', (30, 1, 5, 5)), ('b1', (30,)), ('W2', (4320, 100)), ('b2', (100,))]
>>> net.predict(np.zeros((2, 1, 28, 28), dtype=np.float32)).shape
(2, 10)
"""

from __future__ import annotations

import os
from typing import Any

from .._validation import positive_int
from ..backend import Backend, dtype_name, resolve_backend, resolve_dtype
from ..errors import CheckpointError, XpnetTypeError, XpnetValueError
from ..layers import Affine, Convolution, Dropout, Layer, Pooling, Relu
from ._layout import check_dtype_name
from ._sequential import Sequential

__all__ = ["DEEP_CONV_PARAMS", "DeepConvNet", "SimpleConvNet"]

#: DeepConvNet's six convolutions, as the book sets them.
DEEP_CONV_PARAMS = (
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
)
_CONV_KEYS = ("filter_num", "filter_size", "pad", "stride")
#: SimpleConvNet's convolution, the book's.
SIMPLE_CONV_PARAM = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}


def _conv(param: Any, name: str) -> Convolution:
    """A Convolution layer from the book's ``conv_param`` dict."""
    if not isinstance(param, dict) or sorted(param) != sorted(_CONV_KEYS):
        raise XpnetValueError(
            f"`{name}` must be a dict with the keys {', '.join(_CONV_KEYS)}. Received: {param!r}."
        )
    return Convolution(
        filters=param["filter_num"], size=param["filter_size"], stride=param["stride"],
        pad=param["pad"],
    )  # fmt: skip


def _conv_param(param: Any, default: dict[str, int], name: str) -> dict[str, Any]:
    """`param` (None: `default`) as a dict of its own, checked: a constructor argument."""
    _conv(default if param is None else param, name)
    return dict(default if param is None else param)


def _input_dim(value: Any) -> list[int]:
    if not (isinstance(value, list | tuple) and len(value) == 3):
        raise XpnetTypeError(f"`input_dim` must be (C, H, W). Received: {value!r}.")
    return [positive_int(v, "input_dim") for v in value]


class _BookConvNet(Sequential):
    """What the book's two convolutional networks share: their config and file methods."""

    def __init__(self, args: dict[str, Any], settings: dict[str, Any]) -> None:
        b = resolve_backend(args["backend"], args["device"])
        config = {
            "class": type(self).__name__,
            **settings,
            "dtype": dtype_name(resolve_dtype(b, args["dtype"]), xp=b.xp),
        }
        self._build(config, b, args["weight_init_std"], args["seed"])

    def accuracy(self, x: Any, t: Any, batch_size: int | None = 100) -> float:
        """Accuracy in test mode, counted `batch_size` samples at a time (the book's default)."""
        return super().accuracy(x, t, batch_size=batch_size)

    def save_params(self, file_name: str | os.PathLike[str] = "params.npz") -> None:
        """The book's ``save_params``, in xpnet's state format (an ``.npz``; never pickle)."""
        self.save(file_name)

    def load_params(self, file_name: str | os.PathLike[str] = "params.npz") -> None:
        """Take the arrays of a file written by :meth:`save_params` (the same network).

        The file's network must be this one's (its dtype aside: arrays are
        cast); otherwise a :class:`~xpnet.errors.CheckpointError` names the
        settings that differ, and this network is unchanged.
        """
        from ._state import load_state

        state = load_state(file_name, type(self))
        ours, theirs = self.get_config(), state.meta["network"]
        differ = sorted(
            k for k in ours.keys() | theirs.keys() if k != "dtype" and ours.get(k) != theirs.get(k)
        )
        if differ:
            pairs = ", ".join(
                f"{k}={theirs.get(k)!r} (this network: {ours.get(k)!r})" for k in differ
            )
            raise CheckpointError(f"{os.fspath(file_name)}: holds a different network: {pairs}.")
        self.set_state_arrays(state.network)


class SimpleConvNet(_BookConvNet):
    """Convolution -> ReLU -> Pooling -> Affine -> ReLU -> Affine -> softmax (chapter 7).

    Parameters
    ----------
    input_dim : (C, H, W)
    conv_param : dict
        ``filter_num``, ``filter_size``, ``pad``, ``stride`` of the convolution.
    hidden_size : int
        Units of the hidden Affine layer.
    output_size : int
        Classes.
    weight_init_std : float or {"he", "relu", "xavier", "sigmoid"}
        As the book: 0.01, every weight drawn from N(0, 0.01**2).
    backend, device, dtype, seed
        As every network.
    """

    def __init__(
        self,
        input_dim: Any = (1, 28, 28),
        conv_param: Any = None,
        hidden_size: int = 100,
        output_size: int = 10,
        weight_init_std: float | str = 0.01,
        *,
        backend: str | Backend | None = None,
        device: Any = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        param = _conv_param(conv_param, SIMPLE_CONV_PARAM, "conv_param")
        settings = {"input_dim": input_dim, "conv_param": param, "hidden_size": hidden_size,
                    "output_size": output_size}  # fmt: skip
        super().__init__(locals(), settings)

    @classmethod
    def _checked_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        _conv(config.get("conv_param"), "conv_param")
        return {
            "class": cls.__name__,
            "input_dim": _input_dim(config.get("input_dim")),
            "conv_param": dict(config["conv_param"]),
            "hidden_size": positive_int(config.get("hidden_size"), "hidden_size"),
            "output_size": positive_int(config.get("output_size"), "output_size"),
            "dtype": check_dtype_name(config.get("dtype")),
        }

    @classmethod
    def _layers_of(cls, config: dict[str, Any]) -> tuple[list[Layer], tuple[int, ...]]:
        layers = [
            _conv(config["conv_param"], "conv_param"), Relu(), Pooling(2, 2, stride=2),
            Affine(units=config["hidden_size"]), Relu(), Affine(units=config["output_size"]),
        ]  # fmt: skip
        return layers, tuple(config["input_dim"])


class DeepConvNet(_BookConvNet):
    """Chapter 8's deep network: six 3x3 convolutions, three poolings, two Affine, dropout.

    ``conv - relu - conv - relu - pool - conv - relu - conv - relu - pool - conv -
    relu - conv - relu - pool - affine - relu - dropout - affine - dropout -
    softmax``, He initialisation, as the book builds it (99.4% on MNIST).

    Parameters
    ----------
    input_dim : (C, H, W)
    conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6 : dict
        The convolutions (:data:`DEEP_CONV_PARAMS` by default).
    hidden_size : int
        Units of the hidden Affine layer.
    output_size : int
        Classes.
    backend, device, dtype, seed
        As every network.
    """

    def __init__(
        self,
        input_dim: Any = (1, 28, 28),
        conv_param_1: Any = None,
        conv_param_2: Any = None,
        conv_param_3: Any = None,
        conv_param_4: Any = None,
        conv_param_5: Any = None,
        conv_param_6: Any = None,
        hidden_size: int = 50,
        output_size: int = 10,
        *,
        backend: str | Backend | None = None,
        device: Any = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5,
                 conv_param_6)  # fmt: skip
        params = [
            _conv_param(p, default, f"conv_param_{i}")
            for i, (p, default) in enumerate(zip(given, DEEP_CONV_PARAMS, strict=True), 1)
        ]
        settings = {"input_dim": input_dim, "conv_params": params, "hidden_size": hidden_size,
                    "output_size": output_size}  # fmt: skip
        super().__init__({**locals(), "weight_init_std": "he"}, settings)

    @classmethod
    def _checked_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        params = config.get("conv_params")
        if not (isinstance(params, list) and len(params) == 6):
            raise XpnetValueError(f"`conv_params` must be six dicts. Received: {params!r}.")
        for i, param in enumerate(params, 1):
            _conv(param, f"conv_param_{i}")
        return {
            "class": cls.__name__,
            "input_dim": _input_dim(config.get("input_dim")),
            "conv_params": [dict(p) for p in params],
            "hidden_size": positive_int(config.get("hidden_size"), "hidden_size"),
            "output_size": positive_int(config.get("output_size"), "output_size"),
            "dtype": check_dtype_name(config.get("dtype")),
        }

    @classmethod
    def _layers_of(cls, config: dict[str, Any]) -> tuple[list[Layer], tuple[int, ...]]:
        layers: list[Layer] = []
        for i, param in enumerate(config["conv_params"]):
            layers += [_conv(param, f"conv_param_{i + 1}"), Relu()]
            if i % 2 == 1:
                layers.append(Pooling(2, 2, stride=2))
        layers += [
            Affine(units=config["hidden_size"]), Relu(), Dropout(0.5),
            Affine(units=config["output_size"]), Dropout(0.5),
        ]  # fmt: skip
        return layers, tuple(config["input_dim"])
