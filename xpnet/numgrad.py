"""The chapter's numerical gradient of a two-layer network, computed fast and exactly.

``TwoLayerNet.numerical_gradient`` needs, for each of its parameters p (79,510
for 784-50-10), the loss at p + h and at p - h: two full forward passes each,
some 159,000 of them per gradient. This module computes the same central
differences ``(L(p + h) - L(p - h)) / 2h`` from one forward pass, using the
network's structure:

* a perturbation changes only part of the forward pass: ``b2[k]`` and
  ``W2[j, k]`` change one score column; ``b1[j]`` and ``W1[i, j]`` change one
  hidden unit, so each sample's scores move by ``u * W2[j, :]`` where
  ``u = act(a + v) - act(a)`` is the change of that unit's output;
* the loss is an average over samples, so each parameter's difference is a
  sum over samples of per-sample loss differences, and a sample whose input
  pixel ``x[n, i]`` is 0 does not see ``W1[i, j]`` at all (about 80% of MNIST's
  pixels): its difference is exactly 0 and is skipped;
* softmax reuses what was computed: with ``E = exp(s - max(s))`` of the
  unperturbed scores, moving score k by d gives the denominator
  ``sum(E) + E[k] * expm1(d)``, and moving all scores by ``u * w`` gives
  ``sum_c E[c] exp(u w[c]) = sum_q u**q / q! * M_q`` with the moments
  ``M_q = E @ (W2**q).T`` computed once. The series is cut after the first
  term whose tail is provably below 2**-60 relative (``|u w|`` is about 1e-5 for
  MNIST, so 4 terms suffice); where that bound fails, the exponentials are
  evaluated directly.

Each per-sample loss is therefore the same number as the one-at-a-time loop
computes, up to floating-point rounding, and so is each gradient component.
All arrays are processed in chunks bounded by a memory budget.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

from .backend import device
from .functions import LOG_EPS

__all__ = ["two_layer_numerical_gradient"]

#: Memory for the temporary arrays of one chunk.
BUDGET_BYTES = 64 * 2**20
#: Truncating the moment series is allowed when its relative tail is below this.
SERIES_TOLERANCE = 2.0**-60
MAX_SERIES_TERMS = 8


class _Forward:
    """The unperturbed forward pass and what the perturbed losses reuse."""

    def __init__(
        self, xp: ModuleType, params: dict[str, Any], activation: Any, x: Any, labels: Any
    ) -> None:
        self.xp, self.activation = xp, activation
        self.W2 = params["W2"]
        self.x = xp.reshape(x, (x.shape[0], -1))
        self.a = self.x @ params["W1"] + params["b1"]  # (N, H)
        self.z = activation.function(self.a, xp=xp)
        s = self.z @ self.W2 + params["b2"]  # (N, C)
        self.E = xp.exp(s - xp.max(s, axis=1, keepdims=True))
        self.S = xp.sum(self.E, axis=1)  # (N,)
        classes = xp.arange(s.shape[1], dtype=labels.dtype, device=device(s))
        self.target = labels[:, None] == classes[None, :]  # (N, C) bool
        self.E_t = xp.sum(xp.where(self.target, self.E, xp.zeros_like(self.E)), axis=1)  # (N,)
        self.w_t = xp.matrix_transpose(xp.take(self.W2, labels, axis=1))  # (N, H): W2[j, t_n]
        self.itemsize = xp.finfo(s.dtype).bits // 8
        self._moment_cache: list[Any] = []

    # -- per-sample loss differences L(+step) - L(-step) ---------------------------

    def score_shift_difference(self, d: Any) -> Any:
        """Each sample's loss change when its score k moves by ``+d`` versus ``-d``.

        `d` broadcasts to (..., N, C); ``sum(E)`` becomes ``S + E[k] expm1(d)``.
        """
        xp = self.xp

        def loss(shift: Any) -> Any:
            denominator = self.S[:, None] + self.E * xp.expm1(shift)
            numerator = self.E_t[:, None] * xp.where(
                self.target, xp.exp(shift), xp.ones_like(shift)
            )
            return -xp.log(numerator / denominator + LOG_EPS)

        return loss(d) - loss(-d)

    def hidden_shift_difference(self, rows: Any, v: Any) -> Any:
        """Loss change of sample ``rows[m]`` when hidden pre-activation j moves by +v versus -v.

        `v` broadcasts to (M, H); the result is (M, H). What does not depend
        on the sign is gathered once.
        """
        xp = self.xp
        a, z = xp.take(self.a, rows, axis=0), xp.take(self.z, rows, axis=0)
        e_t, w_t = xp.take(self.E_t, rows)[:, None], xp.take(self.w_t, rows, axis=0)
        u_plus, u_minus = self._output_change(a, z, v), self._output_change(a, z, -v)
        r = max(_max_abs(xp, u_plus), _max_abs(xp, u_minus)) * _max_abs(xp, self.W2)
        terms = _series_terms(r)
        moments = (
            None if terms is None else [xp.take(m, rows, axis=0) for m in self._moments(terms)]
        )
        e_rows = xp.take(self.E, rows, axis=0) if terms is None else None

        def loss(u: Any) -> Any:
            if moments is None:  # large steps: the exponentials directly, (M, H, C)
                factors = xp.exp(u[:, :, None] * self.W2[None, :, :])
                denominator = xp.sum(e_rows[:, None, :] * factors, axis=2)  # type: ignore[index]
            else:  # Horner's rule on sum_q u**q M_q / q!
                denominator = moments[-1]
                for m in moments[-2::-1]:
                    denominator = denominator * u + m
            return -xp.log(e_t * xp.exp(u * w_t) / denominator + LOG_EPS)

        return loss(u_plus) - loss(u_minus)

    def _output_change(self, a: Any, z: Any, v: Any) -> Any:
        """``act(a + v) - act(a)``, with ``z = act(a)``: the activation layer's ``change``.

        The sigmoid's is written without cancellation, with one ``expm1`` per
        input pixel instead of one sigmoid per pixel and hidden unit.
        """
        return self.activation.change(self.xp, a, z, v)

    def _moments(self, terms: int) -> list[Any]:
        """``M_q / q! = E @ (W2**q).T / q!`` for q = 0..terms, each computed once.

        The denominator of the softmax after hidden unit j's output moves by
        u is ``sum_c E[c] exp(u W2[j, c]) = sum_q u**q M_q[:, j] / q!``.
        """
        xp = self.xp
        while len(self._moment_cache) <= terms:
            q = len(self._moment_cache)
            power = xp.ones_like(self.W2) if q == 0 else self.W2**q
            self._moment_cache.append(self.E @ xp.matrix_transpose(power) / math.factorial(q))
        return self._moment_cache[: terms + 1]


def _max_abs(xp: ModuleType, u: Any) -> float:
    return float(xp.max(xp.abs(u))) if math.prod(u.shape) else 0.0


def _series_terms(r: float) -> int | None:
    """Smallest Q with r**(Q+1) e**(2r) / (Q+1)! below the tolerance, or None.

    For every sample, ``|sum_{q>Q} (u w_c)**q / q!| <= r**(Q+1) e**r / (Q+1)!``
    times ``E[c]``, and ``sum_c E[c] <= e**r * D``, so this bounds the error of
    the truncated denominator D relative to D itself.
    """
    if r == 0.0:
        return 0
    for q in range(1, MAX_SERIES_TERMS + 1):
        if r ** (q + 1) * math.exp(2 * r) / math.factorial(q + 1) < SERIES_TOLERANCE:
            return q
    return None


def two_layer_numerical_gradient(
    xp: ModuleType,
    params: dict[str, Any],
    activation: Any,
    x: Any,
    labels: Any,
    h: float,
    budget_bytes: int = BUDGET_BYTES,
) -> dict[str, Any]:
    """Central-difference gradients of a TwoLayerNet's loss, as the one-at-a-time loop gives.

    Parameters
    ----------
    xp : namespace
    params : dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)
    activation : an activation layer (:data:`xpnet.layers.ACTIVATIONS`)
        Its ``function`` and ``change(xp, a, z, v) = f(a + v) - f(a)``.
    x : array (N, D) (or (N, ...) flattening to D)
    labels : integer array (N,), valid class indices
    h : the finite-difference step
    budget_bytes : memory for one chunk's temporaries
    """
    fwd = _Forward(xp, params, activation, x, labels)
    n = fwd.x.shape[0]
    scale = 2 * h * n
    grads = {}
    # b2[k]: every sample's score k moves by +-h.
    diff = fwd.score_shift_difference(xp.full_like(fwd.E, h))
    grads["b2"] = xp.sum(diff, axis=0) / scale
    # W2[j, k]: sample n's score k moves by +-h z[n, j]; shape (H, N, C).
    step = h * xp.matrix_transpose(fwd.z)[:, :, None] * xp.ones_like(fwd.E)[None, :, :]
    diff = fwd.score_shift_difference(step)
    grads["W2"] = xp.sum(diff, axis=1) / scale
    # b1[j]: every sample's hidden pre-activation j moves by +-h.
    rows = xp.arange(n, device=device(fwd.E))
    step = xp.full((1, 1), h, dtype=fwd.E.dtype, device=device(fwd.E))
    diff = fwd.hidden_shift_difference(rows, step)
    grads["b1"] = xp.sum(diff, axis=0) / scale
    grads["W1"] = _w1_gradient(xp, fwd, h, budget_bytes) / scale
    return {name: grads[name] for name in ("W1", "b1", "W2", "b2")}


def _w1_gradient(xp: ModuleType, fwd: _Forward, h: float, budget_bytes: int) -> Any:
    """Sum over samples of loss differences for every W1[i, j], skipping zero pixels.

    W1[i, j] moves hidden pre-activation j of sample n by ``x[n, i] * h``; for
    ``x[n, i] == 0`` nothing changes, exactly. The nonzero (sample, pixel)
    pairs are evaluated, then put back on the dense (sample, pixel) grid with
    a gather (zeros elsewhere) and summed over samples.
    """
    n, d = fwd.x.shape
    hidden = fwd.a.shape[1]
    dev = device(fwd.x)
    # ~16 temporaries of (pairs, H) plus the dense (samples * D, H) grid per chunk.
    per_sample = d * hidden * fwd.itemsize * 17
    step = max(1, budget_bytes // per_sample)
    total = xp.zeros((d, hidden), dtype=fwd.x.dtype, device=dev)
    for start in range(0, n, step):
        x_chunk = fwd.x[start : min(start + step, n), ...]
        flat = xp.reshape(x_chunk, (-1,))
        present = flat != 0
        (where,) = xp.nonzero(present)
        pairs = where.shape[0]
        # Pad the pairs to one of a few sizes so that backends which compile per
        # shape (JAX) reuse their kernels. Padded pairs move nothing (v = 0), so
        # their differences are exactly 0; the first of them is the zero row
        # that absent pixels point to below.
        padding = xp.zeros(_bucket(pairs) - pairs, dtype=where.dtype, device=dev)
        rows = xp.concat([where // d + start, padding])
        v = xp.concat([xp.take(flat, where), xp.astype(padding, flat.dtype)])[:, None] * h
        diff = fwd.hidden_shift_difference(rows, v)
        # Dense slot s holds pair cumsum(present)[s] - 1, or the zero row for absent pixels.
        slot = xp.where(present, xp.cumulative_sum(xp.astype(present, where.dtype)) - 1, pairs)
        dense = xp.reshape(xp.take(diff, slot, axis=0), (x_chunk.shape[0], d, hidden))
        total = total + xp.sum(dense, axis=0)
    return total


def _bucket(pairs: int) -> int:
    """A size above `pairs` from a short list: eight steps per power of two."""
    quantum = max(1, 2 ** ((pairs + 1).bit_length() - 4))
    return -(-(pairs + 1) // quantum) * quantum
