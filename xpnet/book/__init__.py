"""The book's own scripts on any backend: ``common`` and ``dataset`` answered by xpnet.

A reader with the book's repository checked out runs a chapter's script
unchanged::

    xpnet book run ch06/optimizer_compare_mnist.py --backend torch
    python -m xpnet.book run ch04/train_neuralnet.py --backend jax

The script's ``from common.layers import Affine``, ``from common.trainer
import Trainer`` and ``from dataset.mnist import load_mnist`` get xpnet's
classes and functions with the book's names and signatures
(:mod:`xpnet.book.common`, :mod:`xpnet.book.dataset`), on the backend chosen.
The book's files are never needed nor read. Which chapters' scripts run on
which backend is measured and listed in the documentation ("The book's own
scripts"); where one cannot, the error names the script's line and the fix.
"""

from ._runner import BOOK_MODULES, BookScriptError, book_modules, run

__all__ = ["BOOK_MODULES", "BookScriptError", "book_modules", "run"]
