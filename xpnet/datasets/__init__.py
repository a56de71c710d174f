"""Datasets: MNIST, read from local IDX files or downloaded and verified.

``_idx`` parses and checks IDX files, ``_folder`` finds the data folder and
the files in it, ``_download`` fetches missing files through pooch, and
``mnist`` loads them onto a backend through a ``.npy`` cache.
"""

from .mnist import MIRRORS, MnistError, default_data_dir, download_mnist, load_mnist, read_idx

__all__ = ["MIRRORS", "MnistError", "default_data_dir", "download_mnist", "load_mnist", "read_idx"]
