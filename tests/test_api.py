"""The public surface is explicit and pinned."""

from __future__ import annotations

import pytest

import xpnet

pytestmark = pytest.mark.backend_independent


def test_public_names_exist_once() -> None:
    # Their order is ruff's RUF022 (isort-style) check.
    assert len(xpnet.__all__) == len(set(xpnet.__all__))
    for name in xpnet.__all__:
        assert hasattr(xpnet, name), name


def test_public_surface_is_pinned() -> None:
    assert set(xpnet.__all__) == {
        "AdaGrad", "Adam", "AdamW", "BACKENDS", "Backend", "DeepConvNet", "EarlyStopping", "History", "LayerNorm", "Momentum", "MultiLayerNet", "MultiLayerNetExtend", "Nesterov", "RMSprop", "SGD", "Sequential", "SimpleConvNet", "SimpleNet", "TrainConfig", "TwoLayerNet", "__version__", "asarray", "check_grads", "cross_entropy_error", "datasets", "errors", "get_backend", "gradcheck", "gradient_descent", "head", "identity_function", "layers", "load_mnist", "mean_squared_error", "minibatches", "namespace", "numerical_diff", "numerical_gradient", "optim", "random", "relu", "set_backend", "sigmoid", "softmax", "step_function", "sweep", "take_rows", "testing", "to_numpy", "train", "use_backend",
    }  # fmt: skip


def test_no_public_name_shadows_a_submodule() -> None:
    """`xpnet.train` is the function even after `import xpnet.training`; likewise every name."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(xpnet.__path__):
        if info.name == "__main__":
            continue
        module = importlib.import_module(f"xpnet.{info.name}")
        if info.name in xpnet.__all__:
            assert getattr(xpnet, info.name) is module, info.name
    assert callable(xpnet.train) and callable(xpnet.gradcheck) and callable(xpnet.check_grads)
    assert xpnet.training.load_history.__module__ == "xpnet.training.checkpoint"
