"""The book's ``common/multi_layer_net.py``: :class:`xpnet.MultiLayerNet`.

The book's signature, parameter names (``W1``, ``b1``…) and methods; the
arrays live on the backend ``xpnet book run --backend`` chose.
"""

from __future__ import annotations

import numpy as np

from ...nets import MultiLayerNet

__all__ = ["MultiLayerNet", "np"]
