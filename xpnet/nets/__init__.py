"""The chapter's networks, and the file format they (and checkpoints) are saved in.

* :class:`SimpleNet`: the one-layer example of the numerical gradient.
* :class:`TwoLayerNet`: the chapter's network, with a fast structured
  numerical gradient (:mod:`xpnet.numgrad`).
"""

from .simple import SimpleNet
from .two_layer import TwoLayerNet

__all__ = ["SimpleNet", "TwoLayerNet"]
