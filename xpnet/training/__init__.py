"""Training: the chapter's mini-batch loop, its settings, history and checkpoints.

* :func:`train` runs it; :class:`TrainConfig` holds and checks its settings;
  :class:`History` is what it measured.
* :func:`make_step` is the pure step every iteration calls.
* :class:`EarlyStopping` and :class:`Callback`: code called at every
  evaluation, which may stop the run (:mod:`xpnet.training.callbacks`).
* :func:`load_history` reads the history out of a checkpoint.
* :class:`Trainer` is the book's class: epochs of mini-batches, its printed lines.
"""

from .callbacks import Callback, EarlyStopping
from .checkpoint import load_history
from .config import TrainConfig
from .history import History
from .loop import train
from .signals import TrainingInterrupted
from .step import make_step
from .trainer import Trainer

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "TrainConfig",
    "Trainer",
    "TrainingInterrupted",
    "load_history",
    "make_step",
    "train",
]
