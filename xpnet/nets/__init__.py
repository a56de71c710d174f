"""The book's networks, built from one base, and the file format they (and checkpoints) use.

* :class:`Network`: what every network has once (checks, the book's methods,
  gradients, weight decay, save/load);
* :class:`Sequential`: a network from a list of layers (:mod:`xpnet.layers`);
* :class:`TwoLayerNet`: the chapter's network, with a fast structured
  numerical gradient (:mod:`xpnet.numgrad`);
* :class:`MultiLayerNet`, :class:`MultiLayerNetExtend`: chapter 6's deeper
  networks, with batch normalisation and dropout;
* :class:`SimpleConvNet`, :class:`DeepConvNet`: chapters 7 and 8's
  convolutional networks;
* :class:`SimpleNet`: the one-layer example of the numerical gradient.
"""

from ._network import Network
from ._sequential import Sequential
from .conv import DeepConvNet, SimpleConvNet
from .multi_layer import MultiLayerNet, MultiLayerNetExtend
from .simple import SimpleNet
from .two_layer import TwoLayerNet

__all__ = [
    "DeepConvNet",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "Network",
    "Sequential",
    "SimpleConvNet",
    "SimpleNet",
    "TwoLayerNet",
]
