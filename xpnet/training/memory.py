"""What a training run needs in memory, known before it starts; evaluations in bounded chunks.

A run holds the parameters, their gradients, the optimizer's state (and, in
a pure step, the new copies of both), the activations of one mini-batch in
the forward and backward passes, and the activations of one chunk of an
evaluation. :func:`check_training_memory` adds them up from the network's
shapes and refuses, in one line, a run that cannot fit where its arrays
live. :func:`evaluation_rows` sizes the chunks, so that evaluating 60,000
images through a wide network never holds all their activations at once.

Examples
--------
>>> from xpnet import TwoLayerNet
>>> net = TwoLayerNet(784, 50, 10, backend="numpy")
>>> evaluation_rows(net, 70000)  # small activations: the whole set in one pass
70000
"""

from __future__ import annotations

import math
from typing import Any

from .._memory import format_bytes
from ..backend import check_memory

__all__ = ["EVALUATION_BYTES", "check_training_memory", "evaluation_rows"]

#: Memory one chunk of an evaluation may take for its activations.
EVALUATION_BYTES = 256 * 2**20
#: Arrays per activation element in a training pass (outputs, caches, gradients, temporaries).
TRAIN_COPIES = 4
#: ... and in a test-mode pass (outputs and temporaries).
EVAL_COPIES = 2


def _itemsize(net: Any) -> int:
    first = next(iter(net.params.values()))
    return int(net.backend.xp.finfo(first.dtype).bits // 8)


def _activations_per_sample(net: Any) -> int:
    """Activation elements of one sample through the network (its layers' outputs)."""
    sizes = getattr(net, "activation_sizes", None)
    return sum(sizes()) if callable(sizes) else net.input_size + net.output_size


def evaluation_rows(net: Any, n: int) -> int:
    """Samples per chunk of an evaluation of `n`: all of them, unless that passes the budget."""
    per_row = _activations_per_sample(net) * _itemsize(net) * EVAL_COPIES
    return max(1, min(n, EVALUATION_BYTES // max(per_row, 1)))


def check_training_memory(net: Any, optimizer: Any, batch_size: int, in_place: bool) -> None:
    """Refuse, before training, a run whose arrays cannot fit (naming the estimate).

    Counted: parameters, their gradients, the optimizer's state (one array
    per parameter and slot) and, for a pure step, new copies of both; the
    activations of a batch of `batch_size`; those of an evaluation chunk.
    """
    itemsize = _itemsize(net)
    params = sum(math.prod(v.shape) for v in net.params.values()) * itemsize
    slots = len(getattr(optimizer, "slots", ()))
    state = params * slots
    copies = 0 if in_place else params + state
    per_row = _activations_per_sample(net) * itemsize
    batch = per_row * batch_size * TRAIN_COPIES
    evaluation = min(EVALUATION_BYTES, per_row * EVAL_COPIES * batch_size)
    sizes = [params, params, state, copies, batch, evaluation]
    name = type(optimizer).__name__
    check_memory(
        net.backend, [s for s in sizes if s],
        f"Training {type(net).__name__} with {name} and batches of {batch_size} (parameters "
        f"{format_bytes(params)}, their gradients, {slots} optimizer arrays each, activations "
        f"{format_bytes(batch)})",
        hint="use a smaller network or batch, or an optimizer with less state (sgd)",
    )  # fmt: skip
