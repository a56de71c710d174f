"""MultiLayerNet(Extend)'s settings, checked; the arrays they make, described and drawn."""

from __future__ import annotations

from typing import Any

from .._typing import Array, Params
from .._validation import bounded_float, finite_float, one_of, positive_int
from ..backend import Backend
from ..errors import XpnetTypeError, XpnetValueError
from ..random import default_rng, new_key
from ._init import weight_scale
from ._sequential import ACTIVATIONS
from ._state import Spec
from .two_layer import FLOAT_DTYPES

__all__ = ["initial_arrays", "multi_layer_spec", "normalised_config"]


def normalised_config(config: dict[str, Any], name: str, *, extended: bool) -> dict[str, Any]:
    """`config` with checked values (ints, floats, flags) in a fixed key order.

    `name` is the class; `extended` says whether it takes MultiLayerNetExtend's
    batch normalisation and dropout options.
    """
    sizes = [positive_int(config.get(k), k) for k in ("input_size", "output_size")]
    hidden = config.get("hidden_size_list")
    if not isinstance(hidden, list | tuple) or not hidden:
        raise XpnetValueError(
            f"`hidden_size_list` must be a non-empty list of ints. Received: {hidden!r}."
        )
    hidden = [positive_int(n, "hidden_size_list") for n in hidden]
    decay = finite_float(config.get("weight_decay_lambda"), "weight_decay_lambda")
    if decay < 0:
        raise XpnetValueError(f"`weight_decay_lambda` must be >= 0. Received: {decay!r}.")
    dtype = config.get("dtype")
    if dtype not in FLOAT_DTYPES:
        raise XpnetTypeError(
            f"A network's dtype must be one of {', '.join(FLOAT_DTYPES)}. Received: {dtype!r}."
        )
    out = {
        "class": name,
        "input_size": sizes[0],
        "hidden_size_list": hidden,
        "output_size": sizes[1],
        "activation": one_of(config.get("activation"), "activation", tuple(ACTIVATIONS)),
        "weight_decay_lambda": decay,
    }
    if extended:
        for flag in ("use_dropout", "use_batchnorm"):
            if not isinstance(config.get(flag), bool):
                raise XpnetTypeError(
                    f"`{flag}` must be True or False. Received: {config.get(flag)!r}."
                )
            out[flag] = config[flag]
        ratio = config.get("dropout_ration")
        out["dropout_ration"] = bounded_float(ratio, "dropout_ration", 0.0, 1.0)
    out["dtype"] = dtype
    return out


def multi_layer_spec(config: dict[str, Any]) -> Spec:
    """Name -> (shape, dtype name) of the arrays of a network with a normalised `config`."""
    c = config
    sizes, dtype = [c["input_size"], *c["hidden_size_list"], c["output_size"]], c["dtype"]
    spec: Spec = {}
    for i in range(1, len(sizes)):
        spec[f"W{i}"] = ((sizes[i - 1], sizes[i]), dtype)
        spec[f"b{i}"] = ((sizes[i],), dtype)
    hidden = range(1, len(sizes) - 1) if c.get("use_batchnorm") else range(0)
    for name in ("gamma", "beta", "running_mean", "running_var"):
        spec.update({f"{name}{i}": ((sizes[i],), dtype) for i in hidden})
    if c.get("use_dropout"):
        spec["dropout_key"] = ((2,), "int32")
    return spec


def initial_arrays(
    sizes: tuple[int, ...],
    weight_init_std: float | str,
    seed: int | None,
    *,
    batchnorm: bool,
    dropout: bool,
    backend: Backend,
    dtype: Any,
) -> tuple[Params, dict[str, Array]]:
    """The parameters and buffers of a new network, as the book makes them.

    Weights W1, W2, … are drawn in that order from xpnet's host generator
    with `seed` (so every backend gets the same ones), each with the scale
    `weight_init_std` gives for its number of inputs; biases and beta start at
    0, gamma at 1, running means at 0 and running variances at 1. The dropout
    key's seed is drawn after the weights.
    """
    rng, xp, dev = default_rng(seed), backend.xp, backend.device
    params: Params = {}
    for i in range(1, len(sizes)):
        std = weight_scale(weight_init_std, sizes[i - 1])
        params[f"W{i}"] = rng.normal((sizes[i - 1], sizes[i]), std, dtype=dtype, backend=backend)
        params[f"b{i}"] = xp.zeros(sizes[i], dtype=dtype, device=dev)
    buffers: dict[str, Array] = {}
    for i in range(1, len(sizes) - 1) if batchnorm else ():
        params[f"gamma{i}"] = xp.ones(sizes[i], dtype=dtype, device=dev)
        params[f"beta{i}"] = xp.zeros(sizes[i], dtype=dtype, device=dev)
        buffers[f"running_mean{i}"] = xp.zeros(sizes[i], dtype=dtype, device=dev)
        buffers[f"running_var{i}"] = xp.ones(sizes[i], dtype=dtype, device=dev)
    if dropout:
        dropout_seed = int(rng.integers(2**31 - 1, (1,), backend="numpy")[0])
        buffers["dropout_key"] = new_key(dropout_seed, backend=backend)
    return params, buffers
