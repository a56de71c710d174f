"""xpnet: the neural-network-learning chapter of *Deep Learning from Scratch*,
written once against the Python array API standard.

The same code runs on NumPy, CuPy, PyTorch, JAX and array-api-strict. Pick a
backend with :func:`set_backend` / :func:`use_backend` (or ``XPNET_BACKEND``);
functions follow their input arrays.

Examples
--------
>>> import xpnet
>>> with xpnet.use_backend("numpy"):
...     y = xpnet.softmax(xpnet.asarray([[0.3, 2.9, 4.0]], dtype="float64"))
>>> xpnet.to_numpy(y).round(3)
array([[0.018, 0.245, 0.737]])
"""

# First: in the `xpnet` command, Ctrl-C while NumPy and the rest import is one line (_launch.py).
from . import _launch  # noqa: F401  # isort: skip
from . import datasets, errors, layers, optim, random, sweep, testing
from ._version import __version__
from .backend import (
    BACKENDS,
    Backend,
    asarray,
    get_backend,
    namespace,
    set_backend,
    to_numpy,
    use_backend,
)
from .batching import head, minibatches, take_rows
from .checking import check_grads, gradcheck
from .datasets import load_mnist
from .functions import (
    cross_entropy_error,
    identity_function,
    mean_squared_error,
    relu,
    sigmoid,
    softmax,
    step_function,
)
from .gradient import gradient_descent, numerical_diff, numerical_gradient
from .layers import LayerNorm
from .nets import (
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    Sequential,
    SimpleConvNet,
    SimpleNet,
    TwoLayerNet,
)
from .optim import SGD, AdaGrad, Adam, AdamW, Momentum, Nesterov, RMSprop
from .training import EarlyStopping, History, TrainConfig, train

__all__ = [
    "BACKENDS",
    "SGD",
    "AdaGrad",
    "Adam",
    "AdamW",
    "Backend",
    "DeepConvNet",
    "EarlyStopping",
    "History",
    "LayerNorm",
    "Momentum",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "Nesterov",
    "RMSprop",
    "Sequential",
    "SimpleConvNet",
    "SimpleNet",
    "TrainConfig",
    "TwoLayerNet",
    "__version__",
    "asarray",
    "check_grads",
    "cross_entropy_error",
    "datasets",
    "errors",
    "get_backend",
    "gradcheck",
    "gradient_descent",
    "head",
    "identity_function",
    "layers",
    "load_mnist",
    "mean_squared_error",
    "minibatches",
    "namespace",
    "numerical_diff",
    "numerical_gradient",
    "optim",
    "random",
    "relu",
    "set_backend",
    "sigmoid",
    "softmax",
    "step_function",
    "sweep",
    "take_rows",
    "testing",
    "to_numpy",
    "train",
    "use_backend",
]
