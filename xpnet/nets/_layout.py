"""How a list of layers becomes a network's layout: each layer's shapes and array names.

Each layer that starts a number (Affine, Convolution) takes the next one, and
the layers after it share it, so ``Affine -> BatchNormalization -> Relu ->
Affine`` owns ``W1, b1, gamma1, beta1, W2, b2`` and buffers ``running_mean1,
running_var1``; a network with dropout also has the buffer ``dropout_key``,
from which each dropout layer draws its masks (its own stream, ``Slot.stream``).
Parameters are listed in the book's order: the numbered layers' (W, b)
first, then the others' (gamma, beta).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import XpnetTypeError, XpnetValueError
from ..layers import LAYERS, Layer
from ._state import Spec

__all__ = [
    "FLOAT_DTYPES",
    "KEY",
    "Slot",
    "array_spec",
    "check_dtype_name",
    "layer_from_config",
    "layout",
]

#: The buffer holding the network's random key (dropout masks).
KEY = "dropout_key"

#: The dtypes a network may have: real floating.
FLOAT_DTYPES = ("float16", "float32", "float64")


def check_dtype_name(dtype: Any) -> str:
    """`dtype` if it names a real floating dtype, else an error."""
    if dtype not in FLOAT_DTYPES:
        raise XpnetTypeError(
            f"A network's dtype must be one of {', '.join(FLOAT_DTYPES)}. Received: {dtype!r}."
        )
    return str(dtype)


@dataclass(frozen=True)
class Slot:
    """A layer in its network: its per-sample input shape, number and array names."""

    layer: Layer
    in_shape: tuple[int, ...]
    number: int
    params: tuple[tuple[str, str], ...]  # (the layer's name, the network's name)
    buffers: tuple[tuple[str, str], ...]
    #: The stream of the network's key a random layer draws from: its number
    #: (as in xpnet 0.2), and past 2**16 for a second one after the same layer.
    stream: int = 0


def layout(layers: list[Layer], input_shape: tuple[int, ...]) -> tuple[list[Slot], tuple[int, ...]]:
    """Each layer built for its input shape and named; the network's output shape."""
    slots, shape, number, seen = [], input_shape, 0, set[str]()
    streams: dict[int, int] = {}  # number -> random layers after it so far
    for layer in layers:
        number += layer.numbered
        names = []
        for group in (layer.param_names, layer.buffer_names):
            pairs = tuple((local, f"{local}{number}") for local in group)
            clash = seen.intersection(name for _, name in pairs)
            if clash:
                raise XpnetValueError(
                    f"Two layers of the network would both own `{sorted(clash)[0]}`; put a "
                    f"numbered layer (Affine…) between them. Received: {layers!r}."
                )
            seen.update(name for _, name in pairs)
            names.append(pairs)
        stream = 0
        if layer.random:
            stream = number + (streams.get(number, 0) << 16)
            streams[number] = streams.get(number, 0) + 1
        slots.append(Slot(layer, shape, number, names[0], names[1], stream))
        shape = layer.build(shape)
    if len(shape) != 1:
        raise XpnetValueError(
            "The last layer must output one score per class, shape (C,). "
            f"Received: output shape {shape}; end with Affine(units=C)."
        )
    return slots, shape


def layer_from_config(config: Any) -> Layer:
    """A layer from ``{"class": name, **settings}``, as :meth:`Layer.get_config` describes it."""
    if not (isinstance(config, dict) and config.get("class") in LAYERS):
        raise XpnetValueError(
            f"A layer must be described as {{'class': name, ...}} with a name among "
            f"{', '.join(sorted(LAYERS))}. Received: {config!r}."
        )
    settings = {k: v for k, v in config.items() if k != "class"}
    try:
        return LAYERS[config["class"]](**settings)
    except TypeError as exc:
        raise XpnetValueError(f"Invalid settings for layer {config!r}: {exc}") from None


def array_spec(slots: list[Slot], dtype: str) -> Spec:
    """Name -> (shape, dtype name) of every array: parameters (book order), buffers, the key."""
    ordered = sorted(slots, key=lambda slot: not slot.layer.numbered)  # stable: W, b first
    spec: Spec = {}
    for kind in ("params", "buffers"):
        for slot in ordered:
            layer, pairs = slot.layer, getattr(slot, kind)
            shapes = (layer.param_shapes if kind == "params" else layer.buffer_shapes)(
                slot.in_shape
            )
            spec.update({name: (shapes[local], dtype) for local, name in pairs})
    if any(slot.layer.random for slot in slots):
        spec[KEY] = ((2,), "int32")
    return spec
