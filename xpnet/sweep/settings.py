"""One run's settings: where each goes (the network or ``train()``), and a stable key.

A run is described by a flat dict of JSON values: swept settings, fixed
ones and defaults. Each name is routed by the signatures themselves: a
keyword of the network's constructor goes to the network, a keyword of
:func:`xpnet.train` goes to training (``seed`` goes to both, like ``xpnet
train --seed``), and ``backend``/``device``/``dtype`` also say where the
data goes. So a keyword that ``train()`` or a network gains later is a
sweepable setting without any change here.

The key of a run is a hash of its settings as canonical JSON. Settings equal
to their signature's default are left out (``grad="backprop"`` and no
``grad`` are the same run), except the core ones every run records.

Examples
--------
>>> s = resolve({"lr": 1, "hidden": 20}, {"iters": 100}, data="mnist", backend="numpy")
>>> s["lr"], s["hidden_size"], s["seed"], s["net"]
(1.0, 20, 0, 'TwoLayerNet')
>>> run_key(s) == run_key(resolve({"lr": 1.0, "hidden_size": 20, "grad": "backprop"},
...                               {"iters": 100}, data="mnist", backend="numpy"))
True
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import nets
from .._validation import one_of, positive_int
from ..backend import BACKENDS
from ..errors import XpnetTypeError, XpnetValueError
from ..training import TrainConfig, train

__all__ = ["Plan", "network_class", "plan", "resolve", "run_key", "setting_names"]

#: The networks a sweep can build, by class name.
DEFAULT_NET = "TwoLayerNet"
#: Other names for settings: the first of the candidates the network accepts.
ALIASES = {"hidden": ("hidden_size", "hidden_size_list")}
#: Keywords of train() and the network that the sweep fills in itself.
MANAGED = frozenset(
    {"net", "train_data", "test_data", "validation", "verbose", "checkpoint", "resume",
     "overwrite", "callbacks", "input_size", "output_size", "self", "given"}
)  # fmt: skip
#: Settings of the data: which data (filled in by sweep), its size and its validation split.
DATA_SETTINGS = ("data", "train_size", "validation")
#: Defaults every run records, whatever its network (the command line's `xpnet train`).
CORE = {"net": DEFAULT_NET, "dtype": "float32", "seed": 0}
#: Required network keywords the sweep fills in when not given.
REQUIRED_DEFAULTS = {"hidden_size": 50}


def network_class(name: Any) -> type:
    """The network class called `name` in :mod:`xpnet.nets`."""
    choices = [n for n in nets.__all__ if isinstance(getattr(nets, n), type)]
    return getattr(nets, one_of(name, "net", choices))


def _parameters(func: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The keywords `func` takes, with their defaults; for ``train``, TrainConfig's fields."""
    if func is train:
        kind = inspect.Parameter.KEYWORD_ONLY
        return {
            name: inspect.Parameter(name, kind, default=default)
            for name, default in TrainConfig.defaults().items()
            if name not in MANAGED
        }
    return {
        name: p
        for name, p in inspect.signature(func).parameters.items()
        if name not in MANAGED and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def setting_names(net: str = DEFAULT_NET) -> dict[str, str]:
    """Every setting a run with network `net` accepts -> where it goes ("net", "train", "data")."""
    names = {name: "data" for name in DATA_SETTINGS}
    names["net"] = "sweep"
    for name in _parameters(train):
        names[name] = "train"
    for name in _parameters(network_class(net)):
        names[name] = "net+train" if names.get(name) == "train" else "net"
    return names


def _json_value(value: Any, name: str) -> Any:
    """`value` as a JSON scalar (or a list of them); an error for anything else."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise XpnetValueError(f"Setting `{name}` must be finite. Received: {value!r}.")
        return number
    if isinstance(value, list | tuple):
        return [_json_value(v, name) for v in value]
    raise XpnetTypeError(
        f"Setting `{name}` must be a number, a string, a bool, None or a list of those "
        f"(so that runs can be stored and compared). Received: {value!r} ({type(value).__name__})."
    )


def _canonical(name: str, value: Any, param: inspect.Parameter | None) -> Any:
    """Ints where the keyword takes a float become floats: lr=1 is lr=1.0.

    A keyword takes a float when its default is one, or when TrainConfig's
    field of that name is declared a float (``lr: float | None = None``).
    """
    value = _json_value(value, name)
    default = None if param is None else param.default
    field = TrainConfig.__dataclass_fields__.get(name)
    takes_float = isinstance(default, float) or "float" in str(getattr(field, "type", ""))
    if takes_float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _unknown(name: str, known: Mapping[str, str]) -> XpnetValueError:
    if name in MANAGED:
        return XpnetValueError(
            f"`{name}` is not a setting: the sweep fills it in for every run itself."
        )
    close = difflib.get_close_matches(name, list(known) + list(ALIASES), n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return XpnetValueError(
        f"Unknown setting `{name}`: neither the network nor xpnet.train() takes it.{hint} "
        f"Settings are: {', '.join(sorted(known))}."
    )


def _merge(point: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    both = sorted(set(point) & set(fixed))
    if both:
        raise XpnetValueError(
            f"Setting `{both[0]}` is both swept and fixed; give it in one place only."
        )
    return {**fixed, **point}


def resolve(
    point: Mapping[str, Any],
    fixed: Mapping[str, Any],
    *,
    data: str,
    backend: str,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The complete, checked settings of one run, as canonical JSON values.

    `data` names the data ("mnist" or a fingerprint of arrays); `backend` is
    used when the run does not choose one; `defaults` are the caller's (such
    as ``device="cuda"`` for GPU workers).
    """
    given = {**(defaults or {}), **_merge(point, fixed)}
    net_cls = network_class(given.get("net", DEFAULT_NET))
    known = setting_names(net_cls.__name__)
    net_params = _parameters(net_cls)
    params = {**_parameters(train), **net_params}
    for alias, targets in ALIASES.items():
        if alias in given:
            target = next((t for t in targets if t in known), alias)
            if target in given:
                raise XpnetValueError(f"`{alias}` and `{target}` name the same setting.")
            given[target] = given.pop(alias)
    settings = {**CORE, "backend": backend, "device": None, "data": data}
    settings.update({k: v for k, v in _core_train_defaults().items() if k in known})
    for name, value in REQUIRED_DEFAULTS.items():
        if name in net_params and net_params[name].default is inspect.Parameter.empty:
            settings[name] = value
    for name, value in given.items():
        if name not in known:
            raise _unknown(name, known)
        value = _canonical(name, value, params.get(name))
        if name in settings or params.get(name) is None or not _equal(value, params[name]):
            settings[name] = value
    _check(settings)
    return settings


def _core_train_defaults() -> dict[str, Any]:
    """iters, batch_size and lr with train()'s defaults: every run records them."""
    defaults = TrainConfig.defaults()
    return {name: defaults[name] for name in ("iters", "batch_size", "lr")}


def _equal(value: Any, param: inspect.Parameter) -> bool:
    if param.default is inspect.Parameter.empty:
        return False
    try:
        return json.dumps(value) == json.dumps(_json_value(param.default, param.name))
    except (XpnetTypeError, XpnetValueError):
        return False


def _check(settings: dict[str, Any]) -> None:
    """Check what can be checked before any run starts: training settings, backend, data."""
    fields = TrainConfig.defaults()
    TrainConfig(**{k: v for k, v in settings.items() if k in fields and k != "verbose"})
    one_of(settings["backend"], "backend", BACKENDS)
    if settings.get("train_size") is not None:
        positive_int(settings["train_size"], "train_size")
    if not isinstance(settings["dtype"], str):
        raise XpnetTypeError(f"`dtype` must be a name. Received: {settings['dtype']!r}.")


def run_key(settings: Mapping[str, Any]) -> str:
    """A stable key for a run: the SHA-256 of its settings as canonical JSON (32 hex digits)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Plan:
    """A run's settings, split by where they go."""

    net_class: type
    net_kwargs: dict[str, Any]
    train_kwargs: dict[str, Any]
    backend: str
    device: Any
    dtype: str
    train_size: int | None
    validation: float | None


def plan(settings: Mapping[str, Any]) -> Plan:
    """Split checked `settings` (see :func:`resolve`) into network and train() keywords."""
    net_cls = network_class(settings["net"])
    routes = setting_names(net_cls.__name__)
    net_kwargs, train_kwargs = {}, {}
    for name, value in settings.items():
        route = routes.get(name, "")
        if "net" in route.split("+") and name not in ("backend", "device", "dtype"):
            net_kwargs[name] = value
        if "train" in route.split("+"):
            train_kwargs[name] = value
    return Plan(
        net_class=net_cls,
        net_kwargs=net_kwargs,
        train_kwargs=train_kwargs,
        backend=settings["backend"],
        device=settings.get("device"),
        dtype=settings["dtype"],
        train_size=settings.get("train_size"),
        validation=settings.get("validation"),
    )
