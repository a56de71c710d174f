"""The book's ``common/multi_layer_net_extend.py``: :class:`xpnet.MultiLayerNetExtend`.

The book's signature (``use_dropout``, ``dropout_ration``, ``use_batchnorm``),
parameter names and methods; batch normalisation's running statistics and
the dropout key are in ``net.buffers``.
"""

from __future__ import annotations

import numpy as np

from ...nets import MultiLayerNetExtend

__all__ = ["MultiLayerNetExtend", "np"]
