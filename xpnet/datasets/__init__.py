"""Datasets: MNIST, read from local IDX files or downloaded and verified."""

from .mnist import MIRRORS, MnistError, default_data_dir, download_mnist, load_mnist, read_idx

__all__ = ["MIRRORS", "MnistError", "default_data_dir", "download_mnist", "load_mnist", "read_idx"]
