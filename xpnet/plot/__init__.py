"""Figures: the chapter's gradient pictures and learning curves, and chapter 6's.

matplotlib is an optional extra (``pip install 'xpnet[plot]'``), imported on
first use. Figures are made with matplotlib's object API and the Agg canvas,
so they work without a display and never touch pyplot's global state.

Examples
--------
>>> from xpnet.training import History
>>> h = History(train_loss=[2.3, 1.0, 0.5], eval_iters=[0, 2],
...             train_acc=[0.1, 0.8], test_acc=[0.1, 0.79])
>>> fig = learning_curves(h)  # doctest: +SKIP
>>> fig.savefig("curves.png")  # doctest: +SKIP
>>> show(fig)  # in a notebook, a window, or a PNG file  # doctest: +SKIP
"""

from ._figure import check_format, save_figure, show
from .chapter4 import descent_path, gradient_field, learning_curves
from .chapter6 import OPTIMIZER_RATES, compare_curves, optimizer_paths, weight_init_histograms
from .chapter7 import conv_filters, misclassified
from .sweep import sweep_accuracy

__all__ = [
    "OPTIMIZER_RATES",
    "check_format",
    "compare_curves",
    "conv_filters",
    "descent_path",
    "gradient_field",
    "learning_curves",
    "misclassified",
    "optimizer_paths",
    "save_figure",
    "show",
    "sweep_accuracy",
    "weight_init_histograms",
]
