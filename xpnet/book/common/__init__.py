"""The book's ``common`` package, answered by xpnet (see :mod:`xpnet.book`).

Each module has the names of the book's module of the same name, with the
book's signatures, backed by xpnet: ``functions``, ``gradient``, ``layers``,
``optimizer``, ``multi_layer_net``, ``multi_layer_net_extend``, ``trainer``
and ``util``.
"""
