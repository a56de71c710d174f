"""The book's ``dataset/mnist.py``: ``load_mnist`` with its keywords, from xpnet's loader.

The arrays are made on the backend ``xpnet book run --backend`` chose (else
xpnet's current backend), from the IDX files in ``XPNET_DATA`` or xpnet's
cache (downloaded and verified when missing; see :func:`xpnet.load_mnist`).
Images are float32 in [0, 1] (``normalize=True``) or uint8; one-hot labels
are float32 (the book's are float64), integer labels the backend's index
dtype.
"""

from __future__ import annotations

from typing import Any

from ...datasets import default_data_dir, download_mnist
from ...datasets import load_mnist as _load_mnist

__all__ = [
    "dataset_dir",
    "download_mnist",
    "img_dim",
    "img_size",
    "init_mnist",
    "key_file",
    "load_mnist",
    "test_num",
    "train_num",
]

key_file = {
    "train_img": "train-images-idx3-ubyte.gz",
    "train_label": "train-labels-idx1-ubyte.gz",
    "test_img": "t10k-images-idx3-ubyte.gz",
    "test_label": "t10k-labels-idx1-ubyte.gz",
}
train_num, test_num = 60000, 10000
img_dim, img_size = (1, 28, 28), 784
dataset_dir = str(default_data_dir())


def init_mnist() -> None:
    """Fetch the four files into xpnet's data folder (the book builds a pickle; xpnet a cache)."""
    download_mnist()


def load_mnist(
    normalize: bool = True, flatten: bool = True, one_hot_label: bool = False
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """``(x_train, t_train), (x_test, t_test)`` on the current backend, as the book's."""
    return _load_mnist(normalize=normalize, flatten=flatten, one_hot_label=one_hot_label)
