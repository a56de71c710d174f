"""The exceptions xpnet raises on purpose.

Every error that xpnet raises about its input, its environment or its files
is an :class:`XpnetError`. Most also subclass the built-in exception that
says what went wrong (``ValueError`` for a bad value, ``TypeError`` for a bad
type, ``ImportError`` for a missing library…), so ``except ValueError`` keeps
working. The command line turns these, and only these, into one line and
exit status 2; anything else is a bug in xpnet and shows its traceback.

Examples
--------
>>> import xpnet
>>> try:
...     xpnet.use_backend("tensorflow").__enter__()
... except xpnet.errors.XpnetError as err:
...     print(type(err).__name__, isinstance(err, ValueError))
BackendError True
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackendError",
    "CheckpointError",
    "ClusterError",
    "DataError",
    "DeviceNotAvailableError",
    "DivergenceWarning",
    "GradientCheckError",
    "NotInstalledError",
    "OutputError",
    "ProbabilityWarning",
    "ResumeWarning",
    "TrainingDivergedError",
    "XpnetError",
    "XpnetTypeError",
    "XpnetValueError",
    "XpnetWarning",
]


class XpnetError(Exception):
    """Base class of every error xpnet raises on purpose."""


class XpnetValueError(XpnetError, ValueError):
    """An argument has the right type but a value that is not allowed."""


class XpnetTypeError(XpnetError, TypeError):
    """An argument has the wrong type (or dtype)."""


class BackendError(XpnetValueError):
    """An unknown backend name, or a device the backend does not have."""


class NotInstalledError(XpnetError, ImportError):
    """An optional library (a backend, matplotlib…) is missing; the message says what to install."""


class DeviceNotAvailableError(XpnetError, RuntimeError):
    """The device exists in principle but not on this machine (no GPU, wrong index)."""


class DataError(XpnetValueError):
    """A data file is missing, damaged or could not be downloaded."""


class CheckpointError(XpnetValueError):
    """A file is not an xpnet network or checkpoint, was tampered with, or is in use."""


class OutputError(XpnetError, OSError):
    """An output file cannot be written; whatever was there before is left intact."""


class TrainingDivergedError(XpnetError, FloatingPointError):
    """The training loss stopped being finite (or the run diverged)."""


class XpnetWarning(UserWarning):
    """Base class of the warnings xpnet gives (filter them with this class)."""


class ProbabilityWarning(XpnetWarning):
    """A loss that expects probabilities received values that are not (use softmax)."""


class DivergenceWarning(XpnetWarning):
    """Training is diverging: the loss climbs far above its start, or accuracy stays at chance."""


class ResumeWarning(XpnetWarning):
    """A resumed run took settings it was not given from its checkpoint."""


class ClusterError(XpnetError, ConnectionError):
    """A Dask scheduler did not answer, or the cluster lost the runs given to it."""


class GradientCheckError(XpnetError, AssertionError):
    """A claimed gradient differs from its finite-difference estimate beyond the tolerance.

    Raised by :func:`xpnet.check_grads` and the checks built on it. It is an
    ``AssertionError``: the arguments were valid, the gradient code is what
    failed, so ``unittest`` counts it as a failure (not an error) and
    ``except AssertionError`` in a test harness sees it. It is raised
    explicitly, so ``python -O`` does not turn it off. `report` is the
    :class:`xpnet.checking.GradientCheckReport`; the message is its text.
    """

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report
