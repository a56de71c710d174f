"""The book's networks, and the file format they (and checkpoints) are saved in.

* :class:`SimpleNet`: the one-layer example of the numerical gradient.
* :class:`TwoLayerNet`: the chapter's network, with a fast structured
  numerical gradient (:mod:`xpnet.numgrad`).
* :class:`MultiLayerNet`, :class:`MultiLayerNetExtend`: chapter 6's deeper
  networks, with batch normalisation and dropout; their numerical gradient
  uses the batched engine of :func:`xpnet.numerical_gradient`.
"""

from .multi_layer import MultiLayerNet, MultiLayerNetExtend
from .simple import SimpleNet
from .two_layer import TwoLayerNet

__all__ = ["MultiLayerNet", "MultiLayerNetExtend", "SimpleNet", "TwoLayerNet"]
