"""Seeded draws: the same numbers on every backend, in the requested dtype."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_array, assert_close, dtype_name

import xpnet
from xpnet.backend import index_dtype


def test_normal_matches_numpy_generator(backend, dtype) -> None:
    """float64 draws are NumPy's float64 draws; float32 ones are drawn in float32 directly."""
    w = xpnet.random.default_rng(42).normal((3, 4), scale=0.01, dtype=dtype)
    host = np.float64 if dtype_name(backend.xp, dtype) == "float64" else np.float32
    expected = np.random.default_rng(42).standard_normal((3, 4), dtype=host) * host(0.01)
    assert_close(w, expected, backend=backend, dtype=dtype, rtol=0)


def test_normal_defaults_to_float32(backend) -> None:
    w = xpnet.random.default_rng(0).normal(5)
    assert_array(w, backend=backend, dtype=backend.xp.float32, shape=(5,))


def test_integers_choice_permutation(backend) -> None:
    idx = xpnet.random.default_rng(1).integers(60000, (100,))
    expected = np.random.default_rng(1).integers(0, 60000, size=100)
    assert_close(idx, expected, backend=backend, dtype=index_dtype(backend.xp, backend.device))
    perm = xpnet.random.default_rng(2).permutation(10)
    assert_close(
        perm,
        np.random.default_rng(2).permutation(10),
        backend=backend,
        dtype=index_dtype(backend.xp, backend.device),
    )
    picks = xpnet.random.default_rng(3).choice(10, 5, replace=False)
    assert sorted(set(xpnet.to_numpy(picks).tolist())) == sorted(xpnet.to_numpy(picks).tolist())


@pytest.mark.usefixtures("backend")  # draws arrays on the current backend
def test_state_round_trip() -> None:
    rng = xpnet.random.default_rng(5)
    state = rng.get_state()
    first = xpnet.to_numpy(rng.integers(100, 10))
    rng.set_state(state)
    np.testing.assert_array_equal(xpnet.to_numpy(rng.integers(100, 10)), first)


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"`seed` must be non-negative\. Received: -1"):
        xpnet.random.default_rng(-1)
    with pytest.raises(TypeError, match="`seed` must be an int"):
        xpnet.random.default_rng(1.5)  # type: ignore[arg-type]
    rng = xpnet.random.default_rng(0)
    with pytest.raises(ValueError, match="`shape` must not have negative sizes"):
        rng.normal((2, -1))
    with pytest.raises(ValueError, match="`high` must be positive"):
        rng.integers(0, 3)
    with pytest.raises(ValueError, match="`state` is not a saved xpnet Generator state"):
        rng.set_state("{}")
