"""The public surface is explicit and pinned."""

from __future__ import annotations

import xpnet


def test_public_names_are_sorted_and_exist() -> None:
    assert xpnet.__all__ == sorted(xpnet.__all__)
    for name in xpnet.__all__:
        assert hasattr(xpnet, name), name


def test_public_surface_is_pinned() -> None:
    assert set(xpnet.__all__) == {
        "BACKENDS", "Backend", "__version__", "asarray", "cross_entropy_error", "get_backend",
        "gradient_descent", "identity_function", "mean_squared_error", "numerical_diff",
        "numerical_gradient", "random", "relu", "set_backend", "sigmoid", "softmax",
        "step_function", "to_numpy", "use_backend",
    }  # fmt: skip
